// ansible.cfg and ANSIBLE_* environment variables, found and read as ansible-core 2.14 does: the first of
// $ANSIBLE_CONFIG (a file, or a directory holding ansible.cfg), ./ansible.cfg (unless the current directory
// is world-writable, as Ansible), ~/.ansible.cfg and /etc/ansible/ansible.cfg that exists is the one read;
// an environment variable beats the file. The file is Python's configparser format ([section], key = value
// or key: value, full-line # and ; comments, inline ; comments after a space, indented continuation lines,
// %% for %).
//
// Honoured: [defaults] inventory, forks, remote_user, private_key_file, timeout, host_key_checking (true
// only), vault_password_file, vault_identity_list, roles_path; [privilege_escalation] become, become_method (sudo only),
// become_user, become_ask_pass (false only); and their ANSIBLE_* variables. Any other setting, in the file
// or as an ANSIBLE_* variable, is warned about once, by name and place: it changes nothing here.
// Refused: host_key_checking = False (host keys are always checked), become_ask_pass / ask_pass = True (no
// prompts), a become_method other than sudo, duplicate sections or keys and lines outside a section
// (configparser refuses them too), %(name)s interpolation.
import { existsSync, readFileSync, statSync, accessSync, constants } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { InputError } from './util.ts'

/** A value and where it was set: "ansible.cfg:4" or "ANSIBLE_REMOTE_USER". */
export interface Setting<T> {
  value: T
  origin: string
}

export interface AnsibleSettings {
  file?: string
  inventory?: Setting<string[]>
  forks?: Setting<number>
  remoteUser?: Setting<string>
  privateKeyFile?: Setting<string>
  timeout?: Setting<number>
  become?: Setting<boolean>
  becomeMethod?: Setting<string>
  becomeUser?: Setting<string>
  vaultPasswordFile?: Setting<string>
  vaultIdentityList?: Setting<string[]>
  rolesPath?: Setting<string[]>
}

type Kind = 'string' | 'path' | 'pathlist' | 'pathspec' | 'list' | 'int' | 'bool'
interface Known {
  key: keyof Omit<AnsibleSettings, 'file'> | null // null: read and checked, nothing to keep
  section: string
  name: string
  env: string
  kind: Kind
  check?: (value: unknown) => string | undefined // a reason to refuse
}

const known: Known[] = [
  { key: 'inventory', section: 'defaults', name: 'inventory', env: 'ANSIBLE_INVENTORY', kind: 'pathlist' },
  { key: 'forks', section: 'defaults', name: 'forks', env: 'ANSIBLE_FORKS', kind: 'int', check: positive },
  { key: 'remoteUser', section: 'defaults', name: 'remote_user', env: 'ANSIBLE_REMOTE_USER', kind: 'string' },
  {
    key: 'privateKeyFile',
    section: 'defaults',
    name: 'private_key_file',
    env: 'ANSIBLE_PRIVATE_KEY_FILE',
    kind: 'path',
  },
  { key: 'timeout', section: 'defaults', name: 'timeout', env: 'ANSIBLE_TIMEOUT', kind: 'int', check: positive },
  {
    key: null,
    section: 'defaults',
    name: 'host_key_checking',
    env: 'ANSIBLE_HOST_KEY_CHECKING',
    kind: 'bool',
    check: (v) =>
      v ? undefined : 'host keys are always checked by this engine (use --accept-new-host-keys for new hosts)',
  },
  {
    key: null,
    section: 'defaults',
    name: 'ask_pass',
    env: 'ANSIBLE_ASK_PASS',
    kind: 'bool',
    check: (v) => (v ? 'this engine does not prompt for passwords' : undefined),
  },
  {
    key: 'vaultPasswordFile',
    section: 'defaults',
    name: 'vault_password_file',
    env: 'ANSIBLE_VAULT_PASSWORD_FILE',
    kind: 'path',
  },
  {
    key: 'vaultIdentityList',
    section: 'defaults',
    name: 'vault_identity_list',
    env: 'ANSIBLE_VAULT_IDENTITY_LIST',
    kind: 'list',
  },
  { key: 'rolesPath', section: 'defaults', name: 'roles_path', env: 'ANSIBLE_ROLES_PATH', kind: 'pathspec' },
  { key: 'become', section: 'privilege_escalation', name: 'become', env: 'ANSIBLE_BECOME', kind: 'bool' },
  {
    key: 'becomeMethod',
    section: 'privilege_escalation',
    name: 'become_method',
    env: 'ANSIBLE_BECOME_METHOD',
    kind: 'string',
    check: (v) => (v === 'sudo' ? undefined : `only sudo is supported, got ${String(v)}`),
  },
  {
    key: 'becomeUser',
    section: 'privilege_escalation',
    name: 'become_user',
    env: 'ANSIBLE_BECOME_USER',
    kind: 'string',
  },
  {
    key: null,
    section: 'privilege_escalation',
    name: 'become_ask_pass',
    env: 'ANSIBLE_BECOME_ASK_PASS',
    kind: 'bool',
    check: (v) =>
      v ? 'this engine does not prompt for passwords: set ansible_become_password (in a vault)' : undefined,
  },
]

function positive(v: unknown): string | undefined {
  return Number.isInteger(v) && (v as number) > 0 ? undefined : 'expected a positive integer'
}

/** ANSIBLE_* variables that are not settings of Ansible's, or that only matter to the lab and tests. */
const notSettings = new Set(['ANSIBLE_CONFIG'])

/** The config file Ansible would read, or undefined. */
export function findConfigFile(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string | undefined {
  const candidates: string[] = []
  const fromEnv = env.ANSIBLE_CONFIG
  if (fromEnv !== undefined) {
    const path = resolve(cwd, fromEnv.replace(/^~(?=$|\/)/, env.HOME ?? homedir()))
    candidates.push(existsSync(path) && statSync(path).isDirectory() ? join(path, 'ansible.cfg') : path)
  }
  // A world-writable current directory is skipped: anyone could have put an ansible.cfg there.
  if (!(statSync(cwd).mode & 0o002)) candidates.push(join(cwd, 'ansible.cfg'))
  candidates.push(join(env.HOME ?? homedir(), '.ansible.cfg'), '/etc/ansible/ansible.cfg')
  return candidates.find((path) => {
    try {
      accessSync(path, constants.R_OK)
      return statSync(path).isFile()
    } catch {
      return false
    }
  })
}

/** configparser's view of a file: section → key → [value, line]. */
export function parseConfig(text: string, file: string): Map<string, Map<string, [string, number]>> {
  const sections = new Map<string, Map<string, [string, number]>>()
  let current: Map<string, [string, number]> | undefined
  let last: { key: string; indent: number } | undefined
  text.split(/\r\n|\r|\n/).forEach((raw, i) => {
    const line = i + 1
    const fail = (reason: string): never => {
      throw new InputError(reason, file, line, 1)
    }
    const stripped = raw.trim()
    const indent = raw.length - raw.trimStart().length
    if (stripped.startsWith('#') || stripped.startsWith(';')) return
    const value = stripped.replace(/\s;.*$/, '')
    if (!value) {
      last = undefined
      return
    }
    if (current && last && indent > last.indent) {
      const entry = current.get(last.key)!
      entry[0] = entry[0] ? `${entry[0]}\n${value}` : value
      return
    }
    const header = /^\[([^\]]+)\]$/.exec(value)
    if (header) {
      const name = header[1]!
      if (sections.has(name)) fail(`section [${name}] appears twice`)
      current = new Map()
      sections.set(name, current)
      last = undefined
      return
    }
    if (!current) fail(`expected a [section] header before "${stripped}"`)
    const m = /^([^=:]*?)\s*[=:]\s*(.*)$/.exec(value)
    if (!m || !m[1]) fail(`expected key = value, got "${stripped}"`)
    const key = m![1]!.toLowerCase()
    if (current!.has(key)) fail(`${key} is set twice in this section`)
    if (/%(?!%)/.test(m![2]!.replace(/%%/g, ''))) fail(`${key}: %-interpolation is not supported (write %% for a %)`)
    current!.set(key, [m![2]!.replace(/%%/g, '%'), line])
    last = { key, indent }
  })
  return sections
}

function convert(kind: Kind, text: string, base: string): unknown {
  switch (kind) {
    case 'int':
      return /^\s*[-+]?[0-9]+\s*$/.test(text) ? Number(text) : NaN
    case 'bool':
      if (/^(?:y|yes|on|1|true|t)$/i.test(text.trim())) return true
      if (/^(?:n|no|off|0|false|f|)$/i.test(text.trim())) return false
      return undefined
    case 'path':
      return resolve(base, text.trim().replace(/^~(?=$|\/)/, homedir()))
    case 'pathlist':
    case 'pathspec': // pathspec: colon-separated (roles_path), pathlist: comma-separated (inventory)
      return text
        .split(kind === 'pathspec' ? ':' : ',')
        .map((p) => p.trim())
        .filter(Boolean)
        .map((p) => resolve(base, p.replace(/^~(?=$|\/)/, homedir())))
    case 'list':
      return text
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean)
    default:
      return text
  }
}

/** The settings we honour, from ansible.cfg and ANSIBLE_*; anything else set there is warned about. */
export function loadAnsibleConfig(
  warn: (message: string) => void,
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
): AnsibleSettings {
  const settings: AnsibleSettings = {}
  const file = findConfigFile(env, cwd)
  if (statSync(cwd).mode & 0o002 && existsSync(join(cwd, 'ansible.cfg')))
    warn(`${join(cwd, 'ansible.cfg')}: not read, the directory is world-writable (as Ansible)`)
  const sections = file ? parseConfig(readFileSync(file, 'utf8'), file) : new Map()
  if (file) settings.file = file
  const set = (k: Known, text: string, origin: string, base: string, where: () => never) => {
    const value = convert(k.kind, text, base)
    if (value === undefined || (k.kind === 'int' && Number.isNaN(value))) where()
    const reason = k.check?.(value)
    if (reason) throw new InputError(`${k.name}: ${reason}`, origin)
    if (k.key) (settings as Record<string, unknown>)[k.key] = { value, origin }
  }
  for (const k of known) {
    const entry = sections.get(k.section)?.get(k.name)
    if (entry) {
      const origin = `${file}:${entry[1]}`
      set(k, entry[0], origin, dirname(file!), () => {
        throw new InputError(
          `${k.name}: expected ${k.kind === 'int' ? 'an integer' : 'a boolean'}, got "${entry[0]}"`,
          file!,
          entry[1],
          1,
        )
      })
    }
    const fromEnv = env[k.env]
    if (fromEnv !== undefined)
      set(k, fromEnv, k.env, cwd, () => {
        throw new InputError(`expected ${k.kind === 'int' ? 'an integer' : 'a boolean'}, got "${fromEnv}"`, k.env)
      })
  }
  const unused: string[] = []
  for (const [section, keys] of sections)
    for (const [key, [, line]] of keys)
      if (!known.some((k) => k.section === section && k.name === key)) unused.push(`[${section}] ${key} (line ${line})`)
  if (unused.length) warn(`${file}: not used by this engine, so without effect: ${unused.join(', ')}`)
  const unusedEnv = Object.keys(env)
    .filter((name) => name.startsWith('ANSIBLE_') && !notSettings.has(name) && !known.some((k) => k.env === name))
    .sort()
  if (unusedEnv.length) warn(`not used by this engine, so without effect: ${unusedEnv.join(', ')}`)
  return settings
}
