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
