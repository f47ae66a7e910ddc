// Helpers shared by the file tasks (copy, template, file, fetch, and the hbmon tasks that write files): the
// changes that bring a file to what was asked, decided from the FileStats fact (facts/files.ts).
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, existsSync } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import { dirname, isAbsolute, join, posix, resolve, sep } from 'node:path'
import type { FileDiff, Target, TaskContext, TaskResult } from '../src/task.ts'
import { FileContent, statCall, type RemoteFile } from '../facts/files.ts'
import type { FactCall } from '../src/fact.ts'
import { quote } from '../src/util.ts'

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

/** The args every file task takes for the file's attributes, as Ansible's file common arguments. */
export const attributeSchemas = {
  mode: modeSchema,
  owner: { type: 'string', description: 'a user name or uid' },
  group: { type: 'string', description: 'a group name or gid' },
}

export interface Attributes {
  mode?: number
  owner?: string
  group?: string
}

/** What differs between a file's attributes and the wanted ones, as words for the report and how to apply it. */
export function attributeChanges(
  file: RemoteFile,
  want: Attributes,
): {
  what: string[]
  command: (path: string) => string | undefined
  apply: (host: Target, path: string) => Promise<void>
} {
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
  // One command line for all of it (chown, then chmod: chown may clear set-id bits), so that it costs one round
  // trip and can be joined to the command that follows it.
  const command = (path: string) => {
    const steps = [
      ...(owner !== undefined || group !== undefined
        ? [`chown ${quote(`${owner ?? ''}${group !== undefined ? `:${group}` : ''}`)} -- ${quote(path)}`]
        : []),
      ...(mode !== undefined ? [`chmod ${mode.toString(8)} -- ${quote(path)}`] : []),
    ]
    return steps.length ? steps.join(' && ') : undefined
  }
  return {
    what,
    command,
    apply: async (host, path) => {
      const line = command(path)
      if (line) await host.$`sh -c ${line}`
    },
  }
}

/** A local file: an absolute path, or looked up like Ansible's search path: in each of the task's directories
 * (its role's, the file's; see TaskContext.searchPath), then the playbook's: DIR/SUB/src, DIR/src. */
export function findLocal(
  ctx: Pick<TaskContext, 'baseDir' | 'searchPath'>,
  src: string,
  sub: 'files' | 'templates',
): string {
  if (isAbsolute(src)) return src
  // A relative src stays within the project: the directory searched or the one holding it (where templates/
  // and files/ sit beside playbooks/, as `../templates/x` reaches). `../../../etc/shadow`, often from a var,
  // is refused; an absolute path says what it means and is taken as written.
  const within = (base: string) => resolve(base, src).startsWith(dirname(resolve(base)) + sep)
  const bases = [...(ctx.searchPath ?? []), ctx.baseDir].filter(within)
  if (!within(ctx.baseDir))
    throw new Error(`${src}: a relative src cannot leave ${dirname(resolve(ctx.baseDir))} (give an absolute path)`)
  const candidates = bases.flatMap((base) => [join(base, sub, src), join(base, src)])
  const found = candidates.find((c) => existsSync(c))
  if (!found) throw new Error(`cannot find ${src} (looked in ${candidates.map((c) => resolve(c)).join(', ')})`)
  return found
}

/** A remote dest with a ".." segment (often from a var) is refused: it would write outside the directory named. */
export function checkDest(dest: string): void {
  if (dest.split('/').includes('..')) throw new Error(`${dest}: ".." is not allowed in dest (write the path it means)`)
}

// A local file put on many hosts is read and hashed once per run rather than once per host (100 hosts, one
// 1 MB file: 100 MB less to read and hash). Files over the cap are streamed from disk for each host instead.
const sharedFiles = new Map<string, Promise<{ data: Buffer; sha256: string }>>()
const sharedCap = 64 << 20

async function sharedFile(path: string): Promise<{ data: Buffer; sha256: string } | undefined> {
  const { mtimeMs, size } = await stat(path)
  if (size > sharedCap) return undefined
  const key = `${path}\0${mtimeMs}\0${size}`
  let file = sharedFiles.get(key)
  if (!file) {
    file = readFile(path).then((data) => ({ data, sha256: createHash('sha256').update(data).digest('hex') }))
    sharedFiles.set(key, file)
  }
  return file
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
  /** Create dest's missing parent directories (0755) instead of failing. */
  makeParents?: boolean
}

/** What putFile reads first (copy's and template's `reads`): dest and its directory, with checksums. */
export function destStat(dest: string): FactCall<RemoteFile[]> {
  return statCall([dest, posix.dirname(dest)], true)
}

/**
 * The change that brings `dest` to the given content and attributes, decided from sha256 on the host: a
 * temporary file in dest's directory gets the attributes, is validated, then renamed over dest, so dest is
 * never half written. No change when dest is already as asked.
 */
export async function putFile(host: Target, args: PutFileArgs, ctx: Pick<TaskContext, 'diff'>): Promise<TaskResult> {
  checkDest(args.dest)
  let dest = args.dest
  let [found] = await host.gather(destStat(dest))
  if (found[0]!.type === 'directory' || dest.endsWith('/')) {
    if (!args.name) throw new Error(`${dest} is a directory: give the file's name in dest`)
    dest = posix.join(dest, args.name)
    ;[found] = await host.gather(destStat(dest))
  }
  const [file, parent] = found as [RemoteFile, RemoteFile]
  const dir = posix.dirname(dest)
  if (file.exists && file.type !== 'file') throw new Error(`${dest} exists and is not a regular file (${file.type})`)
  if (parent.exists && parent.type !== 'directory') throw new Error(`${dir} exists and is not a directory`)
  if (!parent.exists && !args.makeParents) throw new Error(`destination directory ${dir} does not exist`)
  const shared = typeof args.source === 'string' ? await sharedFile(args.source) : undefined
  const source = shared?.data ?? args.source
  const sha256 = shared?.sha256 ?? (await sha256Local(source))
  const contentChanged = !file.exists || (file.sha256 !== sha256 && args.force !== false)
  const attributes = attributeChanges(file, args)
  const result: TaskResult = { changed: false, data: { dest, sha256 } }
  if (!contentChanged) {
    if (file.exists && attributes.what.length)
      result.changes = [
        { describe: `${dest}: ${attributes.what.join(', ')}`, apply: () => attributes.apply(host, dest) },
      ]
    return result
  }
  const what = [file.exists ? 'content' : 'created', ...(file.exists ? attributes.what : [])]
  // The new file gets the wanted attributes, else those of the file it replaces, else 0644 and the login user.
  const owner = args.owner ?? (file.exists ? file.owner : undefined)
  const group = args.group ?? (file.exists ? file.group : undefined)
  const want = {
    mode: args.mode ?? file.mode ?? 0o644,
    ...(owner !== undefined ? { owner } : {}),
    ...(group !== undefined ? { group } : {}),
  }
  result.changes = [
    {
      describe: `${dest}: ${what.join(', ')}`,
      ...(ctx.diff ? { diff: await fileDiff(host, dest, file, source) } : {}),
      async apply() {
        if (!parent.exists) await host.$`mkdir -p -m 0755 -- ${dir}`
        const tmp = posix.join(dir, `.${posix.basename(dest)}.hbmon-${randomBytes(6).toString('hex')}.tmp`)
        try {
          await host.put(source, tmp, { mode: 0o600 })
          const attributes = attributeChanges({ exists: true, mode: 0o600 }, want).command(tmp)
          // The rename, then the temporary files of copies to dest that died half-way (a host that lost power, a
          // controller killed): the host lock makes sure no other run is writing one now. The shell's glob finds
          // them (regular files, not symlinks, in dir itself, as `find DIR -maxdepth 1 -type f -name` would)
          // without starting find on every put: nothing starts when there are none.
          const orphans = `${quote(posix.join(dir, `.${posix.basename(dest)}.hbmon-`))}*.tmp`
          const rename = `mv -f -- ${quote(tmp)} ${quote(dest)} && for f in ${orphans}; do if [ -f "$f" ] && [ ! -L "$f" ]; then rm -f -- "$f"; fi; done`
          if (args.validate) {
            if (attributes) await host.$`sh -c ${attributes}`
            const command = args.validate.replace(/%s/g, quote(tmp))
            const check = await host.$({ nothrow: true })`sh -c ${command}`
            if (check.code !== 0)
              throw new Error(`validation failed: ${args.validate}: ${(check.stderr || check.stdout).trim()}`)
            await host.$`sh -c ${rename}`
          } else await host.$`sh -c ${attributes ? `${attributes} && ${rename}` : rename}`
        } catch (e) {
          await host.$({ nothrow: true })`rm -f -- ${tmp}`
          throw e
        }
      },
    },
  ]
  return result
}

async function fileDiff(host: Target, dest: string, file: RemoteFile, source: string | Buffer): Promise<FileDiff> {
  const after = typeof source === 'string' ? await readFile(source) : source
  if (!isText(after) || (file.size ?? 0) > 256 * 1024)
    return { path: dest, before: file.sha256 ?? '', after: await sha256Local(source), binary: true }
  const before = file.exists ? ((await host.fact(FileContent, dest)) ?? '') : ''
  if (before.includes('\0'))
    return { path: dest, before: file.sha256 ?? '', after: await sha256Local(source), binary: true }
  return { path: dest, before, after: after.toString('utf8') }
}

/**
 * The result of an edit of a text file as Ansible's lineinfile and blockinfile report it: the content decided
 * (`after`, written only when `msg` says the content changed) and the attributes, through putFile; `msg` gets
 * Ansible's "ownership, perms or SE linux context changed" when attributes change too.
 */
export async function putEdited(
  host: Target,
  ctx: Pick<TaskContext, 'diff'>,
  edit: { path: string; before: string | undefined; after: string; msg: string; validate?: string; data?: object },
  want: { mode?: string | number; owner?: string; group?: string },
): Promise<TaskResult> {
  const mode = parseMode(want.mode)
  const result = await putFile(
    host,
    {
      dest: edit.path,
      source: Buffer.from(edit.msg ? edit.after : (edit.before ?? '')),
      makeParents: true,
      ...(mode !== undefined ? { mode } : {}),
      ...(want.owner !== undefined ? { owner: want.owner } : {}),
      ...(want.group !== undefined ? { group: want.group } : {}),
      ...(edit.validate !== undefined ? { validate: edit.validate } : {}),
    },
    ctx,
  )
  // Ansible creates the file (0644 under the usual umask, owned by the user it runs as), then sets what was
  // asked: a created file's attributes changed when they differ from those.
  const user = host.connection.become ? host.connection.becomeUser : (host.connection.user ?? 'root')
  const attributes =
    edit.before === undefined
      ? Boolean(result.changes?.length) &&
        ((mode !== undefined && mode !== 0o644) ||
          (want.owner !== undefined && want.owner !== user) ||
          (want.group !== undefined && want.group !== user))
      : (result.changes ?? []).some((c) =>
          / (mode|owner|group) /.test(` ${c.describe.split(': ').slice(1).join(': ')}`),
        )
  const perms = 'ownership, perms or SE linux context changed'
  const msg = attributes ? (edit.msg ? `${edit.msg} and ${perms}` : perms) : edit.msg
  return { ...result, msg, data: { msg, ...edit.data } }
}
