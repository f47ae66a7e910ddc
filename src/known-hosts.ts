// OpenSSH's known_hosts, read the way ssh does: comma-separated host patterns with `*`/`?` wildcards and `!`
// negation, `[host]:port` for ports other than 22, hashed entries (`|1|salt|hmac-sha1`), the @revoked marker.
// @cert-authority lines are skipped (host certificates are not supported). New keys are written unhashed.
import { createHmac } from 'node:crypto'
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'

export interface KnownHost {
  patterns: string[] // as written; a hashed entry is one `|1|...` pattern
  marker?: 'revoked' | 'cert-authority'
  keyType: string
  key: Buffer // the SSH wire-format public key blob, as the server sends it
  line: number
}

export type HostKeyStatus =
  | { status: 'known' }
  | { status: 'unknown' }
  | { status: 'changed'; line: number }
  | { status: 'revoked'; line: number }

export function parseKnownHosts(text: string): KnownHost[] {
  const entries: KnownHost[] = []
  text.split('\n').forEach((raw, i) => {
    const fields = raw.trim().split(/\s+/)
    if (!fields[0] || fields[0].startsWith('#')) return
    let marker: KnownHost['marker']
    if (fields[0].startsWith('@')) {
      const name = fields.shift()!.slice(1)
      if (name !== 'revoked' && name !== 'cert-authority') return
      marker = name
    }
    const [hosts, keyType, base64] = fields
    if (!hosts || !keyType || !base64 || !/^[A-Za-z0-9+/]+=*$/.test(base64)) return
    entries.push({
      patterns: hosts.split(','),
      ...(marker ? { marker } : {}),
      keyType,
      key: Buffer.from(base64, 'base64'),
      line: i + 1,
    })
  })
  return entries
}

/** The name ssh looks a host up by: `host` on port 22, else `[host]:port`. */
export function knownHostName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`
}

/** The key type inside a wire-format key blob (its first string), e.g. ssh-ed25519. */
export function keyType(key: Buffer): string {
  const length = key.readUInt32BE(0)
  return key.subarray(4, 4 + length).toString('latin1')
}

export function matchesHost(entry: KnownHost, name: string): boolean {
  let matched = false
  for (const pattern of entry.patterns) {
    if (pattern.startsWith('|1|')) {
      const [, , salt, hash] = pattern.split('|')
      if (salt && hash && createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash)
        matched = true
      continue
    }
    const negated = pattern.startsWith('!')
    const glob = negated ? pattern.slice(1) : pattern
    // A pattern without wildcards (most are) is compared as text: a RegExp per entry per host is quadratic.
    if (/[*?]/.test(glob) ? wildcard(glob).test(name) : glob.toLowerCase() === name.toLowerCase()) {
      if (negated) return false // a matching negation excludes the host from the whole line
      matched = true
    }
  }
  return matched
}

function wildcard(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.')
  return new RegExp(`^${body}$`, 'i')
}

/** What known_hosts says about the key a host presented. */
export function checkHostKey(entries: KnownHost[], name: string, key: Buffer): HostKeyStatus {
  const mine = entries.filter((e) => e.marker !== 'cert-authority' && matchesHost(e, name))
  const revoked = mine.find((e) => e.marker === 'revoked' && e.key.equals(key))
  if (revoked) return { status: 'revoked', line: revoked.line }
  const keys = mine.filter((e) => !e.marker)
  if (keys.some((e) => e.key.equals(key))) return { status: 'known' }
  // Only keys of the presented type count (ssh asks for the known types first; see ssh.ts).
  const other = keys.find((e) => e.keyType === keyType(key))
  return other ? { status: 'changed', line: other.line } : { status: 'unknown' }
}

/** Key types known for a host, to offer only those host key algorithms (as ssh orders them first). */
export function knownKeyTypes(entries: KnownHost[], name: string): string[] {
  return [...new Set(entries.filter((e) => !e.marker && matchesHost(e, name)).map((e) => e.keyType))]
}

export async function readKnownHosts(file: string): Promise<KnownHost[]> {
  try {
    return parseKnownHosts(await readFile(file, 'utf8'))
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw e
  }
}

const appending = new Map<string, Promise<void>>()

/**
 * Adds `name key` to the file: the whole file is rewritten to a temporary file beside it and renamed over it,
 * so a reader never sees half a line. Appends to one file from this process are serialized.
 */
export function appendKnownHost(file: string, name: string, key: Buffer): Promise<void> {
  const previous = appending.get(file) ?? Promise.resolve()
  const next = previous
    .catch(() => {})
    .then(async () => {
      let text = ''
      let mode = 0o600
      try {
        text = await readFile(file, 'utf8')
        mode = (await stat(file)).mode & 0o777
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
        await mkdir(dirname(file), { recursive: true, mode: 0o700 })
      }
      if (text && !text.endsWith('\n')) text += '\n'
      text += `${name} ${keyType(key)} ${key.toString('base64')}\n`
      const tmp = `${file}.${process.pid}.tmp`
      await writeFile(tmp, text, { mode })
      await rename(tmp, file)
    })
  appending.set(file, next)
  return next
}
