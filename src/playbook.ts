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
// check_mode). Not supported (an error, not ignored): roles, include/import (import_playbook too), other
// with_* lookups, loop_control's pause/extended, become_method, vars_files, strategy, blocks in handlers,
// loops on a task with a batch phase, connection vars in a task's vars.
//
// What a block's keywords mean for its tasks is settled here, as Ansible's attribute inheritance does it: a
// task's own value wins, else the nearest block's, else the play's; `when` conditions and tags add up
// (outermost first), vars merge. The rollout keeps the block tree only for rescue and always.
// Tasks may check the files their args name (a template parses, a copy src exists) here too: every input is
// checked before anything connects.
import { dirname, resolve } from 'node:path'
import { readInput } from './input-file.ts'
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

export type Step = PlayTask | Block

export function isBlock(step: Step): step is Block {
  return 'block' in step
}

/** Every task of some steps, in order (a block's tasks, then its rescue, then its always). */
export function flatTasks(steps: Step[]): PlayTask[] {
  return steps.flatMap((s) =>
    isBlock(s) ? [...flatTasks(s.block), ...flatTasks(s.rescue), ...flatTasks(s.always)] : [s],
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
  file: string
  line: number
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
  'include_tasks',
  'import_tasks',
  'include_role',
  'import_role',
  'import_playbook',
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
  'roles',
  'pre_tasks',
  'post_tasks',
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

export async function loadPlaybook(file: string, registry: Registry): Promise<Playbook> {
  return parsePlaybook(readInput(file, 'the playbook'), file, registry)
}

export function parsePlaybook(text: string, file: string, registry: Registry): Playbook {
  const yaml = parseYaml(text, file)
  if (yaml.value === null || yaml.value === undefined) yaml.fail([], 'the playbook is empty: expected a list of plays')
  if (!Array.isArray(yaml.value)) {
    const hint =
      yaml.value && typeof yaml.value === 'object' && 'hosts' in yaml.value ? ' (put "- " before "hosts:")' : ''
    yaml.fail([], `expected a list of plays${hint}`)
  }
  ;(yaml.value as unknown[]).forEach((play, i) => {
    const key =
      play && typeof play === 'object'
        ? Object.keys(play).find((k) => ['import_playbook', 'include', 'ansible.builtin.import_playbook'].includes(k))
        : undefined
    if (key) yaml.fail([i, key], `"${key}" is not supported by this engine (one playbook file per run)`, 'key')
  })
  checkSchema(yaml)
  const plays = (yaml.value as Record<string, unknown>[]).map((raw, i) => parsePlay(yaml, raw, i, registry))
  return { file, plays }
}

function parsePlay(yaml: Yaml, raw: Record<string, unknown>, i: number, registry: Registry): Play {
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
  const handlers = ((raw.handlers ?? []) as Record<string, unknown>[]).map((t, j) => {
    if ('block' in t)
      yaml.fail([...path, 'handlers', j, 'block'], 'blocks in handlers are not supported by this engine', 'key')
    return parseTask(yaml, t, [...path, 'handlers', j], registry, true, inherited)
  })
  const topics = new Set(handlers.flatMap((h) => h.listen))
  const tasks = parseSteps(
    yaml,
    (raw.tasks ?? []) as Record<string, unknown>[],
    [...path, 'tasks'],
    registry,
    inherited,
  )
  const checkNotify = (items: PlayTask[]) =>
    items.forEach((task) => {
      for (const name of task.notify)
        if (!topics.has(name))
          yaml.fail(
            [...taskPaths.get(task)!, 'notify'],
            `no handler named "${name}" in this play${topics.size ? ` (handlers: ${[...topics].join(', ')})` : ''}`,
          )
    })
  checkNotify(flatTasks(tasks))
  checkNotify(handlers)
  play.tasks = tasks
  play.handlers = handlers
  return play
}

// Where each task is in its YAML (for errors found after it was parsed, such as a notify without handler).
const taskPaths = new WeakMap<PlayTask, (string | number)[]>()

function parseSteps(
  yaml: Yaml,
  raws: Record<string, unknown>[],
  path: (string | number)[],
  registry: Registry,
  inherited: Inherited,
): Step[] {
  return raws.map((raw, j) =>
    raw && typeof raw === 'object' && 'block' in raw
      ? parseBlock(yaml, raw, [...path, j], registry, inherited)
      : parseTask(yaml, raw, [...path, j], registry, false, inherited),
  )
}

function parseBlock(
  yaml: Yaml,
  raw: Record<string, unknown>,
  path: (string | number)[],
  registry: Registry,
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
    parseSteps(yaml, (raw[name] ?? []) as Record<string, unknown>[], [...path, name], registry, inherited)
  return {
    name: typeof raw.name === 'string' ? raw.name : 'block',
    block: section('block'),
    rescue: section('rescue'),
    always: section('always'),
    file: yaml.file,
    line: yaml.locate(path).line,
  }
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
  registry: Registry,
  handler: boolean,
  inherited: Inherited,
): PlayTask {
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
      task.checkInputs(args, { baseDir: dirname(resolve(yaml.file)) })
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
    listen: handler ? [name, ...list(raw.listen)] : [],
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
    file: yaml.file,
    line: yaml.locate(path).line,
  }
  taskPaths.set(result, path)
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

function checkSchema(yaml: Yaml): void {
  const validate = playbookSchema()
  if (validate(plain(yaml.value))) return
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
