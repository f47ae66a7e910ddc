// What a task is and what it sees. A task is a module in tasks/ (or a -M directory) that default-exports a
// Task; the registry loads every module there, and a playbook entry's key (`copy:`) picks one, as in Ansible.
// The engine never imports a task by name.
//
// A task reads facts on the host (src/fact.ts) and returns the changes it would make; the engine applies them
// unless --check (settle). A task's run never sees whether it is under --check, so it cannot forget it:
// --check, --diff and `changed` come from the same Change objects.
import { readdir, readFile } from 'node:fs/promises'
import { extname, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { ValidateFunction } from 'ajv'
import { gather, gatherCommand, parseFacts, type Exec, type Fact, type FactCall, type FactOutput } from './fact.ts'
import { Unreachable, type ExecResult, type Session } from './ssh.ts'
import { render } from './template.ts'
import type { Connection } from './connection.ts'
import { importModule, InputError, quote, type Vars } from './util.ts'
import { compileSchema, pickError, schemaErrorPath } from './yaml.ts'

export interface Task<Args = any> {
  /** The playbook key that selects it: `copy:`. Lower case, digits and `_`. */
  name: string
  /** One line for --help and --list-tasks -v. */
  description?: string
  /** JSON Schema of the args, checked before anything connects (after templating, again per host). */
  schema: object
  /** The arg a plain string value stands for (`command: ls /` is `command: { cmd: ls / }`). */
  freeForm?: string
  /** Other names of args, as Ansible's aliases (lineinfile's `dest` for `path`): renamed before the schema. */
  aliases?: Record<string, string>
  /**
   * Optional phase that sees the whole batch once, before `run` is called for each host (e.g. build once per
   * kernel release). It may return results for some hosts: those are final and `run` is not called for them.
   * Throwing fails the task on every host of the batch.
   */
  batch?(targets: BatchTarget<Args>[], ctx: BatchContext): Promise<Map<string, TaskResult> | void>
  /**
   * Optional: checks the inputs the args name on the controller (a template file parses, a `src` exists, a
   * command line splits), before anything connects. Throws an Error saying what is wrong. Args that are still
   * templates (`isTemplated`) cannot be checked yet and are left alone.
   */
  checkInputs?(args: Args, ctx: { baseDir: string; searchPath?: string[] }): void
  /** Reads the host and returns what it would change (TaskResult.changes); throwing is a failure. */
  run(host: Target, args: Args, ctx: TaskContext): Promise<TaskResult>
  /**
   * Optional: the facts `run` reads first for these args (the same calls, same arguments). The engine gathers
   * those of the tasks ahead in one remote command (ReadAhead), so checking N tasks that change nothing costs
   * one round trip rather than N.
   */
  reads?(args: Args, ctx: { baseDir: string }): FactCall[]
}

export interface BatchTarget<Args> {
  host: Target
  args: Args
}

export interface TaskResult {
  /** Set by tasks that change something without a Change (the build's batch phase); else from `changes`. */
  changed: boolean
  /** What the task would change, in order: the engine applies them unless --check. */
  changes?: Change[]
  failed?: boolean
  skipped?: boolean
  msg?: string
  /** What changed (or would), for --diff: one entry per file. */
  diff?: FileDiff[]
  /** Registered with the result (`register:`), and written to the --json report. */
  data?: Record<string, unknown>
  /** Merged into the host's facts (ansible_facts, and ansible_NAME vars) for the rest of the run. */
  facts?: Vars
  /** Host vars for the rest of the run, at the precedence of registered vars (set_fact). */
  vars?: Vars
}

export interface FileDiff {
  path: string
  before: string // '' when the file does not exist yet
  after: string // '' when it will be removed
  /** Set instead of before/after for content that is not text. */
  binary?: boolean
}

/**
 * One change a task would make. Its describe and diff are what --check, --diff and the recap show; apply is
 * called by the engine only when not under --check, in the order the task returned the changes.
 */
export interface Change {
  /** For the result's msg: "created /etc/x", "reload 1a2b → 3c4d". */
  describe: string
  diff?: FileDiff
  /**
   * Set when --check cannot tell what applying would do (a command's effect): under --check the task is then
   * reported skipped, with this reason, as Ansible's command module is.
   */
  unpredictable?: string
  /**
   * Set for work that must be done but is not a change in the result's sense unless its apply says so
   * (`changed: true`): apt's cache update when packages are named (Ansible reports it as cache_updated, not
   * changed), systemd's daemon-reload. It is applied like any change; under --check it counts for nothing.
   */
  quiet?: boolean
  /**
   * Makes the change. It may refine the result (data from what it ran; `failed` with a msg, which stops the
   * changes after it; `changed: false` when it turned out to change nothing). Throwing fails the task.
   */
  apply(): Promise<Partial<TaskResult> | void>
}

export interface TaskContext {
  /** --diff: return FileDiffs. */
  diff: boolean
  verbosity: number
  /** Where relative controller paths (copy's src, fetch's dest) are resolved: the playbook's directory. */
  baseDir: string
  /** Searched before baseDir for a relative src, as Ansible's search path: the task's role directory (and its
   * parent roles'), the directory of the file the task is in. */
  searchPath?: string[]
  /** The same Map for `batch` and every `run` of this task in this batch: state shared between them. */
  shared: Map<string, unknown>
  /** Host names of the current batch, and of the whole play. */
  batchHosts: string[]
  playHosts: string[]
  /**
   * The facts another host has gathered so far in this run (an earlier play or task), a copy; undefined when
   * none (not in this run, limited out, unreachable). Ansible's `hostvars[name].ansible_facts`, for tasks.
   */
  factsOf(host: string): Vars | undefined
  /** A line of output shown at -v and above. */
  log(message: string): void
}

/** The batch phase acts for the whole batch at once (one build for many hosts), so it is told about --check. */
export interface BatchContext extends TaskContext {
  /** --check (or the task's check_mode): decide, change nothing. */
  check: boolean
}

/**
 * What the engine does with a task's result: applies its changes unless `check`, and fills changed, msg and
 * diff from them. Under --check a change that cannot be predicted makes the result skipped.
 */
export async function settle(result: TaskResult, check: boolean): Promise<TaskResult> {
  const { changes = [], ...rest } = result
  if (!changes.length) return rest
  const counted = changes.filter((c) => !c.quiet)
  const diff = [...(rest.diff ?? []), ...counted.flatMap((c) => (c.diff ? [c.diff] : []))]
  const msg = rest.msg ?? (counted.map((c) => c.describe).join('; ') || undefined)
  const settled: TaskResult = {
    ...rest,
    changed: counted.length > 0 || rest.changed,
    ...(msg !== undefined ? { msg } : {}),
    ...(diff.length ? { diff } : {}),
  }
  if (check) {
    const unpredictable = changes.find((c) => c.unpredictable)
    return unpredictable ? { ...settled, changed: false, skipped: true, msg: unpredictable.unpredictable } : settled
  }
  let changed = false
  for (const [i, change] of changes.entries()) {
    let outcome: Partial<TaskResult> | void
    try {
      outcome = await change.apply()
    } catch (e) {
      // A host that went away is unreachable, whatever change it was at (Ansible's UNREACHABLE), not failed.
      if (e instanceof Unreachable) throw e
      const done = changes.slice(0, i).map((c) => c.describe)
      const why = e instanceof Error ? e.message : String(e)
      return { ...settled, changed: i > 0, failed: true, msg: done.length ? `${why} (after: ${done.join('; ')})` : why }
    }
    changed ||= change.quiet ? outcome?.changed === true : outcome?.changed !== false
    Object.assign(settled, outcome ?? {}, { changed })
    if (outcome?.failed) return settled
  }
  return settled
}

/** Options for host.$ (also a call: host.$({ nothrow: true })`...`). */
export interface RemoteOptions {
  /** Resolve with the result instead of throwing when the exit code is not 0. */
  nothrow?: boolean
  input?: string | Buffer
  timeoutMs?: number
  /** Run through sudo as the become user (default: the host's ansible_become). */
  become?: boolean
}

export interface RemoteShell {
  (pieces: TemplateStringsArray, ...values: unknown[]): Promise<ExecResult>
  (options: RemoteOptions): RemoteShell
}

/** A command that exited non-zero on the host. */
export class RemoteError extends Error {
  override name = 'RemoteError'
  constructor(
    readonly command: string,
    readonly result: ExecResult,
  ) {
    const detail = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-5).join('\n')
    // A script's first line stands for it: the recap shows why it failed, not its text (`command` keeps it all).
    const first = command.split('\n')[0]!
    const shown = first.length > 80 || first !== command ? `${first.slice(0, 80)} …` : command
    super(`\`${shown}\` exited with ${result.code}${detail ? `: ${detail}` : ''}`)
  }
}

/** The host as a task sees it. */
export interface Target {
  name: string
  /** Every var for this host at this task (inventory, facts, play, task, registered, extra and magic vars). */
  vars: Vars
  facts: Vars
  connection: Connection
  /** Runs a command on the host; each interpolated value is quoted for sh (arrays: each element). */
  $: RemoteShell
  /** Reads one fact (src/fact.ts): `await host.fact(FileStats, '1', '/etc/hosts')`. */
  fact<T>(fact: Fact<T>, ...args: string[]): Promise<T>
  /** Reads several facts in one remote command: `const [a, b] = await host.gather([A], [B, 'arg'])`. */
  gather<const C extends readonly FactCall[]>(...calls: C): ReturnType<typeof gather<C>>
  /** Writes a local file (path) or content (Buffer) to a remote path. */
  put(source: string | Buffer, remote: string, options?: { mode?: number }): Promise<void>
  /** Copies a remote file to a local path. */
  get(remote: string, local: string): Promise<void>
  /** Renders a template with the host's vars (or the given ones). See template.ts for the language. */
  render(text: string, vars?: Vars): string
}

/**
 * Facts gathered ahead on one host for the tasks to come (Task.reads), each served once to the task that reads
 * it with the same arguments, on the session it was gathered on. They are only ever what the host says after
 * the last thing that could have changed it: anything run on that connection or another to the same address
 * that is not a read (a command, a put, through any become or delegation: Session.changes) forgets them, and so
 * does any task they were not gathered for starting on the host (a rescue, an always section, a handler, a
 * task after a block: the walk left the planned order, and time may have passed).
 */
export class ReadAhead {
  private outputs = new Map<string, FactOutput>()
  private planned = new Set<object>()
  private session?: Session
  private changes = 0

  /**
   * A task starts on the host: forgets everything unless it was gathered for this task and nothing changed
   * the host since. True when reads are still held.
   */
  enter(task: object): boolean {
    if (!this.planned.has(task) || !this.fresh(this.session)) this.clear()
    return this.outputs.size > 0
  }

  /** Gathers the calls in one remote command, for the tasks given (the one starting and those ahead). */
  async fill(session: Session, calls: readonly FactCall[], tasks: readonly object[]): Promise<void> {
    this.clear()
    const changes = session.changes
    const { command, split } = gatherCommand(calls)
    const result = await session.exec(command, { reads: true, script: true })
    // Something that may have changed the host ran while it was read: keep nothing.
    if (session.changes !== changes) return
    split(result.stdout).forEach((output, i) => output && this.outputs.set(callKey(calls[i]!), output))
    this.planned = new Set(tasks)
    this.session = session
    this.changes = changes
  }

  /**
   * The gathered output of every call, each taken once; undefined (nothing taken) unless all were gathered on
   * this session and nothing changed the host since.
   */
  take(session: Session, calls: readonly FactCall[]): FactOutput[] | undefined {
    if (!this.fresh(session)) return void this.clear()
    const keys = calls.map(callKey)
    if (!keys.every((k) => this.outputs.has(k))) return undefined
    return keys.map((k) => {
      const output = this.outputs.get(k)!
      this.outputs.delete(k)
      return output
    })
  }

  clear(): void {
    this.outputs.clear()
    this.planned.clear()
    this.session = undefined
  }

  private fresh(session: Session | undefined): boolean {
    return !!session && session === this.session && session.changes === this.changes
  }
}

const callKey = ([fact, ...args]: FactCall) => JSON.stringify([fact.name, fact.script, ...args])

/**
 * Builds the Target for a host from its session; its facts are served from `ahead` when they were gathered
 * there on this session and are still good (ReadAhead).
 */
export function makeTarget(name: string, vars: Vars, facts: Vars, session: Session, ahead?: ReadAhead): Target {
  const shell = (options: RemoteOptions): RemoteShell =>
    ((first: TemplateStringsArray | RemoteOptions, ...values: unknown[]) => {
      if (!Array.isArray(first)) return shell({ ...options, ...(first as RemoteOptions) })
      const pieces = first as TemplateStringsArray
      const command = pieces.reduce(
        (line, piece, i) => line + piece + (i < values.length ? quoteValue(values[i]) : ''),
        '',
      )
      return session
        .exec(command, {
          ...(options.input !== undefined ? { input: options.input } : {}),
          ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
          ...(options.become !== undefined ? { become: options.become } : {}),
        })
        .then((result) => {
          if (result.code !== 0 && !options.nothrow) throw new RemoteError(command, result)
          return result
        })
    }) as RemoteShell
  const exec: Exec = (command) => session.exec(command, { reads: true, script: true })
  // Facts gathered ahead are served as the command that gathers them would have answered.
  const read = <const C extends readonly FactCall[]>(calls: C) => {
    const outputs = ahead?.take(session, calls)
    return outputs ? Promise.resolve(parseFacts(calls, outputs, { code: 0, stderr: '' })) : gather(exec, ...calls)
  }
  return {
    name,
    vars,
    facts,
    connection: session.target,
    $: shell({}),
    fact: async (fact, ...args) => (await read([[fact, ...args]]))[0],
    gather: (...calls) => read(calls),
    put: (source, remote, options) => session.put(source, remote, options),
    get: (remote, local) => session.get(remote, local),
    render: (text, given) => render(text, given ?? vars),
  }
}

// zx's rule: every value is quoted (for POSIX sh, see ssh.ts quote); arrays become their quoted elements.
function quoteValue(value: unknown): string {
  if (Array.isArray(value)) return value.map(quoteValue).join(' ')
  if (value === undefined || value === null) throw new TypeError(`host.$: cannot interpolate ${value}`)
  return quote(String(value))
}

/** Identity, for typing a task module's default export. */
export function defineTask<Args>(task: Task<Args>): Task<Args> {
  return task
}

// Compiled (dist/), the engine runs without tsx; a `-M` directory's TypeScript modules load through it still.
let loader: Promise<unknown> | undefined
function typeScriptLoader(): Promise<unknown> {
  if (import.meta.url.endsWith('.ts')) return Promise.resolve()
  return (loader ??= importModule<typeof import('tsx/esm/api')>('tsx/esm/api').then(({ register }) => register()))
}

/** dist/tasks/manifest.json, written by the build: each built-in task's name and file. */
export const taskManifest = 'manifest.json'

/** The tasks found in some directories, each with its compiled schema. */
export class Registry {
  private tasks = new Map<string, { task: Task; validate: () => ValidateFunction; file: string }>()
  /** Tasks known by name from a manifest and not loaded yet (Registry.load's `wanted`). */
  private unloaded = new Map<string, string>()

  /**
   * Loads every .ts/.js module of the directories (files starting with `_` are helpers, not tasks). With
   * `wanted`, the built-in tasks' directory, when it has a manifest (dist/), loads only the tasks it accepts:
   * the others are known by name (names(), duplicates) until loadAll. A start then compiles the few tasks a
   * playbook uses, not all of them.
   */
  static async load(dirs: string[], wanted?: (name: string) => boolean): Promise<Registry> {
    const registry = new Registry()
    const files: string[] = []
    for (const dir of dirs) {
      const manifest = wanted && dir === builtinTasks ? await readManifest(dir) : undefined
      if (wanted && manifest) {
        for (const [name, file] of Object.entries(manifest))
          if (wanted(name)) files.push(resolve(dir, file))
          else registry.unloaded.set(name, resolve(dir, file))
        continue
      }
      let entries: string[]
      try {
        entries = (await readdir(dir)).sort()
      } catch (e) {
        throw new InputError(`cannot read the task directory: ${(e as Error).message}`, dir)
      }
      for (const entry of entries)
        if (
          ['.ts', '.js', '.mjs'].includes(extname(entry)) &&
          !entry.startsWith('_') &&
          !entry.endsWith('.d.ts') &&
          !entry.endsWith('.test.ts')
        )
          files.push(resolve(dir, entry))
    }
    await registry.import(files)
    return registry
  }

  /** Whether some tasks are known by name only (Registry.load's `wanted`). */
  get partial(): boolean {
    return this.unloaded.size > 0
  }

  /** Loads the tasks known by name only. */
  async loadAll(): Promise<void> {
    const files = [...this.unloaded.values()]
    this.unloaded.clear()
    await this.import(files)
  }

  private async import(files: string[]): Promise<void> {
    if (files.some((f) => extname(f) === '.ts')) await typeScriptLoader()
    // Loaded at once (their files read in parallel), added in order; a built-in task from the bundle when the
    // engine runs as one (bundleTasks).
    const modules = await Promise.all(
      files.map((f) => bundled?.get(f)?.() ?? importModule<{ default?: Task }>(pathToFileURL(f).href)),
    )
    modules.forEach((module, i) => this.add(module.default, files[i]))
  }

  add(task: Task | undefined, file = '(added)'): void {
    if (
      !task ||
      typeof task !== 'object' ||
      typeof task.run !== 'function' ||
      typeof task.name !== 'string' ||
      !task.schema
    )
      throw new InputError('a task module must default-export { name, schema, run(host, args, ctx) }', file)
    if (!/^[a-z_][a-z0-9_]*$/.test(task.name))
      throw new InputError(`bad task name "${task.name}": lower case, digits and _`, file)
    const known = this.tasks.get(task.name)?.file ?? this.unloaded.get(task.name)
    if (known) throw new InputError(`task "${task.name}" is defined twice (also in ${known})`, file)
    let validate: () => ValidateFunction
    try {
      validate = compileSchema(task.schema, 'args')
    } catch (e) {
      throw new InputError(`the schema of task "${task.name}" is invalid: ${(e as Error).message}`, file)
    }
    this.tasks.set(task.name, { task, validate, file })
  }

  get(name: string): Task | undefined {
    return this.tasks.get(name)?.task
  }

  /** The module a task was loaded from. */
  file(name: string): string | undefined {
    return this.tasks.get(name)?.file ?? this.unloaded.get(name)
  }

  names(): string[] {
    return [...this.tasks.keys(), ...this.unloaded.keys()].sort()
  }

  /** Renames the args given by another name (Task.aliases) in place; a problem when both names are given. */
  resolveAliases(name: string, args: unknown): { path: string[]; message: string } | undefined {
    const aliases = this.tasks.get(name)?.task.aliases
    if (!aliases || args === null || typeof args !== 'object') return undefined
    const given = args as Record<string, unknown>
    for (const [alias, to] of Object.entries(aliases)) {
      if (!(alias in given)) continue
      if (to in given) return { path: [alias], message: `${alias} is another name for ${to}: give one of them` }
      given[to] = given[alias]
      delete given[alias]
    }
    return undefined
  }

  /**
   * Checks (and fills defaults into) args; returns the path and message of the first problem. With `ignore`,
   * problems at the paths it accepts are not counted (a `{{ template }}` is checked once rendered, per host).
   */
  check(
    name: string,
    args: unknown,
    ignore?: (path: string[]) => boolean,
  ): { path: string[]; message: string } | undefined {
    const entry = this.tasks.get(name)!
    const aliased = this.resolveAliases(name, args)
    if (aliased) return aliased
    const validate = entry.validate()
    if (validate(args)) return undefined
    const pathOf = (e: { instancePath: string }) => schemaErrorPath(e).map(String)
    const errors = validate.errors!.filter((e) => !ignore?.(pathOf(e)))
    const error = pickError(errors)
    if (!error) return undefined
    const path = pathOf(error)
    if (error.keyword === 'additionalProperties') {
      const key = (error.params as { additionalProperty: string }).additionalProperty
      const allowed = Object.keys((entry.task.schema as { properties?: object }).properties ?? {})
      return {
        path: [...path, key],
        message: `unknown argument "${key}" for ${name} (it takes: ${allowed.join(', ')})`,
      }
    }
    if (error.keyword === 'required') {
      const key = (error.params as { missingProperty: string }).missingProperty
      return { path, message: `${name} needs "${key}"` }
    }
    const described = (error.parentSchema as { description?: string } | undefined)?.description
    return { path, message: described ? `expected ${described}` : (error.message ?? 'invalid') }
  }
}

async function readManifest(dir: string): Promise<Record<string, string> | undefined> {
  try {
    return JSON.parse(await readFile(resolve(dir, taskManifest), 'utf8')) as Record<string, string>
  } catch {
    return undefined
  }
}

/** The package's own tasks/ directory. */
export const builtinTasks = fileURLToPath(new URL('../tasks/', import.meta.url))

/** The built-in tasks' modules in the engine's bundle (dist/src/deploy.cjs), by file path: bundleTasks. */
let bundled: Map<string, () => Promise<{ default?: Task }>> | undefined

/**
 * Called by the bundle's entry (build/dist.ts): the built-in tasks are in the bundle, each initialized when
 * first imported, by its file name in builtinTasks (what the manifest and the directory list), so that
 * Registry.load takes them from the bundle instead of importing a second copy of the engine with them.
 */
export function bundleTasks(modules: Record<string, () => Promise<{ default?: Task }>>): void {
  bundled = new Map(Object.entries(modules).map(([file, load]) => [resolve(builtinTasks, file), load]))
}
