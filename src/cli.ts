// `npx deploy`: options → inventory → --limit → tasks → playbook, all checked before anything connects; then
// the rollout, the report and the exit code (0 all ok, 2 a host failed, 3 a host unreachable and none failed,
// 4 bad input, 1 internal error).
import { accessSync, constants, existsSync, readFileSync, realpathSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { toAnsibleList, type Inventory } from './inventory.ts'
import { loadSources } from './inventory-sources.ts'
import { loadAnsibleConfig, type AnsibleSettings } from './ansible-config.ts'
import { completeConnection, describeConnection, varOrigin } from './connection-defaults.ts'
import { askPassword, passwordFile, redacting, setVaultSecrets, vaultId, type VaultSecret } from './vault.ts'
import { flatTasks, loadPlaybook, parseExtraVars, type Playbook } from './playbook.ts'
import { checkJsonPath, Reporter, writeJsonReport } from './report.ts'
import { planPlays, rollout, shouldRun, type Plan } from './rollout.ts'
import { builtinTasks, Registry } from './task.ts'
import { checkTemplate, isTemplated, TemplateError } from './template.ts'
import { InputError, type Vars } from './util.ts'

export const usage = `Usage: deploy -i INVENTORY [PLAYBOOK] [options]

Runs a playbook over SSH the way ansible-playbook does: batches (serial), max_fail_percentage, handlers,
--check and --diff. PLAYBOOK defaults to playbooks/deploy.yml.

Options:
  -i, --inventory SOURCE    an Ansible inventory: YAML or INI file, directory of them, or h1,h2,; repeatable;
                            group_vars/ and host_vars/ beside it (and beside the playbook) are read too
  -l, --limit PATTERN       only these hosts: name, group, glob, ~regex, !exclude, &intersect, @file
  -e, --extra-vars VARS     key=value ..., a YAML/JSON mapping, or @file.yml; repeatable; highest precedence
  -C, --check               change nothing, report what would change
  -D, --diff                show the changes made (or, with --check, that would be) to files
  -f, --forks N             hosts worked on at once within a batch (default: the whole batch)
  -t, --tags TAGS           only tasks with these tags (comma separated; all, tagged, untagged, always, never)
      --skip-tags TAGS      skip tasks with these tags
  -M, --module-path DIR     more task modules (repeatable), besides the built-in tasks/
  -T, --timeout SECONDS     SSH connection timeout (default 10)
      --accept-new-host-keys  add the keys of hosts missing from known_hosts (a changed key still fails)
      --lock-wait SECONDS   wait this long for another controller's lock on a host (default 0: that host
                            fails at once, naming the holder's pid, machine and start time)
      --no-host-lock        take no lock on the hosts (independent playbooks run at once on the same hosts)
      --json FILE           write a machine-readable report of the run
      --list-hosts          print the hosts the playbook would run on, one per line, and exit
      --list-tasks          print each play's tasks and exit
      --vault-password-file FILE  a file holding a vault password (repeatable)
      --vault-id [LABEL@]FILE|prompt  a vault secret (repeatable)
  -J, --ask-vault-pass      ask for the vault password (from stdin when it is not a terminal)
      --list-inventory      print the inventory as \`ansible-inventory --list\` does (JSON) and exit
      --playbook-dir DIR    with --list-inventory: read DIR's group_vars/ and host_vars/ too (as ansible-inventory)
  -v, --verbose             more output (-vv: task data too)
  -h, --help                show this help

Exit codes: 0 every host ok, 2 some host failed, 3 some host unreachable and none failed, 4 bad input
(nothing was contacted), 1 internal error.
`

const options = {
  inventory: { type: 'string', short: 'i', multiple: true },
  limit: { type: 'string', short: 'l', multiple: true },
  'extra-vars': { type: 'string', short: 'e', multiple: true },
  check: { type: 'boolean', short: 'C' },
  diff: { type: 'boolean', short: 'D' },
  forks: { type: 'string', short: 'f' },
  tags: { type: 'string', short: 't', multiple: true },
  'skip-tags': { type: 'string', multiple: true },
  'module-path': { type: 'string', short: 'M', multiple: true },
  timeout: { type: 'string', short: 'T' },
  'accept-new-host-keys': { type: 'boolean' },
  'lock-wait': { type: 'string' },
  'no-host-lock': { type: 'boolean' },
  json: { type: 'string' },
  'list-hosts': { type: 'boolean' },
  'list-tasks': { type: 'boolean' },
  'list-inventory': { type: 'boolean' },
  'playbook-dir': { type: 'string' },
  'vault-password-file': { type: 'string', multiple: true },
  'vault-id': { type: 'string', multiple: true },
  'ask-vault-pass': { type: 'boolean', short: 'J' },
  verbose: { type: 'boolean', short: 'v', multiple: true },
  help: { type: 'boolean', short: 'h' },
} as const

const packageRoot = fileURLToPath(new URL('..', import.meta.url))

export async function main(argv: string[], out = process.stdout, err = process.stderr): Promise<number> {
  // Nothing we print may hold a decrypted vault value (src/vault.ts).
  out = redacting(out)
  err = redacting(err)
  let parsed
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true })
  } catch (e) {
    err.write(`deploy: ${(e as Error).message}\n\n${usage}`)
    return 4
  }
  const { values, positionals } = parsed
  if (values.help) {
    out.write(usage)
    return 0
  }
  const warn = (message: string) => err.write(`[WARNING]: ${message}\n`)
  try {
    // ansible.cfg and ANSIBLE_*: below the command line, as in Ansible.
    const settings = loadAnsibleConfig(warn)
    setVaultSecrets(await vaultSecrets(values, settings))
    const sources = values.inventory ?? settings.inventory?.value
    if (!sources?.length)
      throw new InputError('an inventory is required: -i FILE (or inventory in ansible.cfg)', 'deploy')
    if (positionals.length > 1) throw new InputError(`one playbook at a time, got ${positionals.join(' ')}`, 'deploy')
    const forks = values.forks === undefined ? settings.forks?.value : Number(values.forks)
    if (forks !== undefined && !(Number.isInteger(forks) && forks > 0))
      throw new InputError(`--forks: expected a positive integer, got ${values.forks}`, 'deploy')
    const timeout = values.timeout === undefined ? settings.timeout?.value : Number(values.timeout)
    if (timeout !== undefined && !(timeout > 0))
      throw new InputError(`--timeout: expected a number of seconds, got ${values.timeout}`, 'deploy')
    const lockWait = values['lock-wait'] === undefined ? undefined : Number(values['lock-wait'])
    if (lockWait !== undefined && !(Number.isInteger(lockWait) && lockWait >= 0))
      throw new InputError(`--lock-wait: expected a whole number of seconds, got ${values['lock-wait']}`, 'deploy')
    const listing = values['list-inventory'] ?? false
    const playbookFile = positionals[0] ?? defaultPlaybook()
    const playbookDir = listing ? values['playbook-dir'] : dirname(resolve(playbookFile))
    const inventory = loadSources(sources, { ...(playbookDir ? { playbookDir } : {}), warn })
    const verbosity = values.verbose?.length ?? 0
    if (listing) {
      for (const h of inventory.hosts.values()) {
        const provenance = completeConnection(
          h.name,
          h.connection,
          (v) => varOrigin(inventory, h.name, v),
          settings,
          warn,
        )
        if (verbosity >= 3) err.write(describeConnection(h.name, h.connection, provenance))
      }
      out.write(`${JSON.stringify(toAnsibleList(inventory), null, 4)}\n`)
      return 0
    }
    // Only the built-in tasks whose names the playbook's text holds are loaded (and gather_facts' facts); a
    // playbook that names one otherwise (a key written with escapes, a task in a role's or an included file)
    // fails to parse, and is parsed again with all of them.
    const text = readText(playbookFile)
    const registry = await Registry.load(
      [builtinTasks, ...(values['module-path'] ?? []).map((d) => resolve(d))],
      (name) => name === 'facts' || text.includes(name),
    )
    const roles = settings.rolesPath ? { rolesPath: settings.rolesPath.value } : {}
    let playbook: Playbook
    try {
      playbook = await loadPlaybook(playbookFile, registry, roles)
    } catch (e) {
      if (!(e instanceof InputError) || !registry.partial) throw e
      await registry.loadAll()
      playbook = await loadPlaybook(playbookFile, registry, roles)
    }
    const extraVars = parseExtraVars(values['extra-vars'] ?? [])
    checkVarTemplates(inventory, extraVars)
    const tags = splitTags(values.tags)
    const skipTags = splitTags(values['skip-tags'])
    // Several --limit options: Ansible keeps the last one.
    const limit = values.limit?.at(-1)
    const plan = planPlays(inventory, playbook, limit, warn, extraVars)
    if (values['list-hosts']) {
      const seen = new Set<string>()
      for (const { hosts } of plan)
        for (const h of hosts) if (!seen.has(h.name)) (seen.add(h.name), out.write(`${h.name}\n`))
      return 0
    }
    if (values['list-tasks']) {
      listTasks(plan, tags, skipTags, out)
      return 0
    }
    const log = verbosity >= 3 ? (line: string) => err.write(line) : undefined
    completeConnections(plan, { inventory, playbookFile: playbook.file, extraVars, settings, warn, log })
    checkKeyFiles(plan, inventory.file)

    // The report's path is an input too: found unwritable now, not after the run.
    const jsonFile = values.json === undefined ? undefined : await checkJsonPath(values.json)
    const reporter = new Reporter({ out, verbosity })
    const report = await rollout({
      inventory,
      playbook,
      registry,
      ...(limit ? { limit } : {}),
      ...(forks ? { forks } : {}),
      check: values.check ?? false,
      diff: values.diff ?? false,
      extraVars,
      ...(tags ? { tags } : {}),
      ...(skipTags ? { skipTags } : {}),
      verbosity,
      transport: {
        acceptNewHostKeys: values['accept-new-host-keys'] ?? false,
        ...(timeout ? { connectTimeoutMs: timeout * 1000 } : {}),
      },
      emit: reporter.handle,
      warn,
      plan,
      ...(lockWait !== undefined ? { lockWait } : {}),
      ...(values['no-host-lock'] ? { hostLock: false } : {}),
    })
    if (jsonFile) await writeJsonReport(jsonFile, report)
    return report.exitCode
  } catch (e) {
    if (e instanceof InputError) {
      err.write(`ERROR: ${e.message}\n`)
      return 4
    }
    err.write(`internal error: ${(e as Error).stack ?? e}\n`)
    return 1
  }
}

/** Vault secrets: the command line's, then ansible.cfg's (as Ansible: both are used, the command line first). */
async function vaultSecrets(
  values: { 'vault-id'?: string[]; 'vault-password-file'?: string[]; 'ask-vault-pass'?: boolean },
  settings: AnsibleSettings,
): Promise<VaultSecret[]> {
  const secrets: VaultSecret[] = []
  for (const spec of values['vault-id'] ?? []) secrets.push(await vaultId(spec))
  for (const file of values['vault-password-file'] ?? []) secrets.push(passwordFile(file))
  if (values['ask-vault-pass']) secrets.push(await askPassword())
  for (const spec of settings.vaultIdentityList?.value ?? []) secrets.push(await vaultId(spec))
  if (settings.vaultPasswordFile) secrets.push(passwordFile(settings.vaultPasswordFile.value))
  return secrets
}

/** ansible.cfg and ~/.ssh/config fill in what no var set, once per connection (-vvv says where each came from). */
function completeConnections(
  plan: Plan,
  o: {
    inventory: Inventory
    playbookFile: string
    extraVars: Vars
    settings: AnsibleSettings
    warn: (message: string) => void
    log: ((line: string) => void) | undefined
  },
): void {
  const completed = new WeakSet<object>()
  for (const { play, hosts, delegates, connections } of plan)
    for (const h of [...hosts, ...delegates]) {
      const c = connections.get(h.name)!
      if (completed.has(c)) continue
      completed.add(c)
      const origin = (v: string) =>
        v in o.extraVars ? '-e' : v in play.vars ? `${o.playbookFile}:${play.line}` : varOrigin(o.inventory, h.name, v)
      const provenance = completeConnection(h.name, c, origin, o.settings, o.warn)
      o.log?.(describeConnection(h.name, c, provenance))
    }
}

/** --tags a,b --tags c: one list. */
function splitTags(list: string[] | undefined): string[] | undefined {
  return list
    ?.flatMap((t) => t.split(','))
    .map((t) => t.trim())
    .filter(Boolean)
}

/** --list-tasks: each play, its hosts and rollout rules, the tasks the tags select and its handlers. */
function listTasks(plan: Plan, tags: string[] | undefined, skipTags: string[] | undefined, out: NodeJS.WritableStream) {
  for (const { play, hosts } of plan) {
    out.write(
      `play #${play.index} (${play.hosts.join(',')}): ${play.name}\t${hosts.length} hosts, serial ${JSON.stringify(play.serial.length ? play.serial : 'all')}${play.maxFailPercentage !== undefined ? `, max_fail_percentage ${play.maxFailPercentage}` : ''}\n`,
    )
    for (const t of flatTasks(play.tasks))
      if (shouldRun([...play.tags, ...t.tags], tags, skipTags))
        out.write(
          `  ${t.role ? `${t.role} : ` : ''}${t.name}\t${t.action}${t.tags.length ? `\tTAGS: [${t.tags.join(', ')}]` : ''}\n`,
        )
    for (const h of play.handlers) out.write(`  handler: ${h.role ? `${h.role} : ` : ''}${h.name}\t${h.action}\n`)
  }
}

/** Key files are inputs too: a missing one is found now, not as N unreachable hosts. */
function checkKeyFiles(plan: Plan, inventoryFile: string): void {
  for (const { hosts, delegates, connections } of plan)
    for (const h of [...hosts, ...delegates]) {
      const key = connections.get(h.name)!.keyFile
      if (!key) continue
      try {
        accessSync(key, constants.R_OK)
      } catch {
        throw new InputError(`${h.name}: cannot read the private key file ${key}`, inventoryFile)
      }
    }
}

/** A file's text, or '' when it cannot be read (its reader says why). */
function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch {
    return ''
  }
}

function defaultPlaybook(): string {
  const local = resolve('playbooks/deploy.yml')
  return existsSync(local) ? local : resolve(packageRoot, 'playbooks/deploy.yml')
}

// Run when started as this file (`tsx src/cli.ts`); bin/deploy.js imports it and calls main itself.
const started = process.argv[1] && existsSync(process.argv[1]) ? realpathSync(process.argv[1]) : ''
// (No top-level await: the build bundles this module as CommonJS, dist/src/deploy.cjs.)
if (started === fileURLToPath(import.meta.url)) {
  void main(process.argv.slice(2)).then((code) => (process.exitCode = code))
}

/** Templates in inventory vars and -e are compiled now too: a bad one is exit 4 at its line, before connecting. */
function checkVarTemplates(inventory: Inventory, extraVars: Vars): void {
  const check = (value: unknown, where: () => [string, number, number], name: string): void => {
    if (typeof value === 'string' && isTemplated(value)) {
      try {
        checkTemplate(value)
      } catch (e) {
        if (!(e instanceof TemplateError)) throw e
        throw new InputError(e.message, ...where(), name)
      }
    } else if (value && typeof value === 'object') for (const v of Object.values(value)) check(v, where, name)
  }
  for (const [name, value] of Object.entries(extraVars)) check(value, () => ['-e', 0, 0], name)
  for (const host of inventory.hosts.values())
    for (const [name, value] of Object.entries(host.vars))
      check(
        value,
        () => {
          const at = inventory.locate?.(host.name, name)
          return at ? [at.file, at.line, at.column] : [inventory.file, 0, 0]
        },
        name,
      )
}
