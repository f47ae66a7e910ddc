// Playbooks: YAML (read as Ansible reads it, see inventory.ts's parseYaml) → JSON Schema → typed plays whose
// tasks are checked against the registry: the task key exists, its args pass the task's schema, templates
// parse, `notify` names a handler of the play. Every problem is an InputError with file:line and the path.
//
// Supported keywords — play: name, hosts, vars, gather_facts (default true), serial, max_fail_percentage,
// tags, tasks, handlers. Task: name, the task key (`copy:`, `ansible.builtin.copy:` alike), args, when,
// changed_when, failed_when, notify, tags, check_mode, ignore_errors, register, vars, timeout; handlers
// also `listen`. Not supported (an error, not ignored): roles, blocks, include/import (import_playbook too),
// loops (loop, with_*), vars_files, delegate_to, any_errors_fatal, strategy, connection vars in a task's vars.
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
  tasks: PlayTask[]
  handlers: PlayTask[]
  line: number
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
  file: string
  line: number
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
])
const unsupported = new Set([
  'block',
  'rescue',
  'always',
  'loop',
  'with_items',
  'include',
  'include_tasks',
  'import_tasks',
  'include_role',
  'import_role',
  'import_playbook',
  'delegate_to',
  'run_once',
  'become',
  'become_user',
  'environment',
  'until',
  'retries',
  'delay',
  'async',
  'poll',
  'local_action',
  'any_errors_fatal',
  'no_log',
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
    tasks: [],
    handlers: [],
    line: yaml.locate(path).line,
  }
  if (play.maxFailPercentage !== undefined && play.maxFailPercentage > 100)
    yaml.fail([...path, 'max_fail_percentage'], 'expected a percentage between 0 and 100')
  checkTemplates(yaml, [...path, 'vars'], play.vars)
  if (play.gatherFacts && !registry.get('facts'))
    yaml.fail(
      path,
      'gather_facts needs the "facts" task, which is not in the task directories (or set gather_facts: false)',
    )
  const handlers = ((raw.handlers ?? []) as Record<string, unknown>[]).map((t, j) =>
    parseTask(yaml, t, [...path, 'handlers', j], registry, true),
  )
  const topics = new Set(handlers.flatMap((h) => h.listen))
  const tasks = ((raw.tasks ?? []) as Record<string, unknown>[]).map((t, j) =>
    parseTask(yaml, t, [...path, 'tasks', j], registry, false),
  )
  const checkNotify = (kind: string, items: PlayTask[]) =>
    items.forEach((task, j) => {
      for (const name of task.notify)
        if (!topics.has(name))
          yaml.fail(
            [...path, kind, j, 'notify'],
            `no handler named "${name}" in this play${topics.size ? ` (handlers: ${[...topics].join(', ')})` : ''}`,
          )
    })
  checkNotify('tasks', tasks)
  checkNotify('handlers', handlers)
  play.tasks = tasks
  play.handlers = handlers
  return play
}

function parseTask(
  yaml: Yaml,
  raw: Record<string, unknown>,
  path: (string | number)[],
  registry: Registry,
  handler: boolean,
): PlayTask {
  const keys = yaml.keys(raw)
  const bad = keys.find((k) => unsupported.has(k) || /^with_/.test(k))
  if (bad) yaml.fail([...path, bad], `"${bad}" is not supported by this engine`, 'key')
  if (!handler && 'listen' in raw) yaml.fail([...path, 'listen'], '"listen" is for handlers only', 'key')
  const connectionVar = Object.keys((raw.vars as object | undefined) ?? {}).find((v) => connectionVars.includes(v))
  if (connectionVar)
    yaml.fail(
      [...path, 'vars', connectionVar],
      `connection variables in a task's vars are not supported by this engine (set ${connectionVar} in the inventory, the play's vars or -e)`,
      'key',
    )
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
  const conditions = (name: string) => {
    if (raw[name] === undefined) return undefined
    const items = [raw[name]].flat() as (string | boolean)[]
    items.forEach(
      (c, n) =>
        typeof c === 'string' && checkExpression(yaml, [...path, name, ...(Array.isArray(raw[name]) ? [n] : [])], c),
    )
    return items
  }
  const name = typeof raw.name === 'string' ? raw.name : action
  const changedWhen = conditions('changed_when')
  const failedWhen = conditions('failed_when')
  checkTemplates(yaml, [...path, 'vars'], raw.vars)
  return {
    name,
    action,
    args,
    when: conditions('when') ?? [],
    ...(changedWhen ? { changedWhen } : {}),
    ...(failedWhen ? { failedWhen } : {}),
    notify: list(raw.notify),
    listen: handler ? [name, ...list(raw.listen)] : [],
    tags: list(raw.tags),
    ...(typeof raw.register === 'string' ? { register: raw.register } : {}),
    ...(typeof raw.check_mode === 'boolean' ? { checkMode: raw.check_mode } : {}),
    ignoreErrors: raw.ignore_errors === true,
    vars: (raw.vars as Vars | undefined) ?? {},
    ...(typeof raw.timeout === 'number' ? { timeoutMs: raw.timeout * 1000 } : {}),
    file: yaml.file,
    line: yaml.locate(path).line,
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
    const hint = unsupported.has(key) ? `"${key}" is not supported by this engine` : `unknown play keyword "${key}"`
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
