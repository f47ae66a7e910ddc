// The inventory as Ansible's InventoryManager reads it: several -i sources, each a file (YAML, else INI,
// as the yaml and ini plugins are tried in Ansible's default order), a directory of such files, or a
// host list ("h1,h2:2222,"); then the host_group_vars vars plugin: group_vars/ and host_vars/ beside each
// source and beside the playbook, merged in ansible-core 2.14's order (src/inventory.ts Builder.build).
//
// What Ansible does and we keep: in a directory, hidden files, group_vars/, host_vars/ and files ending
// in .ini, .cfg, .retry, .orig, .md, .txt, .rst, .bak, .swp, .pyc, .pyo, .rpm or ~ are skipped (we say so
// for .ini, since people name INI inventories that way); for group_vars/NAME, only the first of NAME,
// NAME.yml, NAME.yaml, NAME.json that exists is read (a directory: all its files, sorted, recursively);
// empty vars files are ignored.
//
// Where we differ, on purpose: a source that does not exist, or that neither YAML nor INI can read, is an
// error (Ansible warns and goes on with fewer hosts); executable files and files starting with #! (script
// inventories) are refused, not run; a group_vars/ or host_vars/ that is a file, or a vars file that is not
// a mapping, is an error; a group_vars/ file for a group the inventory does not have is warned about (Ansible
// ignores it, and a misspelt group name would silently lose its vars).
import { accessSync, constants, existsSync, readdirSync, realpathSync, statSync } from 'node:fs'
import { basename, dirname, extname, join, relative, resolve } from 'node:path'
import { readInput } from './input-file.ts'
import { parseIni } from './inventory-ini.ts'
import { parseAddress } from './host-pattern.ts'
import { addYamlInventory, Builder, finishInventory, type Inventory, type VarLayer } from './inventory.ts'
import { InputError } from './util.ts'
import { parseYaml, type Yaml } from './yaml.ts'

export interface SourceOptions {
  /** group_vars/ and host_vars/ here are read too, above the inventory's (ansible-playbook: the playbook's
   * directory; ansible-inventory: --playbook-dir). */
  playbookDir?: string
  warn?: (message: string) => void
}

const ignored =
  /^\.|^host_vars$|^group_vars$|^vars_plugins$|(?:\.pyc|\.pyo|\.swp|\.bak|~|\.rpm|\.md|\.txt|\.rst|\.orig|\.ini|\.cfg|\.retry)$/

/** Reads every -i source into one inventory, with group_vars/ and host_vars/. */
export function loadSources(sources: string[], options: SourceOptions = {}): Inventory {
  const warn = options.warn ?? (() => {})
  const builder = new Builder()
  const basedirs: string[] = []
  for (const source of sources) {
    if (source.includes(',') && !existsSync(source)) {
      hostList(builder, source)
      continue
    }
    const path = resolve(source)
    if (!existsSync(path)) throw new InputError('no such inventory file or directory', source)
    const dir = statSync(path).isDirectory()
    if (dir) readDirectory(builder, path, warn)
    else readFile(builder, path)
    basedirs.push(dir ? path : dirname(path))
  }
  const layers = new VarsPlugin(basedirs, options.playbookDir ? [resolve(options.playbookDir)] : [])
  const inventory = finishInventory(builder, sources[0] ?? 'inventory', (stage, kind, names) =>
    layers.get(stage, kind, names),
  )
  for (const unused of layers.unusedFiles(new Set(inventory.groups.keys()), new Set(inventory.hosts.keys())))
    warn(unused)
  return inventory
}

/** host_list.py: "h1,h2:2222," */
function hostList(builder: Builder, source: string): void {
  const origin = {
    source: {
      file: '-i',
      locate: () => ({ line: 0, column: 0 }),
      fail: (_: unknown, r: string): never => {
        throw new InputError(r, '-i')
      },
    },
    path: [],
  }
  for (const entry of source.split(',')) {
    const h = entry.trim()
    if (!h) continue
    const { host, port } = (!h.includes('[') && parseAddress(h)) || { host: h }
    if (!builder.hosts.has(host)) builder.host(host, 'ungrouped', port, origin)
  }
}

function readDirectory(builder: Builder, dir: string, warn: (message: string) => void): void {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name)
    if (ignored.test(name)) {
      if (name.endsWith('.ini')) warn(`${path}: skipped, as Ansible skips .ini files in an inventory directory`)
      continue
    }
    if (statSync(path).isDirectory()) readDirectory(builder, path, warn)
    else readFile(builder, path)
  }
}

/** One file: the yaml plugin's verdict first, then the ini plugin's. */
function readFile(builder: Builder, file: string): void {
  const text = readInput(file, 'the inventory')
  let executable = false
  try {
    accessSync(file, constants.X_OK)
    executable = true
  } catch {}
  if (executable || text.startsWith('#!'))
    throw new InputError(
      `${executable ? 'an executable file' : 'a script (#!)'} is a script inventory, which this engine does not run: give a YAML or INI file${executable ? ' (or chmod -x it)' : ''}`,
      file,
    )
  const ext = extname(file)
  let yamlError: InputError | undefined
  if (!ext || ['.yml', '.yaml', '.json'].includes(ext)) {
    let yaml: Yaml | undefined
    try {
      yaml = parseYaml(text, file)
    } catch (e) {
      if (!(e instanceof InputError)) throw e
      yamlError = e
    }
    const value = yaml?.value
    if (yaml && value && typeof value === 'object' && !Array.isArray(value)) return addYamlInventory(builder, yaml)
    // Not a YAML inventory (a syntax error, empty, a list, a string): Ansible goes on to the ini plugin.
  }
  try {
    parseIni(text, file, builder)
  } catch (e) {
    if (!(e instanceof InputError) || !yamlError) throw e
    throw new InputError(`neither a YAML inventory (${yamlError.message}) nor an INI one (${e.message})`, file)
  }
}

/** vars_plugins/host_group_vars.py, loading each file once. */
class VarsPlugin {
  private files = new Map<string, VarLayer | null>()
  private used = new Set<string>()

  constructor(
    private inventoryDirs: string[],
    private playDirs: string[],
  ) {}

  get(stage: 'inventory' | 'play', kind: 'group' | 'host', names: string[]): VarLayer[] {
    const layers: VarLayer[] = []
    for (const basedir of stage === 'inventory' ? this.inventoryDirs : this.playDirs) {
      const sub = join(basedir, kind === 'group' ? 'group_vars' : 'host_vars')
      if (!existsSync(sub)) continue
      if (!statSync(sub).isDirectory()) throw new InputError(`expected a directory of vars files, found a file`, sub)
      const real = realpathSync(sub)
      for (const name of names) {
        if (name.startsWith('/')) continue
        for (const file of findVarsFiles(real, name)) {
          this.used.add(file)
          const layer = this.load(file)
          if (layer) layers.push(layer)
        }
      }
    }
    return layers
  }

  private load(file: string): VarLayer | null {
    if (!this.files.has(file)) {
      const yaml = parseYaml(readInput(file, 'the vars file'), file)
      const value = yaml.value
      if (
        value === null ||
        value === '' ||
        (typeof value === 'object' && !Object.keys(value).length && !Array.isArray(value))
      )
        this.files.set(file, null)
      else if (typeof value !== 'object' || Array.isArray(value))
        yaml.fail([], `expected a mapping of variables, got ${Array.isArray(value) ? 'a list' : `a ${typeof value}`}`)
      else
        this.files.set(file, { vars: value as Record<string, unknown>, origin: (k) => ({ source: yaml, path: [k] }) })
    }
    return this.files.get(file)!
  }

  /** group_vars/X and host_vars/X that no group or host is named after, or that another file of the same
   * name hides (Ansible reads the first of X, X.yml, X.yaml, X.json): what to warn about. */
  unusedFiles(groups: Set<string>, hosts: Set<string>): string[] {
    const unused: string[] = []
    for (const basedir of [...this.inventoryDirs, ...this.playDirs])
      for (const [sub, names] of [
        ['group_vars', groups],
        ['host_vars', hosts],
      ] as const) {
        const dir = join(basedir, sub)
        if (!existsSync(dir) || !statSync(dir).isDirectory()) continue
        for (const entry of readdirSync(dir)) {
          if (entry.startsWith('.') || entry.endsWith('~')) continue
          const ext = extname(entry)
          const name = ['.yml', '.yaml', '.json'].includes(ext) ? basename(entry, ext) : entry
          const shown = relative('.', join(dir, entry)) || entry
          if (!names.has(name)) {
            unused.push(`${shown}: no such group or host in the inventory, so these vars are not used`)
            continue
          }
          const first = ['', '.yml', '.yaml', '.json'].map((e) => name + e).find((c) => existsSync(join(dir, c)))
          if (first !== entry)
            unused.push(`${shown}: not read, as Ansible reads only ${first} of the files named ${name}`)
        }
      }
    return [...new Set(unused)]
  }
}

/** dataloader.py find_vars_files: the first of NAME, NAME.yml, NAME.yaml, NAME.json that exists. */
function findVarsFiles(dir: string, name: string): string[] {
  for (const ext of ['', '.yml', '.yaml', '.json']) {
    const path = join(dir, name + ext)
    if (!existsSync(path)) continue
    return statSync(path).isDirectory() ? dirVarsFiles(path) : [path]
  }
  return []
}

function dirVarsFiles(dir: string): string[] {
  const found: string[] = []
  for (const entry of readdirSync(dir).sort()) {
    if (entry.startsWith('.') || entry.endsWith('~')) continue
    const ext = extname(entry)
    const path = join(dir, entry)
    const st = statSync(path)
    if (st.isDirectory() && !ext) found.push(...dirVarsFiles(path))
    else if (st.isFile() && (!ext || ['.yml', '.yaml', '.json'].includes(ext))) found.push(path)
  }
  return found
}
