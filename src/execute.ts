// One task on the hosts at it, as ansible/executor/task_executor.py runs it on each: the host's vars, `when`,
// the args rendered and checked again, the connection (delegate_to's, with the become keywords), the task's
// run and settle, register, changed_when and failed_when; per item for a loop and again for `until`
// (src/loop.ts); then one record per host, counted as the strategy counts it (a failure a rescue takes over is
// rescued), and the host marked failing (its block still has a rescue or always section for it) or down.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, resolve } from 'node:path'
import { type Host, type Inventory } from './inventory.ts'
import { lockHost } from './host-lock.ts'
import { selectHosts } from './limit.ts'
import { type Play, type PlayTask, type Playbook } from './playbook.ts'
import { attemptsOf, itemFields, itemLabel, itemVars, loopItems, loopResult, noItems } from './loop.ts'
import { type RolloutEvent, type Status, type TaskRecord } from './report.ts'
import { BecomeError, ExecTimeout, HostKeyError, Transport, Unreachable, type Session } from './ssh.ts'
import {
  makeTarget,
  ReadAhead,
  RemoteError,
  type FileDiff,
  type Registry,
  type Target,
  type BatchContext,
  type Task,
  type TaskContext,
  settle,
  type TaskResult,
} from './task.ts'
import { evaluateCondition, hostvarsOf, render, renderValue, TemplateError } from './template.ts'
import { type Connection } from './connection.ts'
import type { FactCall } from './fact.ts'
import { importModule, InputError, plain, type Vars } from './util.ts'

/** A host through the run: its facts, registered vars, notified handlers, whether it failed, its session. */
export interface HostState {
  host: Host
  facts: Vars
  registered: Vars
  notified: Set<string>
  down?: 'failed' | 'unreachable'
  /** Failed inside a block that still has a rescue or always section for it (not yet out of the play). */
  failing?: boolean
  /** Failed where no block rescues it: out of ansible_play_hosts while its always sections run (Ansible's
   * play._removed_hosts). */
  removed?: boolean
  /** What the host's last task registered (or would have): ansible_failed_result in a rescue section. */
  lastResult?: Vars
  session?: Promise<Session>
  /** Facts gathered on its session for the tasks ahead (Task.reads). */
  ahead: ReadAhead
}

/**
 * Where a step is in the block tree, as PlayIterator tracks it per host: `rescuable` when some enclosing block
 * will rescue a failure here (is_any_block_rescuing: the failure counts as rescued, not failed), `catchable`
 * when some enclosing block still has a rescue or always section to run for a host failing here (the host
 * stays in the play until then).
 */
export interface Scope {
  rescuable: boolean
  catchable: boolean
}

/** A host failed at a task: it leaves for its block's rescue or always, or, when none catches it, the play. */
export function failHost(m: HostState, scope: Scope): void {
  if (scope.catchable) m.failing = true
  else m.down = 'failed'
}

/** What running a task needs of the rollout: its options, the play and batch, the hosts' states. */
export interface RunContext {
  inventory: Inventory
  playbook: Playbook
  registry: Registry
  forks?: number | undefined
  diff?: boolean | undefined
  verbosity?: number | undefined
  extraVars?: Vars | undefined
  lockWait?: number | undefined
  hostLock?: boolean | undefined
  check: boolean
  play: Play
  batch: number
  hosts: Host[]
  batchHosts: string[]
  connections: Map<string, Connection>
  states: Map<string, HostState>
  state: (host: Host) => HostState
  members: HostState[]
  transport: Transport
  emit: (event: RolloutEvent) => void
  factsOf: (host: string) => Vars | undefined
  scope?: Scope
  /** The plain tasks after this one at its block level (none for a handler): their reads are gathered with its. */
  ahead?: PlayTask[]
}

/** One task on the live hosts of a batch; marks hosts down; returns one record per host. */
export async function runTask(
  task: PlayTask,
  handler: boolean,
  live: HostState[],
  rc: RunContext,
): Promise<TaskRecord[]> {
  const definition = rc.registry.get(task.action)!
  const check = task.checkMode ?? rc.check
  const scope = rc.scope ?? { rescuable: false, catchable: false }
  const ctx: BatchContext = {
    check,
    diff: rc.diff ?? false,
    verbosity: rc.verbosity ?? 0,
    baseDir: dirname(resolve(rc.playbook.file)),
    ...(task.searchPath?.length ? { searchPath: task.searchPath } : {}),
    shared: new Map(),
    batchHosts: rc.batchHosts,
    playHosts: rc.hosts.map((h) => h.name),
    factsOf: (name) => {
      const facts = rc.factsOf(name)
      return facts && Object.keys(facts).length ? structuredClone(facts) : undefined
    },
    log: (message) => (rc.verbosity ?? 0) > 0 && process.stderr.write(`${message}\n`),
  }
  // run never sees --check (it returns changes, settle applies them); only the batch phase does.
  const { check: _check, ...runCtx }: BatchContext = ctx
  const base = { play: rc.play.index, batch: rc.batch, task: task.name, action: task.action, handler, check }
  const records = new Map<string, TaskRecord>()
  const finish = (m: HostState, record: Omit<TaskRecord, keyof typeof base | 'host'>) => {
    let full: TaskRecord = { ...base, host: m.host.name, ...record }
    if (full.status === 'unreachable') m.down = 'unreachable'
    else if (full.status === 'failed' && !full.ignored) {
      if (scope.rescuable) {
        // As Ansible: the failure is counted as rescued, and the rescue section sees it.
        full = { ...full, rescued: true }
        m.registered.ansible_failed_task = { name: task.name, action: task.action }
        m.registered.ansible_failed_result = m.lastResult ?? { failed: true, msg: full.msg ?? '' }
      } else m.removed = true
      failHost(m, scope)
    }
    if (task.noLog) full = hidden(full)
    records.set(m.host.name, full)
    rc.emit({ type: 'result', record: full })
  }

  const ready = await prepare(task, live, rc, check, finish)
  // The batch phase sees every host that is about to run the task.
  let preset = new Map<string, TaskResult>()
  if (definition.batch && ready.length) {
    try {
      preset =
        (await definition.batch(
          ready.map((r) => ({ host: r.target, args: r.args! })),
          ctx,
        )) ?? preset
    } catch (e) {
      for (const r of ready) finish(r.m, failure(e, task, r.started))
      return order(live, records)
    }
  }

  await forEach(ready, rc.forks, (r) => runOnHost(task, definition, r, rc, { check, ctx: runCtx, preset, finish }))
  return order(live, records)
}

/**
 * A dynamic include on the hosts at it (include_tasks, include_role), as the strategy processes it: per host its
 * `when` (per item with a loop); an error in them fails the host. Returns one record per host (ok: included,
 * or skipped) and, per host that included, the vars of each inclusion (the item's, or none).
 */
export async function runInclude(
  task: PlayTask,
  live: HostState[],
  rc: RunContext,
): Promise<{ records: TaskRecord[]; included: Map<HostState, Vars[]> }> {
  const scope = rc.scope ?? { rescuable: false, catchable: false }
  const base = { play: rc.play.index, batch: rc.batch, task: task.name, action: task.action, handler: false }
  const records: TaskRecord[] = []
  const included = new Map<HostState, Vars[]>()
  for (const m of live) {
    const vars = hostVars(m, rc, task, rc.check)
    const record: TaskRecord = { ...base, check: rc.check, host: m.host.name, status: 'ok', ms: 0 }
    try {
      if (!task.loop) {
        if (task.when.every((c) => evaluateCondition(c, vars))) included.set(m, [{}])
        else record.status = 'skipped'
      } else {
        const items = loopItems(task.loop, vars, [...(task.searchPath ?? []), dirname(resolve(rc.playbook.file))])
        const kept = items
          .map((item, i) => ({ vars: itemFields(task.loop!, item, i), scope: itemVars(task.loop!, vars, item, i) }))
          .filter((x) => task.when.every((c) => evaluateCondition(c, x.scope)))
          .map((x) => x.vars)
        if (kept.length) included.set(m, kept)
        else record.status = 'skipped'
      }
    } catch (e) {
      const failed = failure(e, task, Date.now())
      record.status = 'failed'
      if (failed.msg) record.msg = failed.msg
      if (scope.rescuable) {
        record.rescued = true
        m.registered.ansible_failed_task = { name: task.name, action: task.action }
        m.registered.ansible_failed_result = { failed: true, msg: failed.msg ?? '' }
      } else m.removed = true
      failHost(m, scope)
    }
    if (record.status === 'ok') record.counts = task.action === 'include_role' ? 0 : included.get(m)!.length
    records.push(record)
    rc.emit({ type: 'result', record })
  }
  return { records, included }
}

const noLogMessage = "the output has been hidden due to the fact that 'no_log: true' was specified for this result"

/** A record of a no_log task: its status only (Ansible's censored result). */
function hidden(record: TaskRecord): TaskRecord {
  const { msg: _m, diff: _d, data: _data, items, ...rest } = record
  return {
    ...rest,
    msg: noLogMessage,
    ...(items ? { items: items.map((i) => ({ status: i.status, label: 'None' })) } : {}),
  }
}

/** A host about to run a task: its vars, rendered and re-checked args (not for a loop: per item), its session. */
interface Ready {
  m: HostState
  vars: Vars
  args?: Record<string, unknown>
  items?: unknown[]
  session: Session
  target: Target
  started: number
}

type Finish = (
  m: HostState,
  record: Omit<TaskRecord, 'play' | 'batch' | 'task' | 'action' | 'handler' | 'check' | 'host'>,
) => void

/** Per host: vars, `when` (per item for a loop), rendered and re-checked args, the connection. */
async function prepare(
  task: PlayTask,
  live: HostState[],
  rc: RunContext,
  check: boolean,
  finish: Finish,
): Promise<Ready[]> {
  const ready: Ready[] = []
  await forEach(live, rc.forks, async (m) => {
    const started = Date.now()
    const vars = hostVars(m, rc, task, check)
    delete m.lastResult
    // Reads gathered ahead for other tasks go here: the walk left the order they were gathered for.
    const held = m.ahead.enter(task)
    try {
      let items: unknown[] | undefined
      let args: Record<string, unknown> | undefined
      if (task.loop) {
        // As TaskExecutor: `when` is per item; a loop that cannot be made is an error unless `when` is false.
        try {
          items = loopItems(task.loop, vars, [...(task.searchPath ?? []), dirname(resolve(rc.playbook.file))])
        } catch (e) {
          if (!safeWhen(task, vars)) return skip(m, task, finish)
          throw e
        }
        if (!items.length) {
          if (task.register) m.registered[task.register] = { ...noItems }
          return finish(m, { status: 'skipped', msg: 'No items in the list', ms: 0 })
        }
      } else {
        if (!task.when.every((c) => evaluateCondition(c, vars))) return skip(m, task, finish)
        const rendered = renderArgs(task, vars, rc)
        if (typeof rendered === 'string') return finish(m, { status: 'failed', msg: rendered, ms: 0 })
        args = rendered
      }
      const session = await hostSession(rc, m)
      // The batch phase and run see the same target: delegate_to's connection, the task's become.
      const execution = items ? session : await executionSession(task, vars, m, session, rc)
      // Facts gathered ahead are read on the host's own session only (not delegated, the host's own become).
      if (args && !held && execution === session) await readAhead(m, task, args, session, rc)
      const target = makeTarget(m.host.name, vars, m.facts, execution, m.ahead)
      ready.push({ m, vars, ...(args ? { args } : {}), ...(items ? { items } : {}), session, target, started })
    } catch (e) {
      finish(m, failure(e, task, started))
    }
  })

  return ready
}

/**
 * Gathers in one remote command what this task and the plain tasks after it at its block level read first
 * (Task.reads), up to the first that does not say, loops, runs elsewhere (delegate_to, another become) or
 * whose args do not render yet. A guess that turns out wrong (a `when` that skips, a var registered
 * meanwhile) costs only the reading: ReadAhead serves a fact only to the same call on the same session, while
 * nothing may have changed the host, and only to the tasks it was gathered for.
 */
async function readAhead(
  m: HostState,
  task: PlayTask,
  args: Record<string, unknown>,
  session: Session,
  rc: RunContext,
): Promise<void> {
  const baseDir = dirname(resolve(rc.playbook.file))
  const calls: FactCall[] = []
  const tasks: PlayTask[] = []
  for (const [t, i] of [task, ...(rc.ahead ?? [])].map((t, i) => [t, i] as const)) {
    const reads = rc.registry.get(t.action)?.reads
    if (!reads || t.loop || t.delegateTo !== undefined) break
    try {
      let tArgs = args
      if (i > 0) {
        const vars = hostVars(m, rc, t, t.checkMode ?? rc.check)
        const rendered = renderArgs(t, vars, rc)
        if (typeof rendered === 'string' || (await executionSession(t, vars, m, session, rc)) !== session) break
        tArgs = rendered
      }
      calls.push(...reads(tArgs, { baseDir }))
      tasks.push(t)
    } catch {
      break
    }
  }
  if (calls.length) await m.ahead.fill(session, calls, tasks)
}

/** As Ansible: a task skipped by `when` still registers, and replaces what the name held. */
function skip(m: HostState, task: PlayTask, finish: Finish): void {
  if (task.register)
    m.registered[task.register] = { changed: false, skipped: true, skip_reason: 'Conditional result was False' }
  finish(m, { status: 'skipped', ms: 0 })
}

function safeWhen(task: PlayTask, vars: Vars): boolean {
  try {
    return task.when.every((c) => evaluateCondition(c, vars))
  } catch {
    return true
  }
}

/** The task's args rendered with these vars and checked again; a string says what is wrong. */
function renderArgs(task: PlayTask, vars: Vars, rc: RunContext): Record<string, unknown> | string {
  const args = plain(renderValue(task.args, vars)) as Record<string, unknown>
  const problem = rc.registry.check(task.action, args)
  return problem ? `${task.file}:${task.line}: ${[task.action, ...problem.path].join('.')}: ${problem.message}` : args
}

/** A host's session for this batch (connected, and locked, once). */
function hostSession(rc: RunContext, m: HostState): Promise<Session> {
  return (m.session ??= rc.transport
    .session(m.host.name, rc.connections.get(m.host.name) ?? m.host.connection)
    .then((s) => (rc.hostLock === false ? s : lockHost(s, rc.lockWait ?? 0))))
}

/**
 * Where an execution runs: the host's own session, or delegate_to's (a host of the inventory, reached with
 * its own connection vars), with the become the task asks for — unless the host's ansible_become* vars say
 * otherwise: as Ansible's PlayContext, connection variables win over the become keywords.
 */
async function executionSession(
  task: PlayTask,
  vars: Vars,
  m: HostState,
  own: Session,
  rc: RunContext,
): Promise<Session> {
  let session = own
  let name = m.host.name
  if (task.delegateTo !== undefined) {
    name = String(render(task.delegateTo, vars))
    const host = rc.inventory.hosts.get(name)
    if (!host || !rc.connections.has(name))
      throw new InputError(
        `delegate_to: "${name}" is not ${host ? 'reachable by this engine (see its connection vars)' : 'a host of the inventory'}`,
        task.file,
        task.line,
      )
    if (name !== m.host.name) session = await hostSession(rc, rc.state(host))
  }
  if (task.become === undefined && task.becomeUser === undefined) return session
  const set = { ...rc.inventory.hosts.get(name)!.vars, ...rc.play.vars, ...rc.extraVars }
  return session.withBecome({
    become: 'ansible_become' in set || task.become === undefined ? session.target.become : task.become,
    becomeUser:
      'ansible_become_user' in set || task.becomeUser === undefined
        ? session.target.becomeUser
        : render(task.becomeUser, vars),
  })
}

/** The task on one host: once, or once per item; then its record, what it registers and whom it notifies. */
async function runOnHost(
  task: PlayTask,
  definition: Task,
  ready: Ready,
  rc: RunContext,
  { check, ctx, preset, finish }: { check: boolean; ctx: TaskContext; preset: Map<string, TaskResult>; finish: Finish },
): Promise<void> {
  const { m, vars, started } = ready
  rc.emit({ type: 'host-start', host: m.host.name, task: task.name })
  try {
    let outcome: Outcome
    let items: TaskRecord['items']
    if (!task.loop) {
      outcome = await execute(task, definition, vars, ready, rc, { check, ctx, preset: preset.get(m.host.name) })
    } else {
      const results: Outcome[] = []
      items = []
      for (const [i, item] of ready.items!.entries()) {
        const scope = itemVars(task.loop, vars, item, i)
        const o = await execute(task, definition, scope, ready, rc, { check, ctx, when: true })
        o.registered = { ...o.registered, ...itemFields(task.loop, item, i) }
        results.push(o)
        let label: string
        try {
          label = itemLabel(task.loop, scope)
        } catch {
          label = JSON.stringify(item)
        }
        items.push({ label, status: statusOf(o.result), ...(o.result.msg ? { msg: o.result.msg } : {}) })
      }
      const all = loopResult(
        results.map((o) => ({
          changed: o.result.changed,
          failed: !!o.result.failed,
          skipped: !!o.result.skipped,
          registered: o.registered,
        })),
      )
      outcome = {
        result: {
          changed: all.changed,
          ...(all.failed ? { failed: true } : {}),
          ...(all.skipped ? { skipped: true } : {}),
          msg: all.msg,
          diff: results.flatMap((o) => o.result.diff ?? []),
        },
        registered: all.registered,
      }
    }
    const { result } = outcome
    if (task.register) m.registered[task.register] = outcome.registered
    m.lastResult = outcome.registered
    const status = statusOf(result)
    if (status === 'changed') for (const n of task.notify) m.notified.add(n)
    const diff = ctx.diff && result.diff?.length ? await unifiedDiff(result.diff) : undefined
    finish(m, {
      status,
      ...(status === 'failed' && task.ignoreErrors ? { ignored: true } : {}),
      ...(status === 'failed' && result.changed ? { changed: true } : {}),
      ...(result.msg ? { msg: result.msg } : {}),
      ...(diff ? { diff } : {}),
      ...(result.data ? { data: result.data } : {}),
      ...(items ? { items } : {}),
      ms: Date.now() - started,
    })
  } catch (e) {
    const record = failure(e, task, started)
    if (task.register) m.registered[task.register] = { changed: false, failed: true, msg: record.msg }
    finish(m, record)
  }
}

function statusOf(result: TaskResult): Status {
  return result.failed ? 'failed' : result.skipped ? 'skipped' : result.changed ? 'changed' : 'ok'
}

/** One execution's result and what it registers. */
interface Outcome {
  result: TaskResult
  registered: Vars
}

/**
 * One execution of a task (the task, or one item of its loop): `when` (for an item), args, run and settle,
 * then register, changed_when and failed_when, as TaskExecutor._execute; with `until`, again until it holds.
 */
async function execute(
  task: PlayTask,
  definition: Task,
  vars: Vars,
  ready: Ready,
  rc: RunContext,
  o: { check: boolean; ctx: TaskContext; preset?: TaskResult | undefined; when?: boolean },
): Promise<Outcome> {
  if (o.when && !task.when.every((c) => evaluateCondition(c, vars))) {
    const registered = { changed: false, skipped: true, skip_reason: 'Conditional result was False' }
    return { result: { changed: false, skipped: true }, registered }
  }
  const args = ready.args ?? renderArgs(task, vars, rc)
  if (typeof args === 'string') return { result: { changed: false, failed: true, msg: args }, registered: {} }
  // A loop's item may delegate elsewhere (delegate_to templated with the item): its own target each time.
  const target = !task.loop
    ? ready.target
    : makeTarget(ready.m.host.name, vars, ready.m.facts, await executionSession(task, vars, ready.m, ready.session, rc))
  const attempts = attemptsOf(task)
  let outcome: Outcome | undefined
  for (let attempt = 1; attempt <= attempts; attempt++) {
    let result: TaskResult
    try {
      result = o.preset
        ? await settle(o.preset, o.check)
        : await withTimeout(
            definition.run(target, args, o.ctx).then((result) => settle(result, o.check)),
            task.timeoutMs,
            `task timed out after ${(task.timeoutMs ?? 0) / 1000} s`,
          )
    } catch (e) {
      // A task that throws failed, as a module that returns failed: true; failed_when still decides
      // (Ansible evaluates it on every result that is not skipped). A host that is gone is not a result.
      if (e instanceof Unreachable || e instanceof HostKeyError) throw e
      result = { changed: false, failed: true, msg: failure(e, task, ready.started).msg ?? String(e) }
    }
    if (result.facts) Object.assign(ready.m.facts, result.facts)
    if (result.vars && !result.failed) Object.assign(ready.m.registered, result.vars)
    outcome = applyConditions(task, result, vars, task.until ? { attempts: attempt } : {})
    if (attempts === 1) break
    const scope = task.register ? { ...vars, [task.register]: outcome.registered } : vars
    if (task.until!.every((c) => evaluateCondition(c, scope))) break
    if (attempt < attempts) {
      rc.emit({ type: 'retry', host: ready.m.host.name, task: task.name, attempt, of: attempts - 1 })
      await new Promise((resolve) => setTimeout(resolve, task.delay * 1000))
    } else {
      // As Ansible 2.14: out of attempts, the result fails and says attempts = retries.
      outcome = {
        result: { ...outcome.result, failed: true },
        registered: { ...outcome.registered, attempts: attempts - 1, failed: true },
      }
    }
  }
  return outcome!
}

function order(live: HostState[], records: Map<string, TaskRecord>): TaskRecord[] {
  return live.map((m) => records.get(m.host.name)).filter((r): r is TaskRecord => !!r)
}

function failure(
  e: unknown,
  task: PlayTask,
  started: number,
): Omit<TaskRecord, 'play' | 'batch' | 'task' | 'action' | 'handler' | 'check' | 'host'> {
  const ms = Date.now() - started
  if (e instanceof Unreachable) return { status: 'unreachable', msg: e.message, ms }
  const known =
    e instanceof HostKeyError ||
    e instanceof ExecTimeout ||
    e instanceof RemoteError ||
    e instanceof TemplateError ||
    e instanceof InputError ||
    e instanceof BecomeError
  // A task fails by throwing an Error with its message, as a module's fail_json; another class (a TypeError)
  // is a bug, and says so.
  const plainError = e instanceof Error && Object.getPrototypeOf(e) === Error.prototype
  const msg = known || plainError ? (e as Error).message : e instanceof Error ? `${e.name}: ${e.message}` : String(e)
  return { status: 'failed', msg, ms, ...(task.ignoreErrors ? { ignored: true } : {}) }
}

/** register, then changed_when / failed_when (which may use the registered result), as in Ansible. */
function applyConditions(task: PlayTask, result: TaskResult, vars: Vars, extra: Vars): Outcome {
  // As Ansible registers it: changed and failed always, skipped only when true.
  const registered = () => ({
    changed: result.changed,
    failed: !!result.failed,
    ...(result.skipped ? { skipped: true } : {}),
    ...(result.msg ? { msg: result.msg } : {}),
    ...result.data,
    ...extra,
  })
  // Ansible evaluates changed_when/failed_when only on results that were not skipped (--check on a command).
  if (result.skipped) return { result, registered: registered() }
  const scope = task.register ? { ...vars, [task.register]: registered() } : vars
  if (task.changedWhen) result = { ...result, changed: task.changedWhen.every((c) => evaluateCondition(c, scope)) }
  if (task.failedWhen) {
    const failed = task.failedWhen.every((c) => evaluateCondition(c, scope))
    result = {
      ...result,
      failed,
      ...(failed && !result.msg ? { msg: `failed_when: ${task.failedWhen.join(' and ')}` } : {}),
    }
  }
  return { result, registered: registered() }
}

/** Var precedence for the sources we have, as Ansible's VariableManager: the play's role defaults < the task's
 * role's defaults < inventory < facts < play < the play's role vars < the task's role vars < task < registered <
 * role params and include params < extra. */
function hostVars(m: HostState, rc: RunContext, task: PlayTask, check: boolean): Vars {
  return {
    ...rc.play.roleDefaults,
    ...task.roleDefaults,
    ...m.host.vars,
    ...factVars(m.facts),
    ...rc.play.vars,
    ...rc.play.roleVars,
    ...task.roleVars,
    ...task.vars,
    ...m.registered,
    ...task.params,
    ...rc.extraVars,
    ...magicVars(m.host, rc),
    ...(task.role ? { role_name: task.role, role_path: task.rolePath } : {}),
    ansible_check_mode: check,
    ansible_diff_mode: rc.diff ?? false,
    // As Ansible: hosts that failed or were unreachable are out of ansible_play_hosts and ansible_play_batch.
    ansible_play_hosts_all: rc.hosts.map((h) => h.name),
    ansible_play_hosts: rc.hosts.map((h) => h.name).filter((h) => inPlay(rc.states.get(h))),
    ansible_play_batch: rc.batchHosts.filter((h) => inPlay(rc.states.get(h))),
    hostvars: hostvarsView(rc),
  }
}

const hostvarsViews = new WeakMap<Map<string, HostState>, { made: unknown[]; hostvars: Record<string, Vars> }>()

/**
 * As Ansible's hostvars: each host's vars without the play's (inventory, facts, registered, extra). A lazy view
 * (each host's vars are made when read, from its state then), so one serves every host and task of the run
 * context's hosts: made per host and task it cost N getters each time, N² per task (10 000 at 100 hosts).
 */
function hostvarsView(rc: RunContext): Record<string, Vars> {
  const made = [rc.inventory, rc.inventory.hosts.size, rc.extraVars, rc.playbook]
  let view = hostvarsViews.get(rc.states)
  if (!view || view.made.some((m, i) => m !== made[i])) {
    const { inventory, states, extraVars } = rc
    const hostvars = hostvarsOf([...inventory.hosts.keys()], (name) => {
      const host = inventory.hosts.get(name)!
      const s = states.get(name)
      return {
        ...host.vars,
        ...factVars(s?.facts ?? {}),
        ...s?.registered,
        ...extraVars,
        ...magicVars(host, rc),
      }
    })
    hostvarsViews.set(rc.states, (view = { made, hostvars }))
  }
  return view.hostvars
}

function factVars(facts: Vars): Vars {
  return { ...Object.fromEntries(Object.entries(facts).map(([k, v]) => [`ansible_${k}`, v])), ansible_facts: facts }
}

function magicVars(host: Host, rc: RunContext): Vars {
  return {
    inventory_hostname: host.name,
    inventory_hostname_short: host.name.split('.')[0],
    group_names: host.groups.filter((g) => g !== 'all' && g !== 'ungrouped').sort(),
    groups: groupsVar(rc.inventory),
    playbook_dir: dirname(resolve(rc.playbook.file)),
    inventory_file: rc.inventory.file,
    inventory_dir: dirname(resolve(rc.inventory.file)),
  }
}

function inPlay(m: HostState | undefined): boolean {
  return !m?.down && !m?.removed
}

// The `groups` magic var (group → its hosts, children included), computed once per inventory.
const groupsCache = new WeakMap<Inventory, Record<string, string[]>>()
function groupsVar(inventory: Inventory): Record<string, string[]> {
  let groups = groupsCache.get(inventory)
  if (!groups) {
    groups = Object.fromEntries(
      [...inventory.groups.keys()].map((g) => [g, selectHosts(inventory, g).map((h) => h.name)]),
    )
    groupsCache.set(inventory, groups)
  }
  return groups
}

async function forEach<T>(items: T[], limit: number | undefined, work: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items]
  const workers = Array.from({ length: Math.max(1, Math.min(limit ?? queue.length, queue.length)) }, async () => {
    for (let item; (item = queue.shift()) !== undefined; ) await work(item)
  })
  await Promise.all(workers)
}

function withTimeout<T>(promise: Promise<T>, ms: number | undefined, message: string): Promise<T> {
  if (!ms) return promise
  let timer: NodeJS.Timeout
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms))),
  ]).finally(() => clearTimeout(timer))
}

/** Unified diffs with the system's `diff -u`, controller side. */
export async function unifiedDiff(diffs: FileDiff[]): Promise<string> {
  // zx costs ~0.1 s to import: only a --diff run that has something to show pays for it.
  const { $ } = await importModule<typeof import('zx')>('zx')
  const parts: string[] = []
  for (const d of diffs) {
    if (d.binary) {
      parts.push(`Binary file ${d.path} ${d.before === d.after ? 'unchanged' : 'differs'}\n`)
      continue
    }
    const dir = await mkdtemp(resolve(tmpdir(), 'hbmon-diff-'))
    try {
      await writeFile(resolve(dir, 'before'), d.before)
      await writeFile(resolve(dir, 'after'), d.after)
      const out = await $({
        quiet: true,
        nothrow: true,
        cwd: dir,
      })`diff -u --label ${`before: ${d.path}`} --label ${`after: ${d.path}`} before after`
      parts.push(out.stdout)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }
  return parts.join('')
}
