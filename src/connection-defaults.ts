// What a connection gets from outside the inventory, below every inventory, play and -e var: ansible.cfg /
// ANSIBLE_* (remote_user, private_key_file, become, become_user, become_method), then the OpenSSH client
// config (~/.ssh/config, or the file of `-F FILE` in ansible_ssh_common_args) for what is still unset:
// HostName, User, Port, IdentityFile, ProxyJump, UserKnownHostsFile, StrictHostKeyChecking. This is the order
// ssh sees them with Ansible: Ansible's own -o User/Port/IdentityFile (from vars or ansible.cfg) come first,
// then the user's ssh args, then the config file, where the first Host/Match block that sets an option wins
// (IdentityFile: the first one, as this engine offers one key). The config is read with the `ssh-config`
// package (parsing and first-match-wins); Match exec is never run and Include and ProxyCommand are refused.
// Each value's origin is kept for `deploy --list-inventory -vvv`.
import { existsSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { resolve } from 'node:path'
import SSHConfig from 'ssh-config'
import type { AnsibleSettings } from './ansible-config.ts'
import { type Connection, parseJumps, sshOptionsWithoutEffect } from './connection.ts'
import type { Inventory } from './inventory.ts'
import { InputError } from './util.ts'

/** Where each connection setting came from: field → "hosts:3", "ansible.cfg:4", "~/.ssh/config: Host web*"… */
export type Provenance = Record<string, string>

const honoured = new Set([
  'host',
  'match',
  'hostname',
  'user',
  'port',
  'identityfile',
  'proxyjump',
  'userknownhostsfile',
  'stricthostkeychecking',
  'hostkeyalias',
])
// Settings that tune OpenSSH itself (or say what it already does here): read, without effect. The -o options
// of ansible_ssh_args that are without effect, and what only a config file sets.
const withoutEffect = new Set([
  ...sshOptionsWithoutEffect,
  'tcpkeepalive',
  'addkeystoagent',
  'forwardx11',
  'hashknownhosts',
  'visualhostkey',
  'updatehostkeys',
  'sendenv',
  'setenv',
  'usekeychain',
])

interface Parsed {
  file: string
  config: SSHConfig
}
const cache = new Map<string, Parsed | null>()

/** The client config at `file` (default ~/.ssh/config; missing: none), parsed once. */
export function sshConfig(file?: string, warn?: (message: string) => void): Parsed | undefined {
  const path = file ?? resolve(process.env.HOME ?? homedir(), '.ssh/config')
  if (!cache.has(path)) {
    if (!existsSync(path)) {
      if (file) throw new InputError('-F: no such ssh config file', file)
      cache.set(path, null)
    } else {
      const text = readFileSync(path, 'utf8')
      const unused = new Set<string>()
      text.split('\n').forEach((raw, i) => {
        const m = /^\s*([A-Za-z]+)(?:\s*=\s*|\s+)(.*)$/.exec(raw)
        if (!m || raw.trim().startsWith('#')) return
        const key = m[1]!.toLowerCase()
        if (key === 'include')
          throw new InputError('Include is not followed by this engine: put the hosts in this file', path, i + 1, 1)
        if (key === 'proxycommand') throw new InputError('ProxyCommand is not supported: use ProxyJump', path, i + 1, 1)
        if (key === 'match' && /\bexec\b/i.test(m[2]!))
          throw new InputError('Match exec is not supported (this engine runs no local commands)', path, i + 1, 1)
        if (!honoured.has(key) && !withoutEffect.has(key)) unused.add(m[1]!)
      })
      if (unused.size) warn?.(`${path}: not used by this engine, so without effect: ${[...unused].join(', ')}`)
      cache.set(path, { file: path, config: SSHConfig.parse(text) })
    }
  }
  return cache.get(path) ?? undefined
}

/**
 * Fills in what the vars left unset from ansible.cfg and the ssh config, in place; returns where each
 * setting came from. `origin(var)` is where an inventory/play/-e var was set, undefined when it is not set.
 */
export function completeConnection(
  name: string,
  c: Connection,
  origin: (variable: string) => string | undefined,
  settings: AnsibleSettings,
  warn?: (message: string) => void,
): Provenance {
  const from = (...vars: string[]) => vars.map(origin).find((o) => o !== undefined)
  const sshArgs = from('ansible_ssh_common_args', 'ansible_ssh_extra_args')
  const p: Provenance = {}

  p.host = from('ansible_ssh_host', 'ansible_host') ?? 'the inventory name'
  // ansible.cfg: Ansible's own -o User / -o IdentityFile come before the user's ssh args.
  const userVar = from('ansible_ssh_user', 'ansible_user')
  if (userVar) p.user = userVar
  else if (settings.remoteUser) {
    c.user = settings.remoteUser.value
    p.user = settings.remoteUser.origin
  } else if (c.user) p.user = `-o User in ${sshArgs}`
  const keyVar = from('ansible_ssh_private_key_file', 'ansible_private_key_file')
  if (keyVar) p.keyFile = keyVar
  else if (settings.privateKeyFile) {
    c.keyFile = settings.privateKeyFile.value
    p.keyFile = settings.privateKeyFile.origin
  } else if (c.keyFile) p.keyFile = `-o IdentityFile in ${sshArgs}`
  const portVar = from('ansible_ssh_port', 'ansible_port')
  if (portVar) p.port = portVar
  else if (c.sshOptions.port !== undefined) p.port = `-o Port in ${sshArgs}`
  const becomeVar = from('ansible_become')
  if (becomeVar) p.become = becomeVar
  else if (settings.become) {
    c.become = settings.become.value
    p.become = settings.become.origin
  }
  const becomeUserVar = from('ansible_become_user')
  if (becomeUserVar) p.becomeUser = becomeUserVar
  else if (settings.becomeUser) {
    c.becomeUser = settings.becomeUser.value
    p.becomeUser = settings.becomeUser.origin
  }
  if (from('ansible_become_method')) p.becomeMethod = from('ansible_become_method')!
  else if (settings.becomeMethod) p.becomeMethod = settings.becomeMethod.origin
  if (c.sshOptions.proxyjump !== undefined) p.proxyJump = `-o ProxyJump in ${sshArgs}`
  if (c.sshOptions.userknownhostsfile !== undefined) p.knownHostsFile = `-o UserKnownHostsFile in ${sshArgs}`
  if (c.sshOptions.stricthostkeychecking !== undefined)
    p.strictHostKeyChecking = `-o StrictHostKeyChecking in ${sshArgs}`

  // The ssh client config, for the destination as Ansible gives it to ssh (ansible_host, else the name).
  const parsed = sshConfig(c.sshOptions.configfile?.replace(/^~(?=$|\/)/, homedir()), warn)
  if (parsed) {
    const computed = parsed.config.compute(
      // No User in the query: the library would take it as given on ssh's command line, above the file.
      { Host: c.host },
      { ignoreCase: true, matchExec: false },
    ) as Record<string, string | string[]>
    const at = (option: string) => `${parsed.file} (${option})`
    const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v)
    const expand = (v: string) =>
      v
        .replace(/%h/g, c.host)
        .replace(/%%/g, '%')
        .replace(/^~(?=$|\/)/, homedir())
    const hostname = one(computed.hostname)
    if (hostname) {
      p.host = at('HostName')
      c.host = expand(hostname)
    }
    const user = one(computed.user)
    if (user && !p.user) {
      c.user = user
      p.user = at('User')
    }
    const port = one(computed.port)
    if (port && !p.port) {
      const n = Number(port)
      if (!(Number.isInteger(n) && n >= 1 && n <= 65535))
        throw new InputError(`${name}: Port: expected a port number (1-65535), got ${port}`, parsed.file)
      c.port = n
      p.port = at('Port')
    }
    const key = one(computed.identityfile)
    if (key && !p.keyFile) {
      c.keyFile = resolve(expand(key))
      p.keyFile = at('IdentityFile')
    }
    const jump = one(computed.proxyjump)
    if (jump && !p.proxyJump) {
      c.proxyJump =
        jump.toLowerCase() === 'none'
          ? []
          : parseJumps(jump, (reason) => {
              throw new InputError(`${name}: ${reason}`, parsed.file)
            })
      p.proxyJump = at('ProxyJump')
    }
    const known = one(computed.userknownhostsfile)
    if (known && !p.knownHostsFile) {
      c.knownHostsFile = resolve(expand(known.split(/\s+/)[0]!))
      p.knownHostsFile = at('UserKnownHostsFile')
    }
    const alias = one(computed.hostkeyalias)
    if (alias && c.hostKeyAlias === undefined) c.hostKeyAlias = alias
    const strict = one(computed.stricthostkeychecking)
    if (strict && !p.strictHostKeyChecking) {
      const s = strict.toLowerCase()
      if (!['yes', 'ask', 'accept-new'].includes(s))
        throw new InputError(
          `${name}: StrictHostKeyChecking ${strict} is not supported: host keys are always checked (accept-new, or --accept-new-host-keys, adds unknown ones)`,
          parsed.file,
        )
      if (s === 'accept-new') c.acceptNewHostKey = true
      p.strictHostKeyChecking = at('StrictHostKeyChecking')
    }
  }
  p.host ??= 'the inventory name'
  p.port ??= 'default (22)'
  p.user ??= 'default (the local user)'
  p.keyFile ??= 'none (the ssh agent)'
  p.knownHostsFile ??= 'default (~/.ssh/known_hosts)'
  p.become ??= 'default (false)'
  p.becomeUser ??= 'default (root)'
  return p
}

/** Where an inventory var of a host was set, as "file:line", or undefined when it is not set. */
export function varOrigin(inventory: Inventory, host: string, name: string): string | undefined {
  if (!(name in inventory.hosts.get(host)!.vars)) return undefined
  const at = inventory.locate?.(host, name)
  return at ? `${at.file}:${at.line}` : inventory.file
}

/** One line per host for -vvv: each connection setting and where it came from. */
export function describeConnection(name: string, c: Connection, p: Provenance): string {
  const jumps = c.proxyJump.map((j) => `${j.user ? `${j.user}@` : ''}${j.host}:${j.port}`).join(',')
  return (
    `${name}: host ${c.host} [${p.host}], port ${c.port} [${p.port}], user ${c.user ?? '-'} [${p.user}], ` +
    `key ${c.keyFile ?? '-'} [${p.keyFile}], known_hosts ${c.knownHostsFile} [${p.knownHostsFile}]` +
    `${jumps ? `, proxy jump ${jumps} [${p.proxyJump}]` : ''}, become ${c.become}${c.become ? ` as ${c.becomeUser}` : ''} [${p.become}]\n`
  )
}
