// Playbooks: YAML (read as Ansible reads it, see inventory.ts's parseYaml) → JSON Schema → typed plays whose
// tasks are checked against the registry: the task key exists, its args pass the task's schema, templates
// parse, `notify` names a handler of the play. Every problem is an InputError with file:line and the path.
//
// Supported keywords — play: name, hosts, vars, gather_facts (default true), serial, max_fail_percentage,
// tags, become, become_user, any_errors_fatal, no_log, tasks, handlers. Task: name, the task key (`copy:`,
// `ansible.builtin.copy:` alike), args, when, changed_when, failed_when, notify, tags, check_mode,
// ignore_errors, register, vars, timeout, loop, with_items, with_dict, with_fileglob, loop_control (loop_var,
// index_var, label), until, retries, delay, become, become_user, delegate_to, run_once, any_errors_fatal,
// no_log; handlers also `listen`. Block: block, rescue, always, name and the keywords its tasks inherit (when,
// tags, vars, become, become_user, ignore_errors, any_errors_fatal, run_once, delegate_to, no_log,
// check_mode). Roles (`roles:`, import_role, include_role), import_tasks, include_tasks and import_playbook:
// see "Roles and includes" below. Not supported (an error, not ignored): `include`, other with_* lookups,
// loop_control's pause/extended, become_method, vars_files, strategy, blocks and includes in handlers, loops
// on a task with a batch phase, connection vars in a task's vars.
//
// What a block's keywords mean for its tasks is settled here, as Ansible's attribute inheritance does it: a
// task's own value wins, else the nearest block's, else the play's; `when` conditions and tags add up
// (outermost first), vars merge. The rollout keeps the block tree only for rescue and always.
// Tasks may check the files their args name (a template parses, a copy src exists) here too: every input is
// checked before anything connects.
import { existsSync, statSync } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import { type ValidateFunction } from 'ajv'
import { readInput } from './input-file.ts'
import { defaultRolesPath, findRole, loadRole, roleSearchDirs, type Role } from './roles.ts'
import { type Registry } from './task.ts'
import { checkTemplate, isTemplated, TemplateError } from './template.ts'
import { connectionVars } from './connection.ts'
import { InputError, plain, type Vars } from './util.ts'
import { expectedGot, parseYaml, pickError, schemaErrorPath, schemaValidator, type Yaml } from './yaml.ts'

export interface Playbook {
  file: string
  plays: Play[]
}

export interface Play {
  index: number // 1-based, as Ansible numbers plays in --list-tasks
  name: string
  hosts: string[]
  vars: Vars
  gatherFacts: boolean
  /** Batch sizes as written (numbers or "N%"); [] is one batch of every host. */
  serial: (number | string)[]
  /** Percent; undefined means no limit (only a batch where every host failed stops the rollout). */
  maxFailPercentage?: number
  tags: string[]
  anyErrorsFatal: boolean
  /** The play's become keywords (its tasks have them settled already; the implicit fact gathering uses these). */
  become?: boolean
  becomeUser?: string
  /** Tasks and blocks, in order; the block keywords are already settled into each task (see the header). */
  tasks: Step[]
  handlers: PlayTask[]
  /** The defaults and the vars of the play's roles (`roles:` and import_role), which every task of the play
   * sees as Ansible's VariableManager merges them: defaults below the inventory, vars above the play's. */
  roleDefaults: Vars
  roleVars: Vars
  line: number
}

/** A block: its tasks, the tasks run on a host that failed in them (rescue), and those run on every host that
 * entered it (always). */
export interface Block {
  name: string
  block: Step[]
  rescue: Step[]
  always: Step[]
  file: string
  line: number
}

/** A dynamic include (include_tasks, include_role): its task decides per host when it is reached (`when`, per
 * item of its loop); its steps then run on the hosts that included them, once per item. They were read and
 * checked with the playbook; they inherit only vars (and the play's keywords) from where the include is. */
export interface Include {
  include: PlayTask
  body: Step[]
  file: string
  line: number
}

/** Where the notified handlers run before the next steps (`meta: flush_handlers`; between pre_tasks, roles and
 * tasks, and post_tasks, as Play.compile puts them). */
export interface Flush {
  flush: true
  file: string
  line: number
}

export type Step = PlayTask | Block | Include | Flush

export function isBlock(step: Step): step is Block {
  return 'block' in step
}

export function isInclude(step: Step): step is Include {
  return 'include' in step
}

export function isFlush(step: Step): step is Flush {
  return 'flush' in step
}

/** Every task of some steps, in order (a block's tasks, then its rescue, then its always; an include, then
 * what it includes). */
export function flatTasks(steps: Step[]): PlayTask[] {
  return steps.flatMap((s) =>
    isBlock(s)
      ? [...flatTasks(s.block), ...flatTasks(s.rescue), ...flatTasks(s.always)]
      : isInclude(s)
        ? [s.include, ...flatTasks(s.body)]
        : isFlush(s)
          ? []
          : [s],
  )
}

/** A task's loop: `loop:` (a list), `with_items:` (flattened one level), `with_dict:` (key/value items),
 * `with_fileglob:` (controller files); src/loop.ts makes the items. */
export interface Loop {
  kind: 'loop' | 'items' | 'dict' | 'fileglob'
  value: unknown
  loopVar: string
  indexVar?: string
  label?: string
}

export interface PlayTask {
  name: string
  /** The registry name of the task. */
  action: string
  args: Record<string, unknown>
  when: (string | boolean)[]
  changedWhen?: (string | boolean)[]
  failedWhen?: (string | boolean)[]
  notify: string[]
  /** Handlers: the names this handler answers to (its name and its `listen` topics). */
  listen: string[]
  tags: string[]
  register?: string
  checkMode?: boolean
  ignoreErrors: boolean
  vars: Vars
  timeoutMs?: number
  loop?: Loop
  /** Retried until these hold (retries + 1 attempts, Ansible's count), `delay` seconds apart. */
  until?: (string | boolean)[]
  retries: number
  delay: number
  /** The `become` / `become_user` keywords (inherited from blocks and the play); ansible_become* vars win. */
  become?: boolean
  becomeUser?: string
  delegateTo?: string
  runOnce: boolean
  anyErrorsFatal: boolean
  noLog: boolean
  /** The role the task comes from, and its directory (role_name, role_path). */
  role?: string
  rolePath?: string
  /** Vars of the task's role, as VariableManager.get_vars layers them: its defaults (with its dependency
   * chain's, below the inventory), its vars (above the play's), and above registered vars the role's params
   * and the include params (the vars of include_tasks / include_role, an included item). */
  roleDefaults?: Vars
  roleVars?: Vars
  params?: Vars
  /** Directories searched before the playbook's for a relative src (the role's, its parents', the file's). */
  searchPath?: string[]
  file: string
  line: number
}

/** The role a task comes from: its name, its vars as layered for its tasks, where its files are. */
interface RoleScope {
  name: string
  defaults: Vars
  vars: Vars
  params: Vars
  dirs: string[]
}

/** What a task inherits from its blocks and its play (see the header). */
interface Inherited {
  when: (string | boolean)[]
  tags: string[]
  vars: Vars
  become?: boolean
  becomeUser?: string
  ignoreErrors?: boolean
  anyErrorsFatal?: boolean
  runOnce?: boolean
  delegateTo?: string
  noLog?: boolean
  checkMode?: boolean
  /** Include params (the vars of a dynamic include and its item), above registered vars. */
  params?: Vars
  role?: RoleScope
  /** The role instance the task is in, and the instances it is a dependency of (outermost first). */
  instance?: RoleInstance
  chain?: RoleInstance[]
}

const keywords = new Set([
  'name',
  'when',
  'changed_when',
  'failed_when',
  'notify',
  'listen',
  'tags',
  'check_mode',
  'ignore_errors',
  'register',
  'vars',
  'args',
  'timeout',
  'loop',
  'with_items',
  'with_dict',
  'with_fileglob',
  'loop_control',
  'until',
  'retries',
  'delay',
  'become',
  'become_user',
  'delegate_to',
  'run_once',
  'any_errors_fatal',
  'no_log',
])
// The keywords a block takes: its sections, and what its tasks inherit.
const blockKeywords = new Set([
  'name',
  'block',
  'rescue',
  'always',
  'when',
  'tags',
  'vars',
  'become',
  'become_user',
  'ignore_errors',
  'any_errors_fatal',
  'run_once',
  'delegate_to',
  'no_log',
  'check_mode',
])
const loopKeys = { loop: 'loop', with_items: 'items', with_dict: 'dict', with_fileglob: 'fileglob' } as const
const unsupported = new Set([
  'include',
  'become_method',
  'become_flags',
  'become_exe',
  'delegate_facts',
  'environment',
  'async',
  'poll',
  'local_action',
  'diff',
  // play level
  'vars_files',
  'vars_prompt',
  'strategy',
  'order',
  'force_handlers',
  'remote_user',
  'connection',
  'gather_subset',
  'module_defaults',
  'collections',
])

/** Where roles are looked for besides <playbook dir>/roles (ansible.cfg's roles_path, ANSIBLE_ROLES_PATH). */
export interface PlaybookOptions {
  rolesPath?: string[]
}

export async function loadPlaybook(file: string, registry: Registry, options: PlaybookOptions = {}): Promise<Playbook> {
  return parsePlaybook(readInput(file, 'the playbook'), file, registry, options)
}

const importKeys = ['import_playbook', 'ansible.builtin.import_playbook']

export function parsePlaybook(
  text: string,
  file: string,
  registry: Registry,
  options: PlaybookOptions = {},
  importing: string[] = [],
): Playbook {
  const yaml: Yaml = parseYaml(text, file)
  if (yaml.value === null || yaml.value === undefined) yaml.fail([], 'the playbook is empty: expected a list of plays')
  if (!Array.isArray(yaml.value)) {
    const hint =
      yaml.value && typeof yaml.value === 'object' && 'hosts' in yaml.value ? ' (put "- " before "hosts:")' : ''
    yaml.fail([], `expected a list of plays${hint}`)
  }
  const entries = yaml.value as unknown[]
  // import_playbook entries are checked here; the schema sees the plays (an import stands in as a stub play).
  const imports = new Map<number, string>()
  entries.forEach((entry, i) => {
    if (!entry || typeof entry !== 'object') return
    if ('include' in entry)
      yaml.fail([i, 'include'], '"include" is not supported by this engine (use import_playbook)', 'key')
    const key = importKeys.find((k) => k in entry)
    if (!key) return
    for (const k of yaml.keys(entry))
      if (k !== key && k !== 'name')
        yaml.fail([i, k], `"${k}" on import_playbook is not supported by this engine`, 'key')
    const target = (entry as Record<string, unknown>)[key]
    if (typeof target !== 'string' || !target.trim()) yaml.fail([i, key], 'expected the file name of a playbook')
    if (isTemplated(target)) yaml.fail([i, key], 'a templated import_playbook is not supported by this engine')
    imports.set(i, target)
  })
  checkSchema(
    yaml,
    playbookSchema(),
    entries.map((e, i) => (imports.has(i) ? { hosts: 'all' } : e)),
  )
  const plays: Play[] = []
  entries.forEach((raw, i) => {
    const target = imports.get(i)
    if (target === undefined) return plays.push(parsePlay(yaml, raw as Record<string, unknown>, i, registry, options))
    const other = resolve(dirname(resolve(file)), target)
    if ([...importing, resolve(file)].includes(other))
      yaml.fail(
        [i, importKeys.find((k) => k in (raw as object))!],
        `${target} imports itself (through ${importing.length} files)`,
      )
    if (!existsSync(other))
      yaml.fail([i, importKeys.find((k) => k in (raw as object))!], `cannot find the playbook ${other}`)
    plays.push(
      ...parsePlaybook(readInput(other, 'the playbook'), other, registry, options, [...importing, resolve(file)]).plays,
    )
  })
  plays.forEach((p, i) => (p.index = i + 1))
  return { file, plays }
}

function parsePlay(
  yaml: Yaml,
  raw: Record<string, unknown>,
  i: number,
  registry: Registry,
  options: PlaybookOptions,
): Play {
  const path = [i]
  const hosts = list(raw.hosts)
  if (!hosts.length || hosts.some((h) => !h.trim())) yaml.fail([...path, 'hosts'], 'expected a host pattern')
  const serial =
    raw.serial === undefined
      ? []
      : ([plain(raw.serial)].flat().map((s) => (typeof s === 'string' && !s.includes('%') ? Number(s) : s)) as (
          | number
          | string
        )[])
  const play: Play = {
    index: i + 1,
    name: typeof raw.name === 'string' ? raw.name : hosts.join(','),
    hosts,
    vars: (raw.vars as Vars | undefined) ?? {},
    gatherFacts: (raw.gather_facts as boolean | undefined) ?? true,
    serial: serial.map((s) => (typeof s === 'string' ? s.replace(/\s+/g, '') : s)),
    ...(raw.max_fail_percentage !== undefined
      ? { maxFailPercentage: parseFloat(String(raw.max_fail_percentage)) }
      : {}),
    tags: list(raw.tags),
    anyErrorsFatal: raw.any_errors_fatal === true,
    ...(typeof raw.become === 'boolean' ? { become: raw.become } : {}),
    ...(typeof raw.become_user === 'string' ? { becomeUser: raw.become_user } : {}),
    tasks: [],
    handlers: [],
    roleDefaults: {},
    roleVars: {},
    line: yaml.locate(path).line,
  }
  if (play.maxFailPercentage !== undefined && play.maxFailPercentage > 100)
    yaml.fail([...path, 'max_fail_percentage'], 'expected a percentage between 0 and 100')
  checkTemplates(yaml, [...path, 'vars'], play.vars)
  checkTemplates(yaml, [...path, 'become_user'], raw.become_user)
  if (play.gatherFacts && !registry.get('facts'))
    yaml.fail(
      path,
      'gather_facts needs the "facts" task, which is not in the task directories (or set gather_facts: false)',
    )
  const inherited: Inherited = {
    when: [],
    tags: [],
    vars: {},
    ...(typeof raw.become === 'boolean' ? { become: raw.become } : {}),
    ...(typeof raw.become_user === 'string' ? { becomeUser: raw.become_user } : {}),
    ...(typeof raw.any_errors_fatal === 'boolean' ? { anyErrorsFatal: raw.any_errors_fatal } : {}),
    ...(typeof raw.no_log === 'boolean' ? { noLog: raw.no_log } : {}),
  }
  const ctx: Ctx = {
    registry,
    playbookDir: dirname(resolve(yaml.file)),
    rolesPath: options.rolesPath ?? defaultRolesPath,
    play: inherited,
    instances: new Map(),
    ran: new Set(),
    handled: new Set(),
    playRoles: [],
    handlers: [],
    depth: 0,
  }
  // As Play.compile: the roles' tasks (each role's dependencies first) before the play's tasks.
  const roleSteps = ((raw.roles ?? []) as unknown[]).flatMap((entry, j) => {
    const instance = roleInstance(ctx, yaml, [...path, 'roles', j], entry)
    ctx.playRoles.push(instance)
    return roleTasks(ctx, instance, [], inherited)
  })
  const roleHandlers = ctx.handlers.splice(0)
  const handlers = ((raw.handlers ?? []) as Record<string, unknown>[]).map((t, j) => {
    if ('block' in t)
      yaml.fail([...path, 'handlers', j, 'block'], 'blocks in handlers are not supported by this engine', 'key')
    const include = includeKey(t)
    if (include)
      yaml.fail([...path, 'handlers', j, include], `"${include}" in handlers is not supported by this engine`, 'key')
    return parseTask(yaml, t, [...path, 'handlers', j], ctx, true, inherited)
  })
  const section = (name: string) =>
    parseSteps(yaml, (raw[name] ?? []) as Record<string, unknown>[], [...path, name], ctx, inherited)
  const flush = (): Flush => ({ flush: true, file: yaml.file, line: play.line })
  // As Play.compile: pre_tasks, flush, the roles' tasks and the play's, flush, post_tasks (and the handlers).
  const pre = section('pre_tasks')
  const main = [...roleSteps, ...section('tasks')]
  const post = section('post_tasks')
  const tasks = [...(raw.pre_tasks ? [...pre, flush()] : []), ...main, ...(raw.post_tasks ? [flush(), ...post] : [])]
  play.handlers = lastByName([...roleHandlers, ...handlers, ...ctx.handlers])
  const topics = new Set(play.handlers.flatMap((h) => h.listen))
  const checkNotify = (items: PlayTask[]) =>
    items.forEach((task) => {
      for (const name of task.notify)
        if (!topics.has(name))
          failAt(
            task,
            'notify',
            `no handler named "${name}" in this play${topics.size ? ` (handlers: ${[...topics].join(', ')})` : ''}`,
          )
    })
  checkNotify(flatTasks(tasks))
  checkNotify(play.handlers)
  play.tasks = tasks
  for (const r of ctx.playRoles) {
    Object.assign(play.roleDefaults, defaultsOf(r))
    Object.assign(play.roleVars, varsOf(r))
  }
  return play
}

/** Handlers as notify finds them: by name (or "role : name") the last handler of that name wins
 * (search_handler_blocks_by_name), by a `listen` topic every handler that listens. */
function lastByName(handlers: PlayTask[]): PlayTask[] {
  const names = (h: PlayTask) => [h.name, ...(h.role ? [`${h.role} : ${h.name}`] : [])]
  return handlers.map((h, i) => {
    const later = new Set(handlers.slice(i + 1).flatMap(names))
    const own = names(h)
    if (!own.some((n) => later.has(n))) return h
    const shadowed = { ...h, listen: h.listen.filter((n, j) => j >= own.length || !later.has(n)) }
    taskPaths.set(shadowed, taskPaths.get(h)!)
    return shadowed
  })
}

/** An error at a key of a task parsed already (from whichever file it came from). */
function failAt(task: PlayTask, key: string, reason: string): never {
  const [yaml, path] = taskPaths.get(task)!
  return yaml.fail([...path, key], reason)
}

// Where each task is in its YAML (for errors found after it was parsed, such as a notify without handler).
const taskPaths = new WeakMap<PlayTask, [Yaml, (string | number)[]]>()

function parseSteps(
  yaml: Yaml,
  raws: Record<string, unknown>[],
  path: (string | number)[],
  ctx: Ctx,
  inherited: Inherited,
): Step[] {
  return raws.flatMap((raw, j): Step[] => {
    if (raw && typeof raw === 'object' && 'block' in raw) return [parseBlock(yaml, raw, [...path, j], ctx, inherited)]
    const include = raw && typeof raw === 'object' ? includeKey(raw) : undefined
    if (include) return parseInclude(yaml, raw, [...path, j], include, ctx, inherited)
    const meta =
      raw && typeof raw === 'object' ? Object.keys(raw).find((k) => /^(?:ansible\.builtin\.)?meta$/.test(k)) : undefined
    if (meta) {
      for (const k of yaml.keys(raw))
        if (k !== meta && k !== 'name')
          yaml.fail([...path, j, k], `"${k}" on meta is not supported by this engine`, 'key')
      if (raw[meta] !== 'flush_handlers')
        yaml.fail(
          [...path, j, meta],
          `meta: ${JSON.stringify(raw[meta])} is not supported by this engine (flush_handlers is)`,
        )
      return [{ flush: true, file: yaml.file, line: yaml.locate([...path, j]).line }]
    }
    return [parseTask(yaml, raw, [...path, j], ctx, false, inherited)]
  })
}

function parseBlock(
  yaml: Yaml,
  raw: Record<string, unknown>,
  path: (string | number)[],
  ctx: Ctx,
  outer: Inherited,
): Block {
  for (const key of yaml.keys(raw)) {
    if (unsupported.has(key) || /^with_/.test(key))
      yaml.fail([...path, key], `"${key}" is not supported by this engine`, 'key')
    if (!blockKeywords.has(key)) yaml.fail([...path, key], `"${key}" is not a keyword of a block`, 'key')
  }
  const when = conditionList(yaml, raw, path, 'when') ?? []
  checkTemplates(yaml, [...path, 'vars'], raw.vars)
  checkKeywords(yaml, raw, path, "a block's")
  const inherited: Inherited = {
    ...outer,
    when: [...outer.when, ...when],
    tags: [...new Set([...outer.tags, ...list(raw.tags)])],
    vars: { ...outer.vars, ...((raw.vars as Vars | undefined) ?? {}) },
    ...keywordValues(raw),
  }
  const section = (name: 'block' | 'rescue' | 'always') =>
    parseSteps(yaml, (raw[name] ?? []) as Record<string, unknown>[], [...path, name], ctx, inherited)
  return {
    name: typeof raw.name === 'string' ? raw.name : 'block',
    block: section('block'),
    rescue: section('rescue'),
    always: section('always'),
    file: yaml.file,
    line: yaml.locate(path).line,
  }
}

// ---------------------------------------------------------------------------------------------------------
// Roles and includes, as ansible-core 2.14's Play/Role/IncludeRole/TaskInclude load them. Everything is read
// and checked here, before anything connects: static imports (import_tasks, import_role, roles:) become the
// tasks they stand for, with the import's keywords (a role's with its entry's when, tags, become...); a dynamic
// include (include_tasks, include_role) becomes an Include whose steps were read from its file already, which
// inherit the play's keywords and the vars only (its own `when` is the include's: Task._get_parent_attribute
// skips a parent that was not statically loaded). Each role task carries its role's vars as VariableManager
// layers them (defaults with its dependency chain's, vars, params); the play carries the defaults and vars of
// all its roles (exported to every task). A role instance is a role with the params, vars, when, tags and
// tasks_from of where it is named (Role.load's cache key): one that ran already is left out (has_run) unless
// it allows duplicates (import_role and include_role always do), its dependencies still each decide.

/** What parsing one play shares. */
interface Ctx {
  registry: Registry
  playbookDir: string
  rolesPath: string[]
  /** The play's keywords: what a dynamically included task inherits besides vars. */
  play: Inherited
  /** Role instances by key (as Role.load's cache: the same role with the same params is one instance). */
  instances: Map<string, RoleInstance>
  /** Instances whose tasks are in the play already: a second time they are left out (Role.has_run). */
  ran: Set<string>
  /** Role instances whose handlers are the play's already. */
  handled: Set<string>
  /** play.get_roles(): the roles of `roles:` and of import_role, whose defaults and vars every task sees. */
  playRoles: RoleInstance[]
  /** The handlers of the roles read so far. */
  handlers: PlayTask[]
  depth: number
}

/** A role as one place names it: with that place's vars, params and keywords, and its dependencies. */
interface RoleInstance {
  role: Role
  key: string
  vars: Vars
  params: Vars
  when: (string | boolean)[]
  tags: string[]
  keywords: Partial<Inherited>
  tasksFrom?: string
  allowDuplicates: boolean
  deps: RoleInstance[]
  yaml: Yaml
  path: (string | number)[]
}

const includeActions = ['import_tasks', 'include_tasks', 'import_role', 'include_role']

/** The import/include key of a task entry, if it is one. */
function includeKey(raw: object): string | undefined {
  return Object.keys(raw).find((k) => includeActions.includes(k.replace(/^ansible\.(?:builtin|legacy)\./, '')))
}

// What an import may carry (its tasks inherit it) and what a dynamic include may (it applies to the include).
const importKeywords = new Set([...blockKeywords].filter((k) => !['block', 'rescue', 'always'].includes(k)))
// A role entry's keywords (RoleDefinition's field attributes we support); its other keys are the role's params.
const roleEntryKeywords = new Set(['role', ...importKeywords])
const includeKeywords = new Set(['name', 'when', 'tags', 'vars', 'args', ...Object.keys(loopKeys), 'loop_control'])

/** A role entry (`- x`, `- role: x` with keywords and params, a meta dependency) made an instance. */
function roleInstance(
  ctx: Ctx,
  yaml: Yaml,
  path: (string | number)[],
  entry: unknown,
  parentDir?: string,
  stack: string[] = [],
): RoleInstance {
  let raw: Record<string, unknown> = {}
  let name: unknown = entry
  if (entry && typeof entry === 'object' && !Array.isArray(entry)) {
    raw = entry as Record<string, unknown>
    name = raw.role ?? raw.name
  } else if (typeof entry !== 'string') yaml.fail(path, 'expected a role name or a mapping with "role:"')
  if (typeof name !== 'string' || !name.trim()) yaml.fail(path, 'a role needs "role:" (its name)')
  const params: Vars = {}
  for (const key of yaml.keys(raw)) {
    if (unsupported.has(key) || /^with_/.test(key) || ['loop', 'loop_control', 'public'].includes(key))
      yaml.fail([...path, key], `"${key}" on a role is not supported by this engine`, 'key')
    if (roleEntryKeywords.has(key)) continue
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) yaml.fail([...path, key], 'not a valid variable name', 'key')
    if (connectionVars.includes(key))
      yaml.fail(
        [...path, key],
        `connection variables as a role's params are not supported by this engine (set ${key} in the inventory, the play's vars or -e)`,
        'key',
      )
    params[key] = raw[key]
  }
  checkKeywords(yaml, raw, path, "a role's")
  checkTemplates(yaml, path, params)
  checkTemplates(yaml, [...path, 'vars'], raw.vars)
  if (raw.vars !== undefined && (!raw.vars || typeof raw.vars !== 'object' || Array.isArray(raw.vars)))
    yaml.fail([...path, 'vars'], 'expected a mapping of variable names to values')
  return instance(ctx, yaml, path, {
    name,
    params,
    vars: (raw.vars as Vars | undefined) ?? {},
    when: conditionList(yaml, raw, path, 'when') ?? [],
    tags: list(raw.tags),
    keywords: keywordValues(raw),
    fromInclude: false,
    ...(parentDir ? { parentDir } : {}),
    stack,
  })
}

/** The instance of a role named somewhere (Role.load): found, read, keyed, its dependencies made instances. */
function instance(
  ctx: Ctx,
  yaml: Yaml,
  path: (string | number)[],
  o: {
    name: string
    params: Vars
    vars: Vars
    when: (string | boolean)[]
    tags: string[]
    keywords: Partial<Inherited>
    fromInclude: boolean
    tasksFrom?: string
    parentDir?: string
    stack: string[]
  },
): RoleInstance {
  if (isTemplated(o.name)) yaml.fail(path, 'a templated role name is not supported by this engine')
  const at = yaml.locate(path)
  const where = { file: yaml.file, ...at }
  const found = findRole(
    o.name,
    roleSearchDirs({
      playbookDir: ctx.playbookDir,
      rolesPath: ctx.rolesPath,
      ...(o.parentDir ? { parentRoleDir: o.parentDir } : {}),
    }),
  )
  if ('reason' in found) return yaml.fail(path, found.reason)
  const { dir } = found
  if (o.stack.includes(dir))
    yaml.fail(
      path,
      `a recursion loop: role "${o.name}" depends on itself (through ${o.stack.map((d) => basename(d)).join(' → ')})`,
    )
  const key = JSON.stringify([dir, plain(o.params), o.when, o.tags, plain(o.vars), o.tasksFrom ?? null, o.fromInclude])
  const known = ctx.instances.get(key)
  if (known) return known
  const role = loadRole(dir, where)
  const made: RoleInstance = {
    role,
    key,
    vars: o.vars,
    params: o.params,
    when: o.when,
    tags: o.tags,
    keywords: o.keywords,
    ...(o.tasksFrom !== undefined ? { tasksFrom: o.tasksFrom } : {}),
    // As IncludeRole: import_role and include_role allow duplicates unless told otherwise.
    allowDuplicates: o.fromInclude || role.allowDuplicates,
    deps: [],
    yaml,
    path,
  }
  ctx.instances.set(key, made)
  made.deps = role.dependencies.map(({ yaml: meta, index }) =>
    roleInstance(
      ctx,
      meta,
      ['dependencies', index],
      (meta.value as { dependencies: unknown[] }).dependencies[index],
      dir,
      [...o.stack, dir],
    ),
  )
  return made
}

/** Every dependency of a role, recursively, in the order they run (Role.get_all_dependencies). */
function allDeps(r: RoleInstance): RoleInstance[] {
  return r.deps.flatMap((d) => [...allDeps(d), d])
}

/** Role.get_default_vars(dep_chain). */
function defaultsOf(r: RoleInstance, chain: RoleInstance[] = []): Vars {
  return Object.assign(
    {},
    ...allDeps(r).map((d) => defaultsOf(d)),
    ...chain.map((p) => p.role.defaults),
    r.role.defaults,
  ) as Vars
}

/** Role.get_vars(dep_chain, include_params=False): the parents' vars, the dependencies', the role's own. */
function varsOf(r: RoleInstance, chain: RoleInstance[] = []): Vars {
  return Object.assign(
    {},
    ...chain.flatMap((p) => [p.vars, p.role.vars]),
    ...allDeps(r).map((d) => varsOf(d)),
    r.vars,
    r.role.vars,
  ) as Vars
}

/** A role's tasks as Role.compile gives them: its dependencies' first (each instance once, unless it allows
 * duplicates), then its own; its handlers go to the play's (once per instance). */
function roleTasks(ctx: Ctx, r: RoleInstance, chain: RoleInstance[], outer: Inherited): Step[] {
  // As the strategy's has_run check: an instance that ran already is left out, but its dependencies are not
  // (each decides for itself: one that allows duplicates runs again).
  const repeated = !r.allowDuplicates && ctx.ran.has(r.key)
  ctx.ran.add(r.key)
  const inherited: Inherited = {
    ...outer,
    when: [...outer.when, ...r.when],
    tags: [...new Set([...outer.tags, ...r.tags])],
    ...r.keywords,
    role: {
      name: r.role.name,
      defaults: defaultsOf(r, chain),
      vars: varsOf(r, chain),
      params: Object.assign({}, ...chain.map((p) => p.params), r.params) as Vars,
      dirs: [r.role.dir, ...chain.map((p) => p.role.dir).reverse()],
    },
    instance: r,
    chain,
  }
  const deps = r.deps.flatMap((d) => roleTasks(ctx, d, [...chain, r], inherited))
  if (repeated) return deps
  const tasks = r.role.part('tasks', r.tasksFrom)
  if (r.tasksFrom !== undefined && !tasks)
    r.yaml.fail(r.path, `the role "${r.role.name}" has no tasks file "${r.tasksFrom}" in ${r.role.dir}/tasks`)
  const steps = tasks ? parseTaskFile(ctx, tasks, inherited) : []
  if (!ctx.handled.has(r.key)) {
    ctx.handled.add(r.key)
    const handlers = r.role.part('handlers')
    if (handlers && handlers.value !== null && handlers.value !== undefined) {
      checkSchema(handlers, tasksSchema(), handlers.value)
      ;(handlers.value as Record<string, unknown>[]).forEach((t, j) => {
        const key = 'block' in t ? 'block' : includeKey(t)
        if (key) handlers.fail([j, key], `"${key}" in handlers is not supported by this engine`, 'key')
        ctx.handlers.push(parseTask(handlers, t, [j], ctx, true, inherited))
      })
    }
  }
  return [...deps, ...steps]
}

/** The steps of a task file (a role's, an included one), its list checked against the schema. */
function parseTaskFile(ctx: Ctx, yaml: Yaml, inherited: Inherited): Step[] {
  if (yaml.value === null || yaml.value === undefined) return []
  checkSchema(yaml, tasksSchema(), yaml.value)
  if (++ctx.depth > 40)
    yaml.fail(
      [],
      'includes and roles nest more than 40 deep here (does a file include itself?): not supported by this engine',
    )
  try {
    return parseSteps(yaml, yaml.value as Record<string, unknown>[], [], ctx, inherited)
  } finally {
    ctx.depth--
  }
}

/** import_tasks / import_role: the steps they stand for; include_tasks / include_role: an Include. */
function parseInclude(
  yaml: Yaml,
  raw: Record<string, unknown>,
  path: (string | number)[],
  key: string,
  ctx: Ctx,
  inherited: Inherited,
): Step[] {
  const action = key.replace(/^ansible\.(?:builtin|legacy)\./, '')
  const dynamic = action.startsWith('include_')
  const allowed = dynamic ? includeKeywords : importKeywords
  for (const k of yaml.keys(raw)) {
    if (k === key) continue
    if (!dynamic && (k in loopKeys || k === 'loop_control' || /^with_/.test(k)))
      yaml.fail(
        [...path, k],
        `a loop on ${action} is not possible (Ansible refuses it too): use ${action.replace('import_', 'include_')}`,
        'key',
      )
    if (!allowed.has(k)) yaml.fail([...path, k], `"${k}" on ${action} is not supported by this engine`, 'key')
  }
  let value = raw[key]
  if (typeof value === 'string') value = action.endsWith('_role') ? { name: value } : { file: value }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    yaml.fail([...path, key], `expected ${action.endsWith('_role') ? 'a mapping with name:' : 'a file name'}`)
  const args = { ...(raw.args as object | undefined), ...(value as Record<string, unknown>) }
  const argNames = action.endsWith('_role') ? ['name', 'tasks_from'] : ['file', '_raw_params']
  for (const a of Object.keys(args))
    if (!argNames.includes(a))
      yaml.fail(
        [...path, key, a],
        `"${a}" of ${action} is not supported by this engine (${argNames.slice(0, 2).join(' and ')} are)`,
        'key',
      )
  const target = action.endsWith('_role') ? args.name : (args.file ?? args._raw_params)
  if (typeof target !== 'string' || !target.trim())
    yaml.fail(
      [...path, key],
      action.endsWith('_role') ? `${action} needs name: (the role)` : `${action} needs a file name`,
    )
  if (isTemplated(target))
    yaml.fail(
      [...path, key],
      `a templated name in ${action} is not supported by this engine (it is read before the run)`,
    )
  const tasksFrom = args.tasks_from
  if (tasksFrom !== undefined && (typeof tasksFrom !== 'string' || isTemplated(tasksFrom)))
    yaml.fail([...path, key, 'tasks_from'], 'expected a file name (not a template)')
  if (raw.vars !== undefined && (!raw.vars || typeof raw.vars !== 'object' || Array.isArray(raw.vars)))
    yaml.fail([...path, 'vars'], 'expected a mapping of variable names to values')
  const vars = (raw.vars as Vars | undefined) ?? {}
  checkTemplates(yaml, [...path, 'vars'], vars)
  checkKeywords(yaml, raw, path, `${action}'s`)
  const when = conditionList(yaml, raw, path, 'when') ?? []
  const chain = inherited.instance ? [...(inherited.chain ?? []), inherited.instance] : []
  const role = (fromInclude: boolean) =>
    instance(ctx, yaml, [...path, key], {
      name: target,
      params: {},
      vars,
      when: [],
      tags: [],
      keywords: {},
      fromInclude,
      ...(typeof tasksFrom === 'string' ? { tasksFrom } : {}),
      ...(inherited.instance ? { parentDir: inherited.instance.role.dir } : {}),
      stack: [],
    })
  if (!dynamic) {
    // Static: the imported tasks inherit the import's keywords, as those of a block.
    const inner: Inherited = {
      ...inherited,
      when: [...inherited.when, ...when],
      tags: [...new Set([...inherited.tags, ...list(raw.tags)])],
      vars: { ...inherited.vars, ...vars },
      ...keywordValues(raw),
    }
    if (action === 'import_tasks')
      return parseTaskFile(ctx, taskFile(ctx, yaml, [...path, key], target, inherited), inner)
    const r = role(true)
    ctx.playRoles.push(r)
    return roleTasks(ctx, r, chain, inner)
  }
  // Dynamic: the include is a task of its own (when, loop, tags); what it includes inherits the play's
  // keywords and the vars only, its vars (and item) as include params.
  const loop = parseLoop(yaml, raw, path)
  const include: PlayTask = {
    name: typeof raw.name === 'string' ? raw.name : action,
    action,
    args,
    when: [...inherited.when, ...when],
    notify: [],
    listen: [],
    tags: [...new Set([...inherited.tags, ...list(raw.tags)])],
    ignoreErrors: false,
    vars: { ...inherited.vars, ...vars },
    ...(loop ? { loop } : {}),
    retries: 3,
    delay: 5,
    runOnce: false,
    anyErrorsFatal: inherited.anyErrorsFatal ?? false,
    noLog: false,
    ...fromRole(inherited),
    searchPath: searchPath(yaml, inherited),
    file: yaml.file,
    line: yaml.locate(path).line,
  }
  taskPaths.set(include, [yaml, path])
  const inner: Inherited = {
    ...ctx.play,
    when: [],
    tags: [],
    vars: { ...inherited.vars, ...vars },
    params: { ...inherited.params, ...vars },
    ...(inherited.role ? { role: inherited.role } : {}),
    ...(inherited.instance ? { instance: inherited.instance } : {}),
    ...(inherited.chain ? { chain: inherited.chain } : {}),
  }
  const body =
    action === 'include_tasks'
      ? parseTaskFile(ctx, taskFile(ctx, yaml, [...path, key], target, inherited), inner)
      : roleTasks(ctx, role(true), chain, inner)
  return [{ include, body, file: yaml.file, line: include.line }]
}

/** The file an import_tasks / include_tasks names: in a role, ROLE/tasks/ first; then beside the file that
 * names it; then in the playbook's directory. */
function taskFile(ctx: Ctx, yaml: Yaml, path: (string | number)[], name: string, inherited: Inherited): Yaml {
  const dirs = [
    ...(inherited.role ? [join(inherited.role.dirs[0]!, 'tasks'), inherited.role.dirs[0]!] : []),
    dirname(resolve(yaml.file)),
    ctx.playbookDir,
  ]
  const found = dirs.map((d) => resolve(d, name)).find((f) => existsSync(f) && statSync(f).isFile())
  if (!found) yaml.fail(path, `cannot find the task file "${name}" (looked in ${[...new Set(dirs)].join(', ')})`)
  return parseYaml(readInput(found, 'the task file'), found)
}

/** The fields a task or include takes from the role it is in and the params of the includes around it. */
function fromRole(inherited: Inherited): Pick<PlayTask, 'role' | 'rolePath' | 'roleDefaults' | 'roleVars' | 'params'> {
  const role = inherited.role
  return {
    ...(role ? { role: role.name, rolePath: role.dirs[0]!, roleDefaults: role.defaults, roleVars: role.vars } : {}),
    ...(role || inherited.params ? { params: { ...role?.params, ...inherited.params } } : {}),
  }
}

/** Where a task's relative src is looked for before the playbook's directory: its role's directory (and its
 * parent roles'), and the directory of the file the task is in. */
function searchPath(yaml: Yaml, inherited: Inherited): string[] {
  const roleDirs = inherited.role?.dirs ?? []
  const own = dirname(resolve(yaml.file))
  const inRole = roleDirs.some((d) => own === d || dirname(own) === d)
  return [...roleDirs, ...(inRole ? [] : [own])]
}

/** The inheritable keywords a task or block sets itself. */
function keywordValues(raw: Record<string, unknown>): Partial<Inherited> {
  return {
    ...(typeof raw.become === 'boolean' ? { become: raw.become } : {}),
    ...(typeof raw.become_user === 'string' ? { becomeUser: raw.become_user } : {}),
    ...(typeof raw.ignore_errors === 'boolean' ? { ignoreErrors: raw.ignore_errors } : {}),
    ...(typeof raw.any_errors_fatal === 'boolean' ? { anyErrorsFatal: raw.any_errors_fatal } : {}),
    ...(typeof raw.run_once === 'boolean' ? { runOnce: raw.run_once } : {}),
    ...(typeof raw.delegate_to === 'string' ? { delegateTo: raw.delegate_to } : {}),
    ...(typeof raw.no_log === 'boolean' ? { noLog: raw.no_log } : {}),
    ...(typeof raw.check_mode === 'boolean' ? { checkMode: raw.check_mode } : {}),
  }
}

function conditionList(
  yaml: Yaml,
  raw: Record<string, unknown>,
  path: (string | number)[],
  name: string,
): (string | boolean)[] | undefined {
  if (raw[name] === undefined) return undefined
  const items = [raw[name]].flat() as (string | boolean)[]
  items.forEach(
    (c, n) =>
      typeof c === 'string' && checkExpression(yaml, [...path, name, ...(Array.isArray(raw[name]) ? [n] : [])], c),
  )
  return items
}

function parseTask(
  yaml: Yaml,
  raw: Record<string, unknown>,
  path: (string | number)[],
  ctx: Ctx,
  handler: boolean,
  inherited: Inherited,
): PlayTask {
  const { registry } = ctx
  const keys = yaml.keys(raw)
  const bad = keys.find((k) => unsupported.has(k) || (/^with_/.test(k) && !(k in loopKeys)))
  if (bad) yaml.fail([...path, bad], `"${bad}" is not supported by this engine`, 'key')
  if (!handler && 'listen' in raw) yaml.fail([...path, 'listen'], '"listen" is for handlers only', 'key')
  for (const section of ['rescue', 'always'])
    if (section in raw)
      yaml.fail([...path, section], `"${section}" belongs to a block (there is no "block:" here)`, 'key')
  checkKeywords(yaml, raw, path, "a task's")
  const actions = keys.filter((k) => !keywords.has(k))
  if (actions.length === 0) yaml.fail(path, `no task given: expected one task key (${registry.names().join(', ')})`)
  if (actions.length > 1)
    yaml.fail([...path, actions[1]!], `one task per entry, found ${actions.map((a) => `"${a}"`).join(' and ')}`, 'key')
  const key = actions[0]!
  const action = key.replace(/^ansible\.(?:builtin|legacy)\./, '')
  const task = registry.get(action)
  if (!task) yaml.fail([...path, key], `unknown task "${key}" (known: ${registry.names().join(', ')})`, 'key')
  let value = raw[key]
  if (typeof value === 'string' || typeof value === 'number') {
    if (!task.freeForm) yaml.fail([...path, key], `${action} takes a mapping of arguments, not a string`)
    value = { [task.freeForm]: String(value) }
  }
  if (value === null || value === undefined) value = {}
  if (typeof value !== 'object' || Array.isArray(value))
    yaml.fail([...path, key], `expected a mapping of arguments for ${action}`)
  const args = { ...(raw.args as Record<string, unknown> | undefined), ...(value as Record<string, unknown>) }
  const argsPath = (p: string[]) =>
    raw.args && !(p[0]! in (value as object)) ? [...path, 'args', ...p] : [...path, key, ...p]
  const aliased = registry.resolveAliases(action, args)
  if (aliased) yaml.fail(argsPath(aliased.path), aliased.message, 'key')
  checkTemplates(yaml, [...path, key], args, argsPath)
  const problem = registry.check(action, plain(args), (p) => {
    const leaf = p.reduce<unknown>(
      (v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined),
      args,
    )
    return typeof leaf === 'string' && isTemplated(leaf)
  })
  if (problem)
    yaml.fail(argsPath(problem.path), problem.message, problem.message.startsWith('unknown argument') ? 'key' : 'value')
  if (task.checkInputs) {
    try {
      task.checkInputs(args, { baseDir: ctx.playbookDir, searchPath: searchPath(yaml, inherited) })
    } catch (e) {
      yaml.fail([...path, key], (e as Error).message)
    }
  }
  const conditions = (name: string) => conditionList(yaml, raw, path, name)
  const loop = parseLoop(yaml, raw, path)
  if (loop && task.batch)
    yaml.fail(
      path,
      `a loop over "${action}" is not supported by this engine (it has a batch phase for the whole batch)`,
    )
  if (task.batch && (raw.delegate_to ?? inherited.delegateTo) !== undefined)
    yaml.fail(
      path,
      `delegate_to on "${action}" is not supported by this engine (it has a batch phase for the whole batch)`,
    )
  const settled = { ...inherited, ...keywordValues(raw) }
  const until = conditions('until')
  const name = typeof raw.name === 'string' ? raw.name : action
  const changedWhen = conditions('changed_when')
  const failedWhen = conditions('failed_when')
  checkTemplates(yaml, [...path, 'vars'], raw.vars)
  const result: PlayTask = {
    name,
    action,
    args,
    when: [...inherited.when, ...(conditions('when') ?? [])],
    ...(changedWhen ? { changedWhen } : {}),
    ...(failedWhen ? { failedWhen } : {}),
    notify: list(raw.notify),
    listen: handler ? [name, ...(inherited.role ? [`${inherited.role.name} : ${name}`] : []), ...list(raw.listen)] : [],
    tags: [...new Set([...inherited.tags, ...list(raw.tags)])],
    ...(typeof raw.register === 'string' ? { register: raw.register } : {}),
    ...(settled.checkMode !== undefined ? { checkMode: settled.checkMode } : {}),
    ignoreErrors: settled.ignoreErrors ?? false,
    vars: { ...inherited.vars, ...((raw.vars as Vars | undefined) ?? {}) },
    ...(typeof raw.timeout === 'number' ? { timeoutMs: raw.timeout * 1000 } : {}),
    ...(loop ? { loop } : {}),
    ...(until ? { until } : {}),
    retries: typeof raw.retries === 'number' ? raw.retries : 3,
    delay: typeof raw.delay === 'number' ? raw.delay : 5,
    ...(settled.become !== undefined ? { become: settled.become } : {}),
    ...(settled.becomeUser !== undefined ? { becomeUser: settled.becomeUser } : {}),
    ...(settled.delegateTo !== undefined ? { delegateTo: settled.delegateTo } : {}),
    runOnce: settled.runOnce ?? false,
    anyErrorsFatal: settled.anyErrorsFatal ?? false,
    noLog: settled.noLog ?? false,
    ...fromRole(inherited),
    searchPath: searchPath(yaml, inherited),
    file: yaml.file,
    line: yaml.locate(path).line,
  }
  taskPaths.set(result, [yaml, path])
  return result
}

/** loop / with_items / with_dict / with_fileglob and loop_control, checked; the items are made per host. */
function parseLoop(yaml: Yaml, raw: Record<string, unknown>, path: (string | number)[]): Loop | undefined {
  const keys = Object.keys(loopKeys).filter((k) => k in raw) as (keyof typeof loopKeys)[]
  const control = raw.loop_control as { loop_var?: string; index_var?: string; label?: string } | undefined
  if (!keys.length) {
    if (control) yaml.fail([...path, 'loop_control'], 'loop_control without a loop', 'key')
    return undefined
  }
  if (keys.length > 1) yaml.fail([...path, keys[1]!], `one loop per task, found ${keys.join(' and ')}`, 'key')
  const key = keys[0]!
  const value = raw[key]
  if (typeof value === 'string' && !isTemplated(value) && (key === 'loop' || key === 'with_dict'))
    yaml.fail([...path, key], `expected a ${key === 'with_dict' ? 'mapping' : 'list'} or a template that gives one`)
  checkTemplates(yaml, [...path, key], value)
  if (control?.label !== undefined) checkTemplates(yaml, [...path, 'loop_control', 'label'], control.label)
  return {
    kind: loopKeys[key],
    value,
    loopVar: control?.loop_var ?? 'item',
    ...(control?.index_var ? { indexVar: control.index_var } : {}),
    ...(control?.label !== undefined ? { label: control.label } : {}),
  }
}

function list(value: unknown): string[] {
  return value === undefined || value === null ? [] : ([value].flat() as string[])
}

function checkExpression(yaml: Yaml, path: (string | number)[], expression: string): void {
  try {
    checkTemplate(isTemplated(expression) ? expression : `{{ ${expression} }}`)
  } catch (e) {
    if (e instanceof TemplateError) yaml.fail(path, e.message)
    throw e
  }
}

/** What a task and a block check alike: no connection vars in their vars (the connection is the play's), and
 * the templates of delegate_to and become_user (rendered per host). */
function checkKeywords(yaml: Yaml, raw: Record<string, unknown>, path: (string | number)[], whose: string): void {
  const connectionVar = Object.keys((raw.vars as object | undefined) ?? {}).find((v) => connectionVars.includes(v))
  if (connectionVar)
    yaml.fail(
      [...path, 'vars', connectionVar],
      `connection variables in ${whose} vars are not supported by this engine (set ${connectionVar} in the inventory, the play's vars or -e)`,
      'key',
    )
  for (const key of ['delegate_to', 'become_user'])
    if (typeof raw[key] === 'string') checkTemplates(yaml, [...path, key], raw[key])
}

function checkTemplates(
  yaml: Yaml,
  path: (string | number)[],
  value: unknown,
  map = (p: string[]) => [...path, ...p],
): void {
  const walk = (v: unknown, at: string[]): void => {
    if (typeof v === 'string' && isTemplated(v)) {
      try {
        checkTemplate(v)
      } catch (e) {
        if (e instanceof TemplateError) yaml.fail(map(at), e.message)
        throw e
      }
    } else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...at, k])
  }
  walk(value, [])
}

// ---------------------------------------------------------------------------------------------------------

const playbookSchema = schemaValidator('playbook.schema.json', { allErrors: true })
const tasksSchema = schemaValidator('playbook.schema.json', { allErrors: true }, '/definitions/tasks')

function checkSchema(yaml: Yaml, validate: ValidateFunction, value: unknown): void {
  if (validate(plain(value))) return
  const error = pickError(validate.errors!)!
  const path = schemaErrorPath(error)
  if (error.keyword === 'additionalProperties') {
    const key = (error.params as { additionalProperty: string }).additionalProperty
    const hint = path.includes('loop_control')
      ? `loop_control's "${key}" is not supported by this engine (loop_var, index_var and label are)`
      : unsupported.has(key)
        ? `"${key}" is not supported by this engine`
        : `unknown play keyword "${key}"`
    yaml.fail([...path, key], hint, 'key')
  }
  if (error.keyword === 'required')
    yaml.fail(path, `a play needs "${(error.params as { missingProperty: string }).missingProperty}"`)
  if (error.keyword === 'propertyNames')
    yaml.fail([...path, (error.params as { propertyName: string }).propertyName], 'not a valid variable name', 'key')
  yaml.fail(path, expectedGot(error))
}

// ---------------------------------------------------------------------------------------------------------
// Extra vars: -e key=value (strings), -e '{"json": 1}' or YAML, -e @file.yml; later ones win, as in Ansible.

export function parseExtraVars(values: string[], cwd = process.cwd()): Vars {
  const vars: Vars = {}
  for (const value of values) {
    if (value.startsWith('@')) {
      const file = resolve(cwd, value.slice(1))
      Object.assign(vars, mapping(parseYaml(readInput(file, 'the extra vars file'), file)))
    } else if (/^\s*[{[]/.test(value)) {
      Object.assign(vars, mapping(parseYaml(value, '-e')))
    } else {
      for (const pair of keyValueWords(value)) {
        const at = pair.indexOf('=')
        if (at <= 0) throw new InputError(`expected key=value, got "${pair}"`, '-e')
        const key = pair.slice(0, at)
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new InputError(`"${key}" is not a valid variable name`, '-e')
        vars[key] = pair.slice(at + 1)
      }
    }
  }
  return vars
}

function mapping(yaml: Yaml): Vars {
  const v = yaml.value
  if (v === null || v === undefined) return {}
  if (typeof v !== 'object' || Array.isArray(v)) yaml.fail([], 'extra vars must be a mapping of names to values')
  for (const key of Object.keys(v as object))
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) yaml.fail([key], 'not a valid variable name', 'key')
  return v as Vars
}

// Ansible's parse_kv: spaces separate pairs, quotes group (and are removed).
function keyValueWords(text: string): string[] {
  const words: string[] = []
  const re = /(?:[^\s'"]+|'[^']*'|"(?:[^"\\]|\\.)*")+/g
  for (const m of text.match(re) ?? [])
    words.push(
      m.replace(/'([^']*)'|"((?:[^"\\]|\\.)*)"/g, (_, a?: string, b?: string) => a ?? b!.replace(/\\(.)/g, '$1')),
    )
  return words
}
