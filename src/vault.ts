// Ansible Vault: the secrets (--vault-password-file, --vault-id [label@]file|prompt, --ask-vault-pass, and
// vault_password_file / vault_identity_list in ansible.cfg), `!vault` values in any YAML we read, and whole
// files encrypted with `ansible-vault encrypt`. Decryption is the `ansible-vault` npm package (the format's
// AES256-CTR + HMAC-SHA256 + PBKDF2, 1.1 and 1.2 headers); it is checked against files made by Debian's
// ansible-vault in test/differential/vault-secrets.test.ts and the vault cases of
// test/differential/cases.ts. A value no secret decrypts is bad input (exit 4, file:line) found
// while reading, before anything connects.
//
// Every decrypted value is remembered, and redact() replaces it (each of its lines, and its JSON-escaped form)
// in everything we print or write as a report: a secret reaches the hosts it is meant for and nothing else.
//
// Differences from Ansible, on purpose: an executable password file (a vault client script) is refused,
// not run; a decrypted value is never shown, where Ansible shows it unless no_log is set; a secret line
// shorter than 4 characters is not redacted (it would blank out ordinary output), so a vault value that
// short is refused (in a file encrypted whole, such short values, a port number say, are used, not masked).
import { readFileSync, accessSync, constants } from 'node:fs'
import { Vault } from 'ansible-vault'
import { InputError } from './util.ts'
import { setVaultHook } from './yaml.ts'

export interface VaultSecret {
  label: string // 'default' unless --vault-id label@...
  password: string
  origin: string // the file, or "prompt"
}

let secrets: VaultSecret[] = []
const decrypted = new Set<string>()
const vaults = new Map<string, Vault>()

/** The secrets tried on every vault value, in order (and the YAML reader told to use them). */
export function setVaultSecrets(list: VaultSecret[]): void {
  secrets = list
  setVaultHook({ decrypt, secret: rememberAll })
}

/** Reads a password file as Ansible does (the whole file, stripped). */
export function passwordFile(path: string, label = 'default'): VaultSecret {
  let executable = false
  try {
    accessSync(path, constants.X_OK)
    executable = true
  } catch {}
  if (executable)
    throw new InputError(
      'an executable vault password file is a client script, which this engine does not run: give a file holding the password (chmod -x)',
      path,
    )
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    throw new InputError(`cannot read the vault password file: ${(e as Error).message}`, path)
  }
  const password = text.trim()
  if (!password) throw new InputError('the vault password file is empty', path)
  return { label, password, origin: path }
}

/** One password from the terminal (echo off) or from stdin when it is not a terminal. */
export async function askPassword(label = 'default', prompt = 'Vault password: '): Promise<VaultSecret> {
  process.stderr.write(label === 'default' ? prompt : `Vault password (${label}): `)
  const stdin = process.stdin
  const password = await new Promise<string>((resolve) => {
    if (stdin.isTTY) {
      let typed = ''
      stdin.setRawMode(true)
      stdin.resume()
      const onData = (chunk: Buffer) => {
        for (const ch of chunk.toString('utf8')) {
          if (ch === '\r' || ch === '\n' || ch === '\u0004') {
            stdin.setRawMode(false)
            stdin.pause()
            stdin.off('data', onData)
            process.stderr.write('\n')
            return resolve(typed)
          }
          if (ch === '\u0003') process.exit(130)
          if (ch === '\u007f') typed = typed.slice(0, -1)
          else typed += ch
        }
      }
      stdin.on('data', onData)
    } else {
      // The first line of stdin; the rest is left unread.
      let buffer = ''
      const done = () => {
        stdin.off('data', onData)
        stdin.off('end', done)
        stdin.pause()
        resolve(buffer.split(/\r?\n/, 1)[0]!)
      }
      const onData = (chunk: Buffer) => {
        buffer += chunk.toString('utf8')
        if (buffer.includes('\n')) done()
      }
      stdin.on('data', onData)
      stdin.once('end', done)
      stdin.resume()
    }
  })
  if (!password) throw new InputError('no vault password was given', 'prompt')
  return { label, password, origin: 'prompt' }
}

/** `--vault-id label@source` / `--vault-id source`: source is a file or "prompt". */
export async function vaultId(spec: string): Promise<VaultSecret> {
  const at = spec.indexOf('@')
  const [label, source] = at > 0 ? [spec.slice(0, at), spec.slice(at + 1)] : ['default', spec]
  return source === 'prompt' ? askPassword(label) : passwordFile(source, label)
}

function vaultFor(password: string): Vault {
  let v = vaults.get(password)
  if (!v) vaults.set(password, (v = new Vault({ password })))
  return v
}

/** The plaintext of a vault text (a whole file or a !vault value), or an error saying why not. */
export function decrypt(text: string): { ok: true; value: string } | { ok: false; reason: string } {
  if (!secrets.length)
    return {
      ok: false,
      reason:
        'this is vault-encrypted and no vault secret was given: use --vault-password-file, --vault-id or --ask-vault-pass',
    }
  const body = text.trim()
  const header = body.split('\n', 1)[0]!.trim()
  const m = /^\$ANSIBLE_VAULT;(1\.[12]);AES256(?:;(.+))?$/.exec(header)
  if (!m) return { ok: false, reason: `not a vault text Ansible writes: the header is "${header.slice(0, 60)}"` }
  const label = m[2]
  // The secret whose label the header names first, then the others (Ansible's default, vault_id_match off).
  const order = [...secrets.filter((s) => s.label === label), ...secrets.filter((s) => s.label !== label)]
  // The package compares a 1.2 header's label with the one it is given; ours are tried in order instead.
  const normalized = label ? body.replace(/^[^\n]*/, '$ANSIBLE_VAULT;1.1;AES256') : body
  for (const secret of order) {
    let value: string | undefined
    try {
      value = vaultFor(secret.password).decryptSync(normalized, undefined)
    } catch {
      continue
    }
    if (value === undefined) continue
    remember(value)
    return { ok: true, value }
  }
  return {
    ok: false,
    reason: `no vault secret decrypts it (tried ${order.map((s) => (s.label === 'default' ? s.origin : `${s.label}@${s.origin}`)).join(', ')}): wrong password?`,
  }
}

/** Keeps a decrypted value (each line of it) for redact(). */
export function remember(value: string): void {
  for (const line of value.split(/\r?\n/)) {
    const trimmed = line.trim()
    if (trimmed.length >= 4) decrypted.add(trimmed)
  }
  const whole = value.trim()
  if (whole.length >= 4) decrypted.add(whole)
}

/** Strings of a decrypted YAML file: all of them are secrets. */
export function rememberAll(value: unknown): void {
  if (typeof value === 'string') remember(value)
  else if (typeof value === 'number' || typeof value === 'boolean') remember(String(value))
  else if (Array.isArray(value)) value.forEach(rememberAll)
  else if (value && typeof value === 'object') Object.values(value).forEach(rememberAll)
}

const mask = '********'

/** `text` with every decrypted value (raw and JSON-escaped) replaced by ********. */
export function redact(text: string): string {
  if (!decrypted.size) return text
  // Longest first, so that a secret containing another is masked whole.
  for (const secret of [...decrypted].sort((a, b) => b.length - a.length)) {
    text = text.split(secret).join(mask)
    const escaped = JSON.stringify(secret).slice(1, -1)
    if (escaped !== secret) text = text.split(escaped).join(mask)
  }
  return text
}

/** `stream` with every write redacted (the rest of it, isTTY and columns included, unchanged). */
export function redacting<T extends NodeJS.WritableStream>(stream: T): T {
  return new Proxy(stream, {
    get(target, key) {
      if (key === 'write')
        return (chunk: unknown, ...rest: unknown[]) =>
          (target.write as (...a: unknown[]) => boolean)(typeof chunk === 'string' ? redact(chunk) : chunk, ...rest)
      const value = Reflect.get(target, key, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}
