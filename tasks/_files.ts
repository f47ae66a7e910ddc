// Helpers shared by the file tasks (copy, template, file, fetch): the file facts read on a host, and the
// changes that bring a file to what was asked — decided first, applied only when not in check mode.
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { isAbsolute, join, posix, resolve } from 'node:path'
import { quote } from '../src/ssh.ts'
import type { FileDiff, Target, TaskContext, TaskResult } from '../src/task.ts'

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

/** The fact: `stat` (following links) and, for a regular file when asked, its sha256. One command. */
export async function statFile(host: Target, path: string, checksum = false): Promise<RemoteFile> {
  return (await statFiles(host, [path], checksum))[0]!
}

// Two lines per path: stat's fields (or "absent"), then the sha256 (or "-").
const statScript = `ck=$1; shift; for p in "$@"; do
  if [ -e "$p" ]; then stat -L -c '%F|%a|%U|%G|%u|%g|%s' -- "$p" || exit 1
    if [ -f "$p" ] && [ "$ck" = 1 ]; then sha256sum -- "$p" | cut -d' ' -f1; else echo -; fi
  else echo absent; echo -; fi
done`

/** statFile for several paths in one command (each command costs a session on the host). */
export async function statFiles(host: Target, paths: string[], checksum = false): Promise<RemoteFile[]> {
  const lines = (await host.$`sh -c ${statScript} sh ${checksum ? '1' : '0'} ${paths}`).stdout.split('\n')
  return paths.map((_, i) => {
    const line = lines[2 * i] ?? ''
    const sum = lines[2 * i + 1] ?? '-'
    if (line === 'absent') return { exists: false }
    const [kind = '', mode, owner, group, uid, gid, size] = line.split('|')
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
}

/** mode as Ansible takes it: an octal string ("0644", "755") or the number YAML made of 0644. */
export function parseMode(mode: unknown): number | undefined {
  if (mode === undefined || mode === null) return undefined
  if (typeof mode === 'number') return mode
  return parseInt(String(mode), 8)
}

export const modeSchema = {
  description: 'an octal mode ("0644") or a number',
  anyOf: [
    { type: 'integer', minimum: 0, maximum: 0o7777 },
    { type: 'string', pattern: '^0?[0-7]{3,4}$' },
  ],
}

export interface Attributes {
  mode?: number
  owner?: string
  group?: string
}

/** What differs between a file's attributes and the wanted ones, as shell commands and words for the report. */
export function attributeChanges(
  file: RemoteFile,
  want: Attributes,
): { what: string[]; apply: (host: Target, path: string) => Promise<void> } {
  const what: string[] = []
  const sameUser = (name: string, have: string | undefined, id: number | undefined) =>
    name === have || (/^[0-9]+$/.test(name) && Number(name) === id)
  const mode = want.mode !== undefined && (file.mode ?? -1) !== want.mode ? want.mode : undefined
  const owner = want.owner !== undefined && !sameUser(want.owner, file.owner, file.uid) ? want.owner : undefined
  const group = want.group !== undefined && !sameUser(want.group, file.group, file.gid) ? want.group : undefined
  if (mode !== undefined)
    what.push(`mode ${(file.mode ?? 0).toString(8).padStart(4, '0')} → ${mode.toString(8).padStart(4, '0')}`)
  if (owner !== undefined) what.push(`owner ${file.owner} → ${owner}`)
  if (group !== undefined) what.push(`group ${file.group} → ${group}`)
  return {
    what,
    apply: async (host, path) => {
      if (owner !== undefined || group !== undefined)
        await host.$`chown ${`${owner ?? ''}${group !== undefined ? `:${group}` : ''}`} -- ${path}`
      if (mode !== undefined) await host.$`chmod ${mode.toString(8)} -- ${path}`
    },
  }
}

/** A local file: an absolute path, or looked up like Ansible from the playbook's directory (DIR/SUB/src, DIR/src). */
export function findLocal(ctx: Pick<TaskContext, 'baseDir'>, src: string, sub: 'files' | 'templates'): string {
  if (isAbsolute(src)) return src
  // A relative src stays under the playbook's directory: `../../etc/shadow` (often a var) is refused; an
  // absolute path says what it means and is taken as written.
  if (src.split('/').includes('..'))
    throw new Error(
      `${src}: a relative src cannot leave the playbook's directory (".." is refused; give an absolute path)`,
    )
  const candidates = [join(ctx.baseDir, sub, src), join(ctx.baseDir, src)]
  const found = candidates.find((c) => existsSync(c))
  if (!found) throw new Error(`cannot find ${src} (looked in ${candidates.map((c) => resolve(c)).join(', ')})`)
  return found
}

/** A remote dest with a ".." segment (often from a var) is refused: it would write outside the directory named. */
export function checkDest(dest: string): void {
  if (dest.split('/').includes('..')) throw new Error(`${dest}: ".." is not allowed in dest (write the path it means)`)
}

export async function sha256Local(source: string | Buffer): Promise<string> {
  const hash = createHash('sha256')
  if (typeof source !== 'string') return hash.update(source).digest('hex')
  for await (const chunk of createReadStream(source)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

export function isText(data: Buffer): boolean {
  return data.length <= 256 * 1024 && !data.includes(0)
}

export interface PutFileArgs extends Attributes {
  dest: string
  /** A local path, or the content itself. */
  source: string | Buffer
  /** A command run on the new file before it replaces dest; `%s` is its path (Ansible's validate). */
  validate?: string
  /** When false, an existing dest is left alone (Ansible's force: no). */
  force?: boolean
  /** Name used when dest is a directory. */
  name?: string
}

/**
 * Brings `dest` to the given content and attributes: compares sha256 on the host first; writes a temporary file
 * in dest's directory, sets its attributes, validates it, then renames it over dest, so dest is never half
 * written. Under ctx.check, only says what would change.
 */
export async function putFile(host: Target, args: PutFileArgs, ctx: TaskContext): Promise<TaskResult> {
  checkDest(args.dest)
  let dest = args.dest
  let found = await statFiles(host, [dest, posix.dirname(dest)], true)
  if (found[0]!.type === 'directory' || dest.endsWith('/')) {
    if (!args.name) throw new Error(`${dest} is a directory: give the file's name in dest`)
    dest = posix.join(dest, args.name)
    found = await statFiles(host, [dest, posix.dirname(dest)], true)
  }
  const [file, parent] = found as [RemoteFile, RemoteFile]
  if (file.exists && file.type !== 'file') throw new Error(`${dest} exists and is not a regular file (${file.type})`)
  if (parent.type !== 'directory') throw new Error(`destination directory ${posix.dirname(dest)} does not exist`)
  const sha256 = await sha256Local(args.source)
  const contentChanged = !file.exists || (file.sha256 !== sha256 && args.force !== false)
  const attributes = attributeChanges(file, args)
  const what = [
    ...(contentChanged ? [file.exists ? 'content' : 'created'] : []),
    ...(file.exists ? attributes.what : []),
  ]
  const result: TaskResult = { changed: what.length > 0, data: { dest, sha256 } }
  if (what.length) result.msg = `${dest}: ${what.join(', ')}`
  if (ctx.diff && contentChanged) result.diff = [await fileDiff(host, dest, file, args.source)]
  if (!result.changed || ctx.check) return result
  if (!contentChanged) {
    await attributes.apply(host, dest)
    return result
  }
  // The new file gets the wanted attributes, else those of the file it replaces, else 0644 and the login user.
  const tmp = posix.join(posix.dirname(dest), `.${posix.basename(dest)}.hbmon-${randomBytes(6).toString('hex')}.tmp`)
  const owner = args.owner ?? (file.exists ? file.owner : undefined)
  const group = args.group ?? (file.exists ? file.group : undefined)
  const want = {
    mode: args.mode ?? file.mode ?? 0o644,
    ...(owner !== undefined ? { owner } : {}),
    ...(group !== undefined ? { group } : {}),
  }
  try {
    await host.put(args.source, tmp, { mode: 0o600 })
    await attributeChanges({ exists: true, mode: 0o600 }, want).apply(host, tmp)
    if (args.validate) {
      const command = args.validate.replace(/%s/g, quote(tmp))
      const check = await host.$({ nothrow: true })`sh -c ${command}`
      if (check.code !== 0)
        throw new Error(`validation failed: ${args.validate}: ${(check.stderr || check.stdout).trim()}`)
    }
    await host.$`mv -f -- ${tmp} ${dest}`
  } catch (e) {
    await host.$({ nothrow: true })`rm -f -- ${tmp}`
    throw e
  }
  return result
}

async function fileDiff(host: Target, dest: string, file: RemoteFile, source: string | Buffer): Promise<FileDiff> {
  const after = typeof source === 'string' ? await readFile(source) : source
  if (!isText(after) || (file.size ?? 0) > 256 * 1024)
    return { path: dest, before: file.sha256 ?? '', after: await sha256Local(source), binary: true }
  const before = file.exists ? (await host.$`cat -- ${dest}`).stdout : ''
  if (before.includes('\0'))
    return { path: dest, before: file.sha256 ?? '', after: await sha256Local(source), binary: true }
  return { path: dest, before, after: after.toString('utf8') }
}
