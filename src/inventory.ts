// Ansible's YAML inventory: hosts, groups and their merged vars, the way ansible-core 2.14 builds them.
//
// The build mirrors ansible/plugins/inventory/yaml.py and ansible/inventory/{data,group,host}.py step by step
// (same order of adding hosts, groups and children, same ungrouped/all reconciliation, same var precedence:
// groups sorted by depth, then ansible_group_priority, then name; host vars last), so that toAnsibleList()
// equals `ansible-inventory -i FILE --list` (test/inventory.test.ts diffs the two). YAML is read with PyYAML's
// YAML 1.1 rules (yes/no/on/off are booleans but y/n are not, 0755 is octal, 1:20 is base 60, 1e3 and 09 are
// strings, dates print as Python's isoformat), because that is what Ansible sees.
//
// Ansible behaviour worth knowing (and kept): a host's port comes from the first `name:port` entry that
// creates it, later entries' ports are ignored; `name_:22` is not a host:port Ansible understands, so the whole
// key is the host name; a host listed in `ungrouped` and in a real group leaves ungrouped; when both are set,
// the ansible_ssh_* alias beats ansible_host/_port/_user/_password; a group's vars key is set again each time
// the group appears (a dict value is replaced, not merged).
//
// Where we differ, on purpose (Ansible warns and goes on where a typo would silently drop hosts):
// - Errors, not warnings: an unknown key in a group (`host:` for `hosts:`), a group that is not a mapping,
//   duplicate keys in a mapping (Ansible keeps the last), `vars:` given as a string, a host range that is empty
//   (`[5:1]`: Ansible adds no host) or that Python happens to accept (`[-1:3]`, `[ab:cd]`), more than 100000
//   hosts from one pattern, a number as host or group name (Ansible too, less clearly).
// - ansible_group_priority must be an integer (Ansible int()s whatever it gets, floats included).
// - Connection vars are checked before anything connects: ansible_port 1-65535, ansible_become a real boolean
//   (Ansible treats unknown strings as false), become method sudo only, no Jinja templates in them (we do not
//   template), ssh args limited to `-o Key=Value` and `-J`. Of the -o options, UserKnownHostsFile, ProxyJump,
//   IdentityFile, User, Port (these three when the ansible_* var is not set: Ansible's own -o come first and
//   ssh keeps the first), StrictHostKeyChecking (yes/ask, accept-new) and HostKeyAlias are honoured; options
//   that tune OpenSSH itself (ControlMaster/Persist/Path, BatchMode, LogLevel, ServerAlive*, ConnectTimeout,
//   which Ansible's own comes before, ...) are accepted without effect; any other option, ProxyCommand and
//   StrictHostKeyChecking=no are refused. The same rules apply when play vars or -e set connection vars
//   (src/rollout.ts planPlays); task vars may not set them.
// - When both ansible_become_password and ansible_become_pass are set, ansible_become_password wins (as in
//   Ansible's PlayContext; the sudo plugin's own option lookup would take the other).
// - Not supported: script/plugin inventories, the implicit localhost, !unsafe tags (refused with their line,
//   in playbooks and -e too). INI files, directories, several sources and group_vars/host_vars are read by
//   src/inventory-sources.ts and src/inventory-ini.ts through the Builder below; !vault by src/vault.ts.
//   Magic vars (inventory_file, inventory_hostname, group_names...) are not in Host.vars, exactly as
//   ansible-inventory --list leaves them out.
// - Python quirks not copied, in keys of nested var mappings only: float keys print as JS numbers ("1", not
//   "1.0"), and `1:` and `true:` are two keys (Python's 1 == True makes them one). Integers past 2^53 lose
//   precision; .inf/.nan stay numbers (Python prints them as invalid JSON).
import { readFile } from 'node:fs/promises'
import { readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { resolve } from 'node:path'
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import {
  LineCounter,
  parseDocument,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  type Document,
  type Node,
  type ScalarTag,
  type YAMLMap,
  type YAMLSeq,
} from 'yaml'
import { splitWords } from './ssh.ts'
import { plain, PyFloat } from './template.ts'
import { decrypt, isVaultText, rememberAll, tooShort } from './vault.ts'

export type Vars = Record<string, unknown>

/** Bad input: the file, where in it, the path of keys that leads there, and what was expected. */
export class InputError extends Error {
  constructor(
    readonly reason: string,
    readonly file: string,
    readonly line = 0,
    readonly column = 0,
    readonly path = '',
  ) {
    super(`${file}${line ? `:${line}:${column}` : ''}: ${path ? `${path}: ` : ''}${reason}`)
    this.name = 'InputError'
  }
}

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

export interface Host {
  name: string
  vars: Vars // merged as Ansible does: groups by precedence, then the host's own (ansible-inventory's hostvars)
  groups: string[] // every group holding it, directly or through children, lowest precedence first (all)
  connection: Connection
}

export interface Group {
  name: string
  hosts: string[] // direct members, in inventory order
  children: string[] // direct child groups, in inventory order
  parents: string[]
  vars: Vars // the group's own vars, not merged
  depth: number // longest path from all
  priority: number // ansible_group_priority, 1 by default
}

export interface Inventory {
  file: string
  hosts: Map<string, Host> // in the order Ansible first met them
  groups: Map<string, Group> // all, ungrouped, then the order Ansible first met them
  /** Where the winning value of a host's var was set (for errors found later, such as per play). */
  locate?(host: string, name: string): { file: string; line: number; column: number } | undefined
}

/** `ansible-inventory --list`: the shape, not the formatting. */
export type AnsibleList = Record<string, { hosts?: string[]; children?: string[] }> & {
  _meta: { hostvars: Record<string, Vars> }
}

export async function loadInventory(file: string): Promise<Inventory> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (e) {
    throw new InputError(`cannot read the inventory: ${(e as Error).message}`, file)
  }
  return parseInventory(text, file)
}

export function parseInventory(text: string, file = 'inventory.yml'): Inventory {
  const builder = new Builder()
  addYamlInventory(builder, parseYaml(text, file))
  return finishInventory(builder, file)
}

/** A parsed YAML file as an inventory source (src/inventory-sources.ts reads several). */
export function addYamlInventory(builder: Builder, yaml: Yaml): void {
  const data = yaml.value as Record<string, unknown> | null
  if (data && typeof data === 'object' && !Array.isArray(data) && typeof data.plugin === 'string')
    yaml.fail(['plugin'], `this is an inventory plugin configuration (plugin: ${data.plugin}), not a YAML inventory`)
  checkSchema(yaml)
  builder.addYaml(yaml)
}

/** Reconciles, merges vars (with `layers` from group_vars/ and host_vars/) and resolves each connection. */
export function finishInventory(builder: Builder, file: string, layers?: VarLayers): Inventory {
  const built = builder.build(layers)
  for (const host of built.hosts.values()) {
    const origins = built.origins.get(host.name)!
    host.connection = resolveConnection(host.name, host.vars, (name, reason) => {
      const origin = origins.get(name) ?? nowhere
      return origin.source.fail(origin.path, reason)
    })
  }
  const locate = (host: string, name: string) => {
    const origin = built.origins.get(host)?.get(name)
    return origin ? { file: origin.source.file, ...origin.source.locate(origin.path) } : undefined
  }
  return { file, hosts: built.hosts, groups: built.groups, locate }
}

/** What `ansible-inventory -i FILE --list` prints for the same file (after JSON.parse). */
export function toAnsibleList(inventory: Inventory): AnsibleList {
  const seen = new Set<string>()
  const format = (group: Group): Record<string, { hosts?: string[]; children?: string[] }> => {
    const results: Record<string, { hosts?: string[]; children?: string[] }> = {}
    const entry: { hosts?: string[]; children?: string[] } = {}
    results[group.name] = entry
    if (group.name !== 'all') entry.hosts = [...group.hosts]
    entry.children = []
    for (const child of group.children) {
      entry.children.push(child)
      if (!seen.has(child)) {
        Object.assign(results, format(inventory.groups.get(child)!))
        seen.add(child)
      }
    }
    if (!entry.hosts?.length) delete entry.hosts
    if (!entry.children.length) delete entry.children
    if (!entry.hosts && !entry.children) delete results[group.name]
    return results
  }
  const hostvars: Record<string, Vars> = {}
  for (const host of inventory.hosts.values())
    if (Object.keys(host.vars).length) hostvars[host.name] = plain(host.vars) as Vars
  return { ...format(inventory.groups.get('all')!), _meta: { hostvars } } as AnsibleList
}

// ---------------------------------------------------------------------------------------------------------
// YAML as PyYAML reads it, remembering where every key and value came from.

export type Path = (string | number)[]

interface Where {
  key: Node | null
  value: Node | null
}

/** A parsed YAML file: plain JS value, plus the way back from any path to a line and column. */
export interface Yaml {
  file: string
  value: unknown
  /** Line and column of the value at `path` (or of its key), or of the nearest ancestor that exists. */
  locate(path: Path, at?: 'key' | 'value'): { line: number; column: number }
  /** Keys that were not strings in the YAML (`12:`, `true:`), by the object holding them. */
  nonStringKey(object: object, key: string): string | undefined
  /** Keys of `object` in the YAML's order (JS objects put integer-like keys first). */
  keys(object: object): string[]
  fail(path: Path, reason: string, at?: 'key' | 'value'): never
}

// PyYAML's implicit resolvers (yaml/resolver.py) and constructors (yaml/constructor.py), which differ from
// the `yaml` package's YAML 1.1 schema: no y/n booleans, `1e3` is a string, `09` is a string, and so on.
const yaml11 = 'tag:yaml.org,2002:'
const pyTags: ScalarTag[] = [
  {
    tag: `${yaml11}null`,
    default: true,
    identify: (v) => v === null,
    test: /^(?:~|null|Null|NULL)?$/,
    resolve: () => null,
  },
  {
    tag: `${yaml11}bool`,
    default: true,
    identify: (v) => typeof v === 'boolean',
    test: /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/,
    resolve: (s) => /^(?:yes|true|on)$/i.test(s),
  },
  {
    tag: `${yaml11}int`,
    default: true,
    identify: (v) => typeof v === 'number' && Number.isInteger(v),
    test: /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/,
    resolve: (s) => {
      let v = s.replace(/_/g, '')
      const sign = v[0] === '-' ? -1 : 1
      if ('+-'.includes(v[0]!)) v = v.slice(1)
      if (v === '0') return 0
      if (v.startsWith('0b')) return sign * parseInt(v.slice(2), 2)
      if (v.startsWith('0x')) return sign * parseInt(v.slice(2), 16)
      if (v[0] === '0') return sign * parseInt(v, 8)
      if (v.includes(':')) return sign * v.split(':').reduce((n, d) => n * 60 + Number(d), 0)
      return sign * Number(v)
    },
  },
  {
    tag: `${yaml11}float`,
    default: true,
    identify: (v) => typeof v === 'number',
    test: /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/,
    resolve: (s) => {
      let v = s.replace(/_/g, '').toLowerCase()
      const sign = v[0] === '-' ? -1 : 1
      if ('+-'.includes(v[0]!)) v = v.slice(1)
      if (v === '.inf') return sign * Infinity
      if (v === '.nan') return NaN
      const n = sign * (v.includes(':') ? v.split(':').reduce((n, d) => n * 60 + Number(d), 0) : Number(v))
      // A whole float keeps being a float (Python prints 1.0), see template.ts's PyFloat.
      return Number.isInteger(n) ? (new PyFloat(n) as unknown as number) : n
    },
  },
  {
    // Ansible prints dates with Python's isoformat(); keeping that string is all the engine needs.
    tag: `${yaml11}timestamp`,
    default: true,
    identify: () => false,
    test: /^(?:[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)$/,
    resolve: (s, onError) => isoformat(s) ?? (onError(`not a valid date: ${s}`), s),
  },
]

function isoformat(s: string): string | undefined {
  const m =
    /^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:(?:[Tt]|[ \t]+)([0-9]{1,2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]*))?(?:[ \t]*(Z|([-+])([0-9]{1,2})(?::([0-9]{2}))?))?)?$/.exec(
      s,
    )!
  const [, y, mo, d, h, mi, sec, frac, tz, sign, tzh, tzm] = m
  const pad = (n: string | undefined, w = 2) => (n ?? '0').padStart(w, '0')
  const date = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)))
  if (date.getUTCMonth() !== Number(mo) - 1 || date.getUTCDate() !== Number(d)) return undefined
  if (Number(h) > 23 || Number(mi) > 59 || Number(sec) > 59) return undefined
  let out = `${y}-${pad(mo)}-${pad(d)}`
  if (h === undefined) return out
  out += `T${pad(h)}:${mi}:${sec}`
  const micro = (frac ?? '').slice(0, 6).padEnd(6, '0')
  if (Number(micro)) out += `.${micro}`
  if (sign) out += `${sign}${pad(tzh)}:${pad(tzm)}`
  else if (tz) out += '+00:00'
  return out
}

const ours = new Set(pyTags.map((t) => t.tag))

// `!vault |` values: decrypted with the run's vault secrets, or an error at their line.
const vaultTag: ScalarTag = {
  tag: '!vault',
  identify: () => false,
  resolve: (text, onError) => {
    const r = decrypt(text)
    if (!r.ok) return (onError(`!vault: ${r.reason}`), text)
    if (tooShort(r.value))
      return (
        onError('!vault: the decrypted value is shorter than 4 characters, too short to keep out of the output'),
        text
      )
    return r.value
  },
}

/** Parses one YAML document the way Ansible's loader would; any YAML error is an InputError. */
export function parseYaml(text: string, file: string): Yaml {
  // A file encrypted whole by ansible-vault (src/vault.ts): its plaintext is read, and all of it is secret.
  const whole = isVaultText(text)
  if (whole) {
    const r = decrypt(text)
    if (!r.ok) throw new InputError(r.reason, file, 1, 1)
    text = r.value
  }
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, {
    version: '1.1',
    merge: true,
    uniqueKeys: false, // checked in convert(), which knows the path and the first occurrence
    lineCounter,
    prettyErrors: false,
    customTags: (tags) => [...tags.filter((t) => typeof t !== 'object' || !ours.has(t.tag)), ...pyTags, vaultTag],
  })
  // Unknown tags would be read as plain text: a !vault value would be used as ciphertext, an !unsafe one
  // templated. Both are refused.
  const tag = doc.warnings.find((w) => w.code === 'TAG_RESOLVE_FAILED')
  if (tag) {
    const { line, col } = lineCounter.linePos(tag.pos[0])
    const name = /Unresolved tag: (\S+)/.exec(tag.message)?.[1] ?? 'this tag'
    throw new InputError(
      `${name} is not supported by this engine${name === '!vault' ? ' (vault-encrypted values cannot be decrypted here)' : ''}`,
      file,
      line,
      col,
    )
  }
  const error = doc.errors[0]
  if (error) {
    let offset = error.pos[0]
    let reason = error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')
    const quote = /^Missing closing (["'])quote/.exec(reason)?.[1]
    if (quote && text.lastIndexOf(quote, offset - 1) >= 0) {
      // Reported at the end of the file; the quote that opened the string is the useful place.
      offset = text.lastIndexOf(quote, offset - 1)
      reason = `the string opened by ${quote} here is never closed`
    }
    const { line, col } = lineCounter.linePos(offset)
    throw new InputError(reason, file, line, col)
  }

  const places = new WeakMap<object, Map<string, Where>>()
  const nonString = new WeakMap<object, Map<string, string>>()
  const at = (node: Node | null | undefined) => {
    const { line, col } = lineCounter.linePos(node?.range?.[0] ?? 0)
    return { line, column: col }
  }
  const fail: (path: Path, reason: string, where?: 'key' | 'value') => never = (path, reason, where = 'value') => {
    const { line, column } = yaml.locate(path, where)
    throw new InputError(reason, file, line, column, path.join('.'))
  }
  let budget = 1_000_000 // aliases can make a small file huge ("billion laughs")
  const active = new Set<Node>()

  // Errors found while converting: yaml.value does not exist yet, so the node itself gives the place.
  const failAt: (node: unknown, path: Path, reason: string) => never = (node, path, reason) => {
    const { line, column } = at(node as Node)
    throw new InputError(reason, file, line, column, path.join('.'))
  }
  const convert = (node: unknown, path: Path): unknown => {
    if (--budget < 0) failAt(node, path, 'too many values once aliases are expanded')
    if (isAlias(node)) {
      const target = node.resolve(doc as Document.Parsed)
      if (!target) return failAt(node, path, `unknown alias *${node.source}`)
      if (active.has(target)) failAt(node, path, `alias *${node.source} contains itself`)
      return convert(target, path)
    }
    if (isScalar(node)) return node.value
    if (!isSeq(node) && !isMap(node)) return node ?? null // an empty document
    active.add(node)
    try {
      return convertCollection(node, path)
    } finally {
      active.delete(node)
    }
  }
  const convertCollection = (node: YAMLMap | YAMLSeq, path: Path): unknown => {
    if (isSeq(node)) {
      const list: unknown[] = []
      const where = new Map<string, Where>()
      places.set(list, where)
      node.items.forEach((item, i) => {
        where.set(String(i), { key: null, value: item as Node })
        list.push(convert(item, [...path, i]))
      })
      return list
    }
    {
      const object: Record<string, unknown> = {}
      const where = new Map<string, Where>()
      const odd = new Map<string, string>()
      places.set(object, where)
      nonString.set(object, odd)
      const set = (key: string, value: unknown, place: Where) => {
        if (!where.has(key)) where.set(key, place)
        else where.get(key)!.value = place.value
        Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true })
      }
      // PyYAML puts merged keys first (later merge sources and then explicit keys override them).
      const merged: [string, unknown, Where, string | undefined][] = []
      const explicit: [Node, Node | null][] = []
      for (const pair of node.items) {
        const key = pair.key as Node
        if (isScalar(key) && typeof key.value === 'symbol') {
          const sources = isAlias(pair.value) ? pair.value.resolve(doc as Document.Parsed) : pair.value
          const list = isSeq(sources) ? [...sources.items].reverse() : [sources]
          for (const source of list) {
            const value = convert(source, path)
            if (!value || typeof value !== 'object' || Array.isArray(value))
              failAt(pair.key, path, 'a merge key (<<) takes a mapping or a list of mappings')
            for (const [k, w] of places.get(value)!)
              merged.push([k, (value as Record<string, unknown>)[k], w, nonString.get(value)?.get(k)])
          }
        } else explicit.push([key, pair.value as Node | null])
      }
      for (const [k, v, w, kind] of merged) {
        set(k, v, w)
        if (kind) odd.set(k, kind)
      }
      const first = new Map<string, Node>()
      for (const [keyNode, valueNode] of explicit) {
        const key = isAlias(keyNode) ? keyNode.resolve(doc as Document.Parsed) : keyNode
        if (!isScalar(key)) return failAt(keyNode, path, 'a mapping key must be a plain value, not a list or mapping')
        const raw = key.value
        const name = raw === null ? 'null' : String(raw)
        if (first.has(name)) {
          const { line, column } = at(keyNode)
          throw new InputError(
            `duplicate key "${name}" (first at line ${at(first.get(name)).line})`,
            file,
            line,
            column,
            [...path, name].join('.'),
          )
        }
        first.set(name, keyNode)
        if (typeof raw !== 'string') odd.set(name, raw === null ? 'null' : typeof raw)
        set(name, convert(valueNode, [...path, name]), { key: keyNode, value: valueNode })
      }
      return object
    }
  }

  const yaml: Yaml = {
    file,
    value: null,
    locate(path, where = 'value') {
      let node: Node | null = (doc.contents as Node | null) ?? null
      let value: unknown = yaml.value
      for (const [i, segment] of path.entries()) {
        const place = value && typeof value === 'object' ? places.get(value)?.get(String(segment)) : undefined
        if (!place) break
        node = (i === path.length - 1 && where === 'key' ? place.key : (place.value ?? place.key)) ?? node
        value = (value as Record<string, unknown>)[String(segment)]
      }
      return at(node)
    },
    nonStringKey: (object, key) => nonString.get(object)?.get(key),
    keys: (object) => [...(places.get(object)?.keys() ?? Object.keys(object))],
    fail,
  }
  yaml.value = convert(doc.contents, [])
  if (whole) rememberAll(yaml.value)
  return yaml
}

// ---------------------------------------------------------------------------------------------------------
// Schema

/** A JSON Schema from src/schemas/, compiled on first use. */
export function schemaValidator(name: string, options: { allErrors: boolean }): () => ValidateFunction {
  let validate: ValidateFunction | undefined
  return () => {
    if (!validate) {
      const schema = JSON.parse(readFileSync(new URL(`./schemas/${name}`, import.meta.url), 'utf8'))
      validate = new Ajv({ allErrors: options.allErrors, verbose: true, strict: true, allowUnionTypes: true }).compile(
        schema,
      )
    }
    return validate
  }
}

/** Where an ajv error points, as YAML keys. */
export function schemaErrorPath(error: ErrorObject): Path {
  return error.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
}

/** "expected <the schema's description>, got <what the value is>". */
export function expectedGot(error: ErrorObject): string {
  const schema = error.parentSchema as { description?: string } | undefined
  return `expected ${schema?.description ?? error.message ?? 'something else'}, got ${describe(error.data)}`
}

const inventorySchema = schemaValidator('inventory.schema.json', { allErrors: false })

function checkSchema(yaml: Yaml): void {
  const validate = inventorySchema()
  if (validate(plain(yaml.value))) return
  const error = validate.errors!.at(-1)!
  const path = schemaErrorPath(error)
  if (error.keyword === 'additionalProperties') {
    const key = (error.params as { additionalProperty: string }).additionalProperty
    yaml.fail([...path, key], `unexpected key "${key}": a group has only hosts, children and vars`, 'key')
  }
  yaml.fail(path, expectedGot(error))
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return 'nothing'
  if (Array.isArray(value)) return 'a list'
  if (typeof value === 'object') return 'a mapping'
  if (typeof value === 'string')
    return `a string (${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)})`
  return `a ${typeof value} (${String(value)})`
}

// ---------------------------------------------------------------------------------------------------------
// Building the inventory, in Ansible's order.

/** A file the inventory was read from, able to point at a place in itself (a Yaml; an INI file's lines). */
export type Source = Pick<Yaml, 'file' | 'locate' | 'fail'>
/** Where something was written: a path in a source. */
export interface Origin {
  source: Source
  path: Path
}
/** Vars from outside the inventory sources (group_vars/, host_vars/), with where each one was written. */
export interface VarLayer {
  vars: Vars
  origin(name: string): Origin
}
/** Ansible's vars plugins (host_group_vars): the layers for some groups or a host, beside the inventory
 * sources ('inventory') or beside the playbook ('play'), in the order Ansible combines them. */
export type VarLayers = (stage: 'inventory' | 'play', kind: 'group' | 'host', names: string[]) => VarLayer[]

interface RawGroup extends Group {
  varPaths: Map<string, Origin>
}
interface RawHost {
  name: string
  vars: Vars
  varPaths: Map<string, Origin>
  groups: string[] // direct membership
}
/** Where the winning value of each merged var of a host was set. */
type Origins = Map<string, Origin>

const nowhere: Origin = {
  source: {
    file: 'inventory',
    locate: () => ({ line: 0, column: 0 }),
    fail: (_, reason) => {
      throw new InputError(reason, 'inventory')
    },
  },
  path: [],
}

/** ansible/inventory/data.py InventoryData: every source adds to one of these (addYaml, or the INI parser
 * through group/host/child/setVar), then build() reconciles and merges vars. */
export class Builder {
  groups = new Map<string, RawGroup>()
  hosts = new Map<string, RawHost>()
  origins = new Map<string, Origins>()
  private yaml!: Yaml

  constructor() {
    this.group('all')
    this.group('ungrouped')
    this.child('all', 'ungrouped', nowhere)
  }

  /** yaml.py InventoryModule.parse */
  addYaml(yaml: Yaml): void {
    this.yaml = yaml
    const data = yaml.value as Record<string, unknown>
    for (const name of yaml.keys(data)) this.parseGroup(data, name, [name])
  }

  build(layers?: VarLayers): { hosts: Map<string, Host>; groups: Map<string, Group>; origins: Map<string, Origins> } {
    this.reconcile()
    const groups = new Map<string, Group>()
    const depths = new Map<string, number>([['all', 0]])
    const depth = (g: RawGroup): number => {
      if (!depths.has(g.name)) depths.set(g.name, Math.max(...g.parents.map((p) => depth(this.groups.get(p)!) + 1)))
      return depths.get(g.name)!
    }
    for (const g of this.groups.values()) {
      g.depth = depth(g)
      const { varPaths: _, ...group } = g
      groups.set(g.name, group)
    }
    const hosts = new Map<string, Host>()
    for (const h of this.hosts.values()) {
      const all = new Set<string>()
      const climb = (name: string) => {
        if (all.has(name)) return
        all.add(name)
        for (const p of this.groups.get(name)!.parents) climb(p)
      }
      h.groups.forEach(climb)
      const sorted = [...all].map((n) => this.groups.get(n)!)
      sorted.sort(
        (a, b) => a.depth - b.depth || a.priority - b.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
      )
      const vars: Vars = {}
      const origins: Origins = new Map()
      const layer = (source: VarLayer) => {
        for (const [k, v] of Object.entries(source.vars)) {
          define(vars, k, v)
          origins.set(k, source.origin(k))
        }
      }
      const own = (g: RawGroup | RawHost): VarLayer => ({ vars: g.vars, origin: (k) => g.varPaths.get(k)! })
      // vars/manager.py get_vars with the default VARIABLE_PRECEDENCE: the inventory's own group vars (all
      // first), group_vars/ beside the inventory then beside the playbook (all, then the others), host vars.
      sorted.forEach((g) => layer(own(g)))
      const others = sorted.filter((g) => g.name !== 'all').map((g) => g.name)
      if (layers) {
        for (const stage of ['inventory', 'play'] as const) layers(stage, 'group', ['all']).forEach(layer)
        for (const stage of ['inventory', 'play'] as const) layers(stage, 'group', others).forEach(layer)
      }
      layer(own(h))
      if (layers) for (const stage of ['inventory', 'play'] as const) layers(stage, 'host', [h.name]).forEach(layer)
      this.origins.set(h.name, origins)
      hosts.set(h.name, { name: h.name, vars, groups: sorted.map((g) => g.name), connection: undefined! })
    }
    return { hosts, groups, origins: this.origins }
  }

  // yaml.py InventoryModule._parse_group
  private parseGroup(parent: Record<string, unknown>, key: string, path: Path): string {
    const name = this.name(parent, key, path, 'group name')
    this.group(name)
    const data = parent[key] as Record<string, unknown> | null
    if (!data) return name
    for (const section of this.yaml.keys(data)) {
      let entries = data[section] as Record<string, unknown> | string | null
      if (entries === null) continue
      const at = [...path, section]
      if (typeof entries === 'string') entries = { [entries]: null } // `hosts: web1` is allowed
      if (section === 'vars') {
        for (const v of this.yaml.keys(entries)) this.yamlVar(this.groups.get(name)!, entries, v, [...at, v])
      } else if (section === 'children') {
        for (const child of this.yaml.keys(entries))
          this.child(name, this.parseGroup(entries, child, [...at, child]), { source: this.yaml, path: [...at, child] })
      } else if (section === 'hosts') {
        for (const pattern of this.yaml.keys(entries)) {
          const hostPath = [...at, pattern]
          const { names, port } = expandHostPattern(this.name(entries, pattern, hostPath, 'host name'), (reason) =>
            this.yaml.fail(hostPath, reason, 'key'),
          )
          const vars = (entries[pattern] ?? {}) as Record<string, unknown>
          for (const host of names) {
            this.host(host, name, port, { source: this.yaml, path: hostPath })
            for (const v of this.yaml.keys(vars)) this.yamlVar(this.hosts.get(host)!, vars, v, [...hostPath, v])
          }
        }
      }
    }
    return name
  }

  private name(holder: object, key: string, path: Path, what: string): string {
    const kind = this.yaml.nonStringKey(holder, key)
    if (kind) this.yaml.fail(path, `expected a ${what} (a string), got a ${kind} (${key}): quote it`, 'key')
    if (!key) this.yaml.fail(path, `a ${what} cannot be empty`, 'key')
    return key
  }

  private yamlVar(target: RawGroup | RawHost, holder: Record<string, unknown>, name: string, path: Path): void {
    if (this.yaml.nonStringKey(holder, name))
      this.yaml.fail(path, `expected a variable name (a string), got ${name}`, 'key')
    this.setVar(target, name, holder[name], { source: this.yaml, path })
  }

  /** data.py set_variable on a group or host that exists. */
  setVar(target: RawGroup | RawHost, name: string, value: unknown, origin: Origin): void {
    if ('priority' in target && name === 'ansible_group_priority') {
      const priority = Number(value)
      if (!Number.isInteger(priority))
        origin.source.fail(origin.path, `ansible_group_priority: expected an integer, got ${String(value)}`)
      target.priority = priority
    } else {
      define(target.vars, name, value)
      target.varPaths.set(name, origin)
    }
  }

  group(name: string): void {
    if (!this.groups.has(name))
      this.groups.set(name, {
        name,
        hosts: [],
        children: [],
        parents: [],
        vars: {},
        depth: 0,
        priority: 1,
        varPaths: new Map(),
      })
  }

  // data.py InventoryData.add_host: the port of the first entry that creates the host is the one that counts.
  host(name: string, group: string, port: number | undefined, origin: Origin): void {
    if (!this.hosts.has(name)) {
      const host: RawHost = { name, vars: {}, varPaths: new Map(), groups: [] }
      if (port) {
        host.vars.ansible_port = port
        host.varPaths.set('ansible_port', origin)
      }
      this.hosts.set(name, host)
    }
    const g = this.groups.get(group)!
    if (!g.hosts.includes(name)) {
      g.hosts.push(name)
      this.hosts.get(name)!.groups.push(group)
    }
  }

  // group.py Group.add_child_group, which refuses loops.
  child(parent: string, child: string, origin: Origin): void {
    const p = this.groups.get(parent)!
    if (p.children.includes(child)) return
    const fail = (reason: string) => origin.source.fail(origin.path, reason, 'key')
    if (parent === child) fail(`group "${child}" cannot be a child of itself`)
    if (child === 'all') fail('group "all" holds every group and cannot be a child of one')
    const chain = this.ancestry(parent, child)
    if (chain) fail(`group "${child}" would be its own ancestor: ${[...chain.reverse(), child].join(' → ')}`)
    p.children.push(child)
    const c = this.groups.get(child)!
    if (!c.parents.includes(parent)) c.parents.push(parent)
  }

  /** The path up from `from` to the ancestor `target` (ending with it), if there is one. */
  private ancestry(from: string, target: string, seen = new Set<string>()): string[] | undefined {
    if (from === target) return [from]
    if (seen.has(from)) return undefined
    seen.add(from)
    for (const p of this.groups.get(from)!.parents) {
      const up = this.ancestry(p, target, seen)
      if (up) return [from, ...up]
    }
    return undefined
  }

  // data.py InventoryData.reconcile_inventory
  private reconcile(): void {
    for (const g of this.groups.values())
      if (g.name !== 'all' && g.parents.length === 0) this.child('all', g.name, nowhere)
    const ungrouped = this.groups.get('ungrouped')!
    for (const h of this.hosts.values()) {
      const mine = new Set<string>()
      const climb = (name: string) => {
        if (mine.has(name)) return
        mine.add(name)
        this.groups.get(name)!.parents.forEach(climb)
      }
      h.groups.forEach(climb)
      if (mine.has('ungrouped')) {
        if ([...mine].some((g) => g !== 'all' && g !== 'ungrouped') && ungrouped.hosts.includes(h.name)) {
          ungrouped.hosts.splice(ungrouped.hosts.indexOf(h.name), 1)
          h.groups.splice(h.groups.indexOf('ungrouped'), 1)
        }
      } else if (mine.size === 0 || (mine.size === 1 && mine.has('all'))) {
        ungrouped.hosts.push(h.name)
        h.groups.push('ungrouped')
      }
    }
  }
}

// `__proto__` is a fine variable name; plain assignment would not store it.
function define(object: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true })
}

// ---------------------------------------------------------------------------------------------------------
// Host patterns: `web[01:50].example.com:2222`. Ported from ansible/parsing/utils/addresses.py (the port is
// split off only when what is left is a valid host name or address) and expand_hostname_range().

const numericRange = String.raw`\[(?:[0-9]+:[0-9]+)(?::[0-9]+)?\]`
const hexRange = String.raw`\[(?:[0-9a-f]+:[0-9a-f]+)(?::[0-9]+)?\]`
const alnumRange = String.raw`\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]`
const v6 = `(?:[0-9a-f]{1,4}|${hexRange})`
const v4 = `(?:[01]?[0-9]{1,2}|2[0-4][0-9]|25[0-5]|${numericRange})`
const label = String.raw`(?:[\p{L}\p{N}_]|${alnumRange})(?:[\p{L}\p{N}_-]|${alnumRange})*(?<![_-])`
const addressPatterns = {
  bracketedHostPort: /^\[(.+)\]:([0-9]+)$/,
  hostPort: /^((?:[^:[\]]|\[[^\]]*\])*):([0-9]+)$/,
  ipv4: new RegExp(`^(?:${v4}\\.){3}${v4}$`, 'iu'),
  // Python's `^a|b|...|z$` anchors only the last alternative at the end; so does this.
  ipv6: new RegExp(
    `^(?:(?:${v6}:){7}${v6}|(?:${v6}:){1,6}:|(?:${v6}:)(?::${v6}){1,6}|(?:${v6}:){2}(?::${v6}){1,5}|` +
      `(?:${v6}:){3}(?::${v6}){1,4}|(?:${v6}:){4}(?::${v6}){1,3}|(?:${v6}:){5}(?::${v6}){1,2}|` +
      `(?:${v6}:){6}(?::${v6})|:(?::${v6}){1,6}|${v6}?::|(?:0:){6}(?:${v6}\\.){3}${v6}|` +
      `::(?:ffff:)?(?:${v6}\\.){3}${v6}|(?:0:){5}ffff:(?:${v6}\\.){3}${v6}$)`,
    'iu',
  ),
  hostname: new RegExp(`^${label}(?:\\.${label})*$`, 'iu'),
}

const maxHosts = 100_000
const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ' // Python's string.ascii_letters

/** ansible's parse_address(allow_ranges=True): host and port, or undefined when Ansible would not understand it. */
export function parseAddress(address: string): { host: string; port?: number } | undefined {
  let port: number | undefined
  for (const re of [addressPatterns.bracketedHostPort, addressPatterns.hostPort]) {
    const m = re.exec(address)
    if (m) [address, port] = [m[1]!, Number(m[2])]
  }
  if (![addressPatterns.ipv4, addressPatterns.ipv6, addressPatterns.hostname].some((re) => re.test(address)))
    return undefined
  return port === undefined ? { host: address } : { host: address, port }
}

/** Host names and port of one inventory host entry; `fail` is called with what is wrong with a range. */
export function expandHostPattern(
  pattern: string,
  fail: (reason: string) => never,
): { names: string[]; port?: number } {
  // Not a host[:port] Ansible understands: the whole key is the name (and may still hold ranges).
  const { host, port } = parseAddress(pattern) ?? { host: pattern }
  return { names: host.includes('[') ? expandRange(host, fail) : [host], ...(port === undefined ? {} : { port }) }
}

function expandRange(line: string, fail: (reason: string) => never, budget = { left: maxHosts }): string[] {
  const open = line.indexOf('[')
  const close = line.indexOf(']')
  if (close < open) fail(`unclosed host range in "${line}": expected [begin:end] or [begin:end:step]`)
  const [head, range, tail] = [line.slice(0, open), line.slice(open + 1, close), line.slice(close + 1)]
  const bounds = range.split(':')
  if (bounds.length !== 2 && bounds.length !== 3)
    fail(`bad host range [${range}]: expected [begin:end] or [begin:end:step]`)
  const [beg = '0', end, stepText = '1'] = bounds.map((b, i) => (i === 0 && b === '' ? '0' : b))
  if (!end) fail(`bad host range [${range}]: the end is missing`)
  if (!/^[0-9]+$/.test(stepText) || Number(stepText) === 0)
    fail(`bad host range [${range}]: the step must be a positive integer`)
  const step = Number(stepText)
  let seq: string[] = []
  if (letters.includes(beg) && beg.length === 1 && letters.includes(end) && end.length === 1) {
    const [from, to] = [letters.indexOf(beg), letters.indexOf(end)]
    if (from > to) fail(`bad host range [${range}]: begin must not come after end`)
    for (let i = from; i <= to; i += step) seq.push(letters[i]!)
  } else if (/^[0-9]+$/.test(beg) && /^[0-9]+$/.test(end)) {
    const width = beg[0] === '0' && beg.length > 1 ? beg.length : 0 // a leading zero asks for zero-padding
    if (width && end.length !== width)
      fail(`bad host range [${range}]: begin and end must have the same number of digits`)
    if (Number(end) < Number(beg)) fail(`bad host range [${range}]: it is empty (begin after end)`)
    if ((Number(end) - Number(beg)) / step >= budget.left)
      fail(`host range [${range}] makes more than ${maxHosts} hosts`)
    for (let i = Number(beg); i <= Number(end); i += step) seq.push(String(i).padStart(width, '0'))
  } else fail(`bad host range [${range}]: expected numbers ([1:9], [01:50]) or single letters ([a:f])`)
  const names: string[] = []
  for (const item of seq) {
    const name = head + item + tail
    if (name.includes('[')) names.push(...expandRange(name, fail, budget))
    else names.push(name)
    if (--budget.left < 0) fail(`host pattern "${line}" makes more than ${maxHosts} hosts`)
  }
  return names
}

// ---------------------------------------------------------------------------------------------------------
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
const sshOptionsWithoutEffect = new Set([
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
  const become = becomeVar ? /^(?:y|yes|on|1|true|t)$/i.test(String(becomeVar[1])) : false
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

  return {
    host: text('ansible_ssh_host', 'ansible_host') ?? name,
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
