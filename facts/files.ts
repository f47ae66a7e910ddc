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

/** `stat` (following links) of each path and, for regular files when $1 is 1, their sha256. Args: 0|1 PATH... */
export const FileStats = defineFact<RemoteFile[]>({
  name: 'file_stats',
  // Two lines per path: stat's fields (or "absent"), then sha256sum's line (or "-").
  script: `ck=$1; shift; for p in "$@"; do
  if [ -e "$p" ]; then stat -L -c '%F|%a|%U|%G|%u|%g|%s' -- "$p" || exit 1
    if [ -f "$p" ] && [ "$ck" = 1 ]; then sha256sum -- "$p" || echo -; else echo -; fi
  else echo absent; echo -; fi
done`,
  parse(stdout, code, [, ...paths]) {
    if (code !== 0) throw new Error(`stat failed (exit ${code})`)
    const lines = stdout.split('\n')
    return paths.map((path, i) => {
      const line = lines[2 * i]
      // sha256sum's line: the sum, two spaces, the path (a backslash first when the path has one to escape)
      const sum = (lines[2 * i + 1] ?? '-').replace(/^\\/, '').split(' ')[0]!
      if (line === undefined) throw new Error(`no line for ${path}`)
      if (line === 'absent') return { exists: false }
      const [kind = '', mode, owner, group, uid, gid, size] = line.split('|')
      if (size === undefined || !/^[0-7]+$/.test(mode ?? ''))
        throw new Error(`unexpected stat line for ${path}: ${line}`)
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
        ...(sum !== '-' ? { sha256: sum } : {}),
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
  return [FileStats, checksum ? '1' : '0', ...paths]
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
