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
import { readInput } from './input-file.ts'
import { badName } from './names.ts'
import { resolveConnection, type Connection } from './connection.ts'
import { expandHostPattern } from './host-pattern.ts'
import { define, InputError, plain, type Vars } from './util.ts'
import { expectedGot, parseYaml, schemaErrorPath, schemaValidator, type Path, type Yaml } from './yaml.ts'

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
  return parseInventory(readInput(file, 'the inventory'), file)
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
    const bad = badName(what === 'host name' ? 'host name' : 'group name', key)
    if (bad) this.yaml.fail(path, bad, 'key')
    return key
  }

  private yamlVar(target: RawGroup | RawHost, holder: Record<string, unknown>, name: string, path: Path): void {
    if (this.yaml.nonStringKey(holder, name))
      this.yaml.fail(path, `expected a variable name (a string), got ${name}`, 'key')
    const bad = badName('variable name', name)
    if (bad) this.yaml.fail(path, bad, 'key')
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
