// Facts about paths on a host: their type, mode, owner and checksum; a file's content; whether a glob matches.
import { defineFact, type FactCall } from '../src/fact.ts'
import type { Target } from '../src/task.ts'

export interface RemoteFile {
  exists: boolean
  type?: 'file' | 'directory' | 'link' | 'other'
  mode?: number
  owner?: string
  group?: string
  uid?: number
  gid?: number
  size?: number
  sha256?: string
}

/**
 * `stat` (following links) of each path and, for a readable regular file asked with 1, its sha256: one `stat`
 * and one `sha256sum` for all the paths, however many (each costs a process start on the host, more than the
 * reading). Args: pairs 0|1 PATH; every call of it in one gather runs as one (perItem).
 */
export const FileStats = defineFact<RemoteFile[]>({
  name: 'file_stats',
  perItem: 2,
  // Prints a line of one flag per path (- absent, e exists, f exists and summed), stat's line for each
  // existing path, then sha256sum's line for each summed one. The positional parameters are rebuilt in place:
  // the paths that exist, then of those the ones to sum.
  script: `fl=; ex=; n=$(($# / 2))
while [ "$n" -gt 0 ]; do
  if [ ! -e "$2" ]; then fl=$fl-
  elif [ "$1" = 1 ] && [ -f "$2" ] && [ -r "$2" ]; then fl=\${fl}f; ex=\${ex}f; set -- "$@" "$2"
  else fl=\${fl}e; ex=\${ex}e; set -- "$@" "$2"; fi
  shift 2; n=$((n - 1))
done
printf '%s\n' "$fl"
[ $# = 0 ] || stat -L -c '%F|%a|%U|%G|%u|%g|%s' -- "$@" || exit 1
n=$#
while [ "$n" -gt 0 ]; do case $ex in f*) set -- "$@" "$1" ;; esac; ex=\${ex#?}; shift; n=$((n - 1)); done
[ $# = 0 ] || sha256sum -- "$@" || exit 1`,
  parse(stdout, code, args) {
    if (code !== 0) throw new Error(`stat failed (exit ${code})`)
    const paths = args.filter((_, i) => i % 2 === 1)
    const [flags = '', ...lines] = stdout.split('\n')
    if (!new RegExp(`^[-ef]{${paths.length}}$`).test(flags))
      throw new Error(`unexpected first line for ${paths.join(' ')}: ${flags}`)
    const stats = lines.slice(0, flags.replace(/-/g, '').length)
    // sha256sum's line: the sum, two spaces, the path (a backslash first when the path has one to escape)
    const sums = lines.slice(stats.length).map((line) => line.replace(/^\\/, '').split(' ')[0]!)
    return paths.map((path, i) => {
      if (flags[i] === '-') return { exists: false }
      const line = stats.shift()
      if (line === undefined) throw new Error(`no line for ${path}`)
      const [kind = '', mode, owner, group, uid, gid, size] = line.split('|')
      if (size === undefined || !/^[0-7]+$/.test(mode ?? ''))
        throw new Error(`unexpected stat line for ${path}: ${line}`)
      const sum = flags[i] === 'f' ? sums.shift() : undefined
      if (flags[i] === 'f' && !/^[0-9a-f]{64}$/.test(sum ?? '')) throw new Error(`no sha256 for ${path}`)
      const type =
        kind === 'regular file' || kind === 'regular empty file'
          ? 'file'
          : kind === 'directory'
            ? 'directory'
            : kind === 'symbolic link'
              ? 'link'
              : 'other'
      return {
        exists: true,
        type,
        mode: parseInt(mode!, 8),
        owner: owner!,
        group: group!,
        uid: Number(uid),
        gid: Number(gid),
        size: Number(size),
        ...(sum !== undefined ? { sha256: sum } : {}),
      }
    })
  },
})

/** FileStats for some paths: one remote command whatever their number. */
export function statFiles(host: Target, paths: string[], checksum = false): Promise<RemoteFile[]> {
  return host.gather(statCall(paths, checksum)).then(([stats]) => stats)
}

/** The call statFiles makes, for a task's `reads`. */
export function statCall(paths: string[], checksum = false): FactCall<RemoteFile[]> {
  return [FileStats, ...paths.flatMap((path) => [checksum ? '1' : '0', path])]
}

/** A file's content, undefined when the path does not exist. Args: PATH. */
export const FileContent = defineFact<string | undefined>({
  name: 'file_content',
  script: '[ -e "$1" ] || exit 3; cat -- "$1"',
  parse(stdout, code, [path]) {
    if (code === 3) return undefined
    if (code !== 0) throw new Error(`cannot read ${path} (exit ${code})`)
    return stdout
  },
})

/**
 * Whether a glob matches an existing path (creates/removes of command and shell), relative to DIR when given.
 * The pattern is an argument, never part of the script: with IFS empty, $1 is globbed but not split, and
 * nothing in it is run. Args: GLOB [DIR].
 */
export const GlobMatches = defineFact<boolean>({
  name: 'glob_matches',
  script: 'IFS=; if [ -n "$2" ]; then cd -- "$2" || exit 2; fi; for f in $1; do [ -e "$f" ] && exit 0; done; exit 1',
  parse: (_stdout, code) => code === 0,
})

/** What Ansible's stat module reports of a path (ansible/modules/stat.py), undefined when it does not exist. */
export interface PathStatus {
  /** st_mode as stat(2) gives it: type and permission bits. */
  mode: number
  uid: number
  gid: number
  size: number
  inode: number
  dev: number
  nlink: number
  atime: number
  mtime: number
  ctime: number
  blocks: number
  blockSize: number
  deviceType: number
  owner?: string
  group?: string
  readable: boolean
  writeable: boolean
  executable: boolean
  /** For a link: where it points (readlink) and the real path it leads to. */
  linkTarget?: string
  linkSource?: string
  checksum?: string
  mime?: { type: string; charset: string }
  /** lsattr's version and flags, when the filesystem has them. */
  attributes?: { version: string; flags: string }
}

/**
 * stat(2) of a path (lstat unless $1 is 1), the access the login user has, a link's target, the file's
 * checksum with the given algorithm ($2: md5, sha1, sha256 ... or none) when it is a readable regular file,
 * `file`'s MIME type when $3 is 1 and lsattr's flags when $4 is 1. Args: FOLLOW ALGORITHM MIME ATTRIBUTES PATH.
 */
export const PathStat = defineFact<PathStatus | undefined>({
  name: 'path_stat',
  script: `p=$5; o=; [ "$1" = 1 ] && o=-L
{ [ -e "$p" ] || [ -L "$p" ]; } || exit 3
stat $o -c '%f|%u|%g|%s|%i|%d|%h|%.9X|%.9Y|%.9Z|%b|%B|%t,%T|%U|%G' -- "$p" || exit 1
a=; [ -r "$p" ] && a=r; [ -w "$p" ] && a=$a"w"; [ -x "$p" ] && a=$a"x"; echo "access $a"
[ -L "$p" ] && [ "$1" != 1 ] && { echo "link $(readlink -- "$p")"; echo "real $(realpath -m -- "$p")"; }
if [ "$2" != none ] && [ -r "$p" ] && { [ -f "$p" ] && { [ "$1" = 1 ] || [ ! -L "$p" ]; }; }; then
  echo "checksum $("$2"sum -- "$p" | cut -d' ' -f1)"; fi
[ "$3" = 1 ] && command -v file >/dev/null && echo "mime $(file -b --mime-type --mime-encoding -- "$p")"
[ "$4" = 1 ] && l=$(lsattr -vd -- "$p" 2>/dev/null) && echo "attr $l"
true`,
  parse(stdout, code, [, , , , path]) {
    if (code === 3) return undefined
    const [first = '', ...rest] = stdout.split('\n')
    const f = first.split('|')
    if (code !== 0 || f.length !== 15 || !/^[0-9a-f]+$/.test(f[0]!))
      throw new Error(`stat ${path} failed (exit ${code}): ${first}`)
    const num = (i: number) => Number(f[i])
    const [major = '0', minor = '0'] = f[12]!.split(',')
    const status: PathStatus = {
      mode: parseInt(f[0]!, 16),
      uid: num(1),
      gid: num(2),
      size: num(3),
      inode: num(4),
      dev: num(5),
      nlink: num(6),
      atime: num(7),
      mtime: num(8),
      ctime: num(9),
      blocks: num(10),
      blockSize: num(11),
      // st_rdev as glibc's makedev packs it, from the hex major and minor stat prints.
      deviceType: makedev(parseInt(major, 16), parseInt(minor, 16)),
      ...(f[13] !== 'UNKNOWN' ? { owner: f[13]! } : {}),
      ...(f[14] !== 'UNKNOWN' ? { group: f[14]! } : {}),
      readable: false,
      writeable: false,
      executable: false,
    }
    for (const line of rest) {
      const [key, value = ''] = [line.slice(0, line.indexOf(' ')), line.slice(line.indexOf(' ') + 1)]
      if (key === 'access') {
        status.readable = value.includes('r')
        status.writeable = value.includes('w')
        status.executable = value.includes('x')
      } else if (key === 'link') status.linkTarget = value
      else if (key === 'real') status.linkSource = value
      else if (key === 'checksum') status.checksum = value
      else if (key === 'mime') {
        const [type = '', charset = ''] = value.split(';')
        status.mime = { type: type.trim(), charset: charset.split('=')[1]?.trim() ?? '' }
      } else if (key === 'attr') {
        const [version = '', flags = ''] = value.trim().split(/\s+/)
        status.attributes = { version, flags }
      }
    }
    return status
  },
})

function makedev(major: number, minor: number): number {
  return (minor & 0xff) + (major & 0xfff) * 0x100 + (minor & ~0xff) * 0x1000 + (major & ~0xfff) * 0x100000000
}
