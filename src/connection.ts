// How to reach a host, resolved from its merged vars the way Ansible's ssh connection plugin reads them:
// ansible_host/_port/_user and their ansible_ssh_* aliases, become settings, and the `-o`/`-J` options of
// ansible_ssh_common_args and _extra_args that we honour (see src/inventory.ts's header for which, and why the
// others are accepted without effect or refused). Everything here is checked before anything connects.
import { homedir } from 'node:os'
import { resolve } from 'node:path'
import { badName } from './names.ts'
import { ansibleBoolean, splitWords, type Vars } from './util.ts'
/** One hop of a ProxyJump chain. */
export interface Jump {
  host: string
  port: number
  user?: string
}

/** How to reach a host, resolved from its merged vars. */
export interface Connection {
  host: string // ansible_host (ansible_ssh_host wins if both are set), else the inventory name
  port: number // ansible_port / ansible_ssh_port, else the host:port of the inventory entry, else 22
  user?: string
  keyFile?: string // absolute, ~ expanded
  password?: string
  become: boolean
  becomeUser: string // root
  becomeMethod: string // sudo
  becomePassword?: string
  connection: string // ansible_connection, ssh by default; the engine decides what it supports
  proxyJump: Jump[] // from -o ProxyJump / -J in ansible_ssh_common_args or _extra_args; [] = direct
  knownHostsFile: string // -o UserKnownHostsFile=PATH, else ~/.ssh/known_hosts
  hostKeyAlias?: string // -o HostKeyAlias: the name looked up in known_hosts
  acceptNewHostKey?: boolean // -o StrictHostKeyChecking=accept-new
  sshOptions: Record<string, string> // every -o option, key lower-cased (checked: honoured or without effect)
}

// Connection settings

/** The connection vars, by the name Ansible reads them under (first one set wins). */
export const connectionVars = [
  'ansible_host',
  'ansible_ssh_host',
  'ansible_port',
  'ansible_ssh_port',
  'ansible_user',
  'ansible_ssh_user',
  'ansible_ssh_private_key_file',
  'ansible_private_key_file',
  'ansible_password',
  'ansible_ssh_pass',
  'ansible_ssh_password',
  'ansible_become',
  'ansible_become_user',
  'ansible_become_method',
  'ansible_become_password',
  'ansible_become_pass',
  'ansible_connection',
  'ansible_ssh_common_args',
  'ansible_ssh_extra_args',
]

// -o options: honoured (see below), accepted without effect (they tune OpenSSH's own multiplexing, logging or
// prompting, which this transport does not have; Ansible's own ConnectTimeout comes first and wins), refused.
export const sshOptionsWithoutEffect = new Set([
  'controlmaster',
  'controlpersist',
  'controlpath',
  'batchmode',
  'loglevel',
  'compression',
  'identitiesonly',
  'connecttimeout',
  'serveraliveinterval',
  'serveralivecountmax',
  'gssapiauthentication',
  'forwardagent',
  'pubkeyauthentication',
  'passwordauthentication',
  'kbdinteractiveauthentication',
  'preferredauthentications',
])
const sshOptionsHonoured = new Set([
  'userknownhostsfile',
  'proxyjump',
  'identityfile',
  'user',
  'port',
  'stricthostkeychecking',
  'hostkeyalias',
  'configfile', // -F
])

/**
 * How to reach a host, from its vars (inventory vars, and for a play its play vars and -e on top). `fail(name,
 * reason)` reports a bad value of the var `name`.
 */
export function resolveConnection(name: string, vars: Vars, fail: (name: string, reason: string) => never): Connection {
  // Ansible's MAGIC_VARIABLE_MAPPING: the first name found wins (the ansible_ssh_* alias, where there is one).
  const pick = (...names: string[]): [string, unknown] | undefined => {
    for (const name of names) {
      const value = vars[name]
      if (value === undefined || value === null) continue
      if (typeof value === 'string' && /\{\{|\{%/.test(value))
        fail(name, 'templates ({{ }}) are not supported in connection variables')
      return [name, value]
    }
    return undefined
  }
  const text = (...names: string[]) => {
    const found = pick(...names)
    return found === undefined ? undefined : String(found[1])
  }
  const path = (value: string | undefined) =>
    value === undefined ? undefined : resolve(value.replace(/^~(?=$|\/)/, homedir()))

  const ssh = parseSshArgs([pick('ansible_ssh_common_args'), pick('ansible_ssh_extra_args')], fail)
  const sshFail = (option: string, reason: string): never => fail(ssh.origins.get(option)!, reason)
  for (const option of Object.keys(ssh.options)) {
    if (option === 'proxycommand') sshFail(option, 'ProxyCommand is not supported: use -o ProxyJump=HOST (or -J HOST)')
    if (!sshOptionsHonoured.has(option) && !sshOptionsWithoutEffect.has(option))
      sshFail(
        option,
        `ssh option ${ssh.names.get(option)} is not supported by this engine (supported: UserKnownHostsFile, ProxyJump, IdentityFile, User, Port, StrictHostKeyChecking, HostKeyAlias)`,
      )
  }
  if (ssh.options.forwardagent && !/^(?:no|false)$/i.test(ssh.options.forwardagent))
    sshFail('forwardagent', 'ForwardAgent is not supported')

  // Ansible puts its own -o Port/User/IdentityFile before the user's ssh args, and ssh keeps the first value.
  const portVar = pick('ansible_ssh_port', 'ansible_port')
  const portOption = ssh.options.port
  const port = portVar ? Number(portVar[1]) : portOption !== undefined ? Number(portOption) : 22
  if (portVar && !(Number.isInteger(port) && port >= 1 && port <= 65535))
    fail(portVar[0], `expected a port number (1-65535), got ${portVar[1]}`)
  if (!portVar && !(Number.isInteger(port) && port >= 1 && port <= 65535))
    sshFail('port', `-o Port: expected a port number (1-65535), got ${portOption}`)

  const becomeVar = pick('ansible_become')
  const become = becomeVar ? ansibleBoolean(becomeVar[1]) : false
  const becomeMethod = text('ansible_become_method') ?? 'sudo'
  if (become && becomeMethod !== 'sudo') fail('ansible_become_method', `only sudo is supported, got ${becomeMethod}`)
  const connection = text('ansible_connection') ?? 'ssh'

  const jump = ssh.options.proxyjump
  const proxyJump =
    jump === undefined || jump.toLowerCase() === 'none' ? [] : parseJumps(jump, (r) => sshFail('proxyjump', r))
  const knownHosts = ssh.options.userknownhostsfile?.trim().split(/\s+/)[0]
  const strict = (ssh.options.stricthostkeychecking ?? 'yes').toLowerCase()
  if (!['yes', 'ask', 'accept-new'].includes(strict))
    sshFail(
      'stricthostkeychecking',
      `StrictHostKeyChecking=${ssh.options.stricthostkeychecking} is not supported: host keys are always checked (accept-new, or --accept-new-host-keys, adds unknown ones)`,
    )
  const keyVar = path(text('ansible_ssh_private_key_file', 'ansible_private_key_file'))
  const keyOption = path(ssh.options.identityfile?.replace(/^"(.*)"$/, '$1'))
  if (keyVar && keyOption && keyVar !== keyOption)
    sshFail(
      'identityfile',
      `-o IdentityFile=${keyOption} and ansible_ssh_private_key_file ${keyVar}: this engine offers one key, give one`,
    )

  const host = pick('ansible_ssh_host', 'ansible_host')
  const badHost = host && badName('address', String(host[1]))
  if (host && badHost) fail(host[0], badHost)

  return {
    host: host ? String(host[1]) : name,
    port,
    user: text('ansible_ssh_user', 'ansible_user') ?? ssh.options.user,
    keyFile: keyVar ?? keyOption,
    password: text('ansible_ssh_password', 'ansible_ssh_pass', 'ansible_password'),
    become,
    becomeUser: text('ansible_become_user') ?? 'root',
    becomeMethod,
    becomePassword: text('ansible_become_password', 'ansible_become_pass'),
    connection,
    proxyJump,
    knownHostsFile: path(knownHosts) ?? resolve(homedir(), '.ssh/known_hosts'),
    ...(ssh.options.hostkeyalias ? { hostKeyAlias: ssh.options.hostkeyalias } : {}),
    ...(strict === 'accept-new' ? { acceptNewHostKey: true } : {}),
    sshOptions: ssh.options,
  }
}

/** `-o Key=Value`, `-oKey=Value`, `-o "Key Value"`, `-J jump` from ssh argument strings, split like shlex. */
function parseSshArgs(sources: ([string, unknown] | undefined)[], fail: (name: string, reason: string) => never) {
  const options: Record<string, string> = {}
  const origins = new Map<string, string>()
  const names = new Map<string, string>()
  for (const source of sources) {
    if (!source) continue
    const [name, value] = source
    let words: string[]
    try {
      words = splitWords(String(value))
    } catch (e) {
      fail(name, (e as Error).message)
    }
    for (let i = 0; i < words.length; i++) {
      const word = words[i]!
      let option: string | undefined
      if (word === '-F') {
        // ssh -F FILE: its client config is read instead of ~/.ssh/config (src/connection-defaults.ts).
        const next = words[++i]
        if (next === undefined) fail(name, '-F needs a file')
        option = `ConfigFile=${next}`
      } else if (word === '-o' || word === '-J') {
        const next = words[++i]
        if (next === undefined) fail(name, `${word} needs a value`)
        option = word === '-J' ? `ProxyJump=${next}` : next
      } else if (word.startsWith('-o')) option = word.slice(2)
      else if (word.startsWith('-J')) option = `ProxyJump=${word.slice(2)}`
      else fail(name, `unsupported ssh argument "${word}": only -o Key=Value and -J are understood`)
      const m = /^\s*([A-Za-z0-9]+)\s*(?:=\s*|\s+)(.*)$/.exec(option!)
      if (!m) fail(name, `expected -o Key=Value, got -o ${option}`)
      const key = m![1]!.toLowerCase()
      if (!(key in options)) {
        options[key] = m![2]! // like ssh, the first value given for an option is the one used
        origins.set(key, name)
        names.set(key, m![1]!)
      }
    }
  }
  return { options, origins, names }
}

/** `[user@]host[:port]` or `ssh://[user@]host[:port]`, comma separated. */
export function parseJumps(value: string, fail: (reason: string) => never): Jump[] {
  return value.split(',').map((hop) => {
    const m = /^(?:ssh:\/\/)?(?:([^@\s]+)@)?(\[[^\]]+\]|[^:@\s[\]]+)(?::([0-9]+))?$/.exec(hop.trim())
    if (!m) fail(`ProxyJump: expected [user@]host[:port], got "${hop}"`)
    const port = m![3] ? Number(m![3]) : 22
    if (port < 1 || port > 65535) fail(`ProxyJump: bad port in "${hop}"`)
    return { host: m![2]!.replace(/^\[(.*)\]$/, '$1'), port, ...(m![1] ? { user: m![1] } : {}) }
  })
}
