// Runs plays over the fleet the way ansible-playbook's linear strategy does.
//
// - Batches (serial) as PlaybookExecutor._get_serialized_batches: a number, "N%" of the play's hosts (rounded
//   down, at least 1) or a list of them whose last value repeats; 0 or nothing is one batch of every host.
// - Within a batch each task runs on every live host (up to `forks` at once) before the next task starts.
//   A host that fails or is unreachable does nothing more in this run (later plays included), as in Ansible.
// - max_fail_percentage, after each task, per batch: stop when failed / batch size > percentage / 100, in
//   floating point as Ansible's linear strategy computes it (overMaxFail).
//   The other hosts of the batch stop where they are (no more tasks, no handlers) and no later batch or play
//   runs. DIFFERENCE: unreachable hosts count as failed here (Ansible counts only failed hosts), because a
//   host we could not update is a failed rollout step for us. As in Ansible, a batch in which every host
//   failed or was unreachable stops the rollout even without max_fail_percentage.
// - Handlers run at the end of each batch (where Ansible flushes them: each batch is a run of the play), in
//   the order they are defined, once per host that notified them with a change, on hosts still live.
// - Host key problems are failures, not unreachable (DIFFERENCE: Ansible reports them UNREACHABLE). A wrong
//   host key is not a host that is down, and retrying it should not look like a transient error.
// - gather_facts (default true) runs the `facts` task first, as Ansible's implicit setup.
// - Results as Ansible's TaskExecutor: a task skipped by `when` registers {changed: false, skipped: true};
//   changed_when/failed_when apply to every result that is not skipped, a task that throws included (it
//   failed, as a module returning failed: true); ansible_play_hosts/_batch leave out failed and unreachable
//   hosts. Each play reaches a host with its own connection vars (inventory < play vars < -e).
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, resolve } from 'node:path'
import { type Host, type Inventory } from './inventory.ts'
import { lockHost } from './host-lock.ts'
import { selectHosts } from './limit.ts'
import type { Play, PlayTask, Playbook } from './playbook.ts'
import {
  emptyStats,
  exitCodeOf,
  tally,
  type BatchRecord,
  type RolloutEvent,
  type RunReport,
  type Status,
  type TaskRecord,
} from './report.ts'
import {
  BecomeError,
  ExecTimeout,
  HostKeyError,
  Transport,
  Unreachable,
  type Session,
  type TransportOptions,
} from './ssh.ts'
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
import { evaluateCondition, renderValue, TemplateError } from './template.ts'
import { type Connection, connectionVars, resolveConnection } from './connection.ts'
import { InputError, plain, type Vars } from './util.ts'

export interface RolloutOptions {
  inventory: Inventory
  playbook: Playbook
  registry: Registry
  limit?: string | string[]
  /** Hosts worked on at once within a batch; default: the whole batch. */
  forks?: number
  check?: boolean
  diff?: boolean
  extraVars?: Vars
  tags?: string[]
  skipTags?: string[]
  verbosity?: number
  transport?: TransportOptions
  emit?: (event: RolloutEvent) => void
  warn?: (message: string) => void
  /** planPlays' result when the caller has it already (so that its warnings are not printed twice). */
  plan?: Plan
  /** Seconds to wait for another controller's lock on a host (src/host-lock.ts); default 0: fail at once. */
  lockWait?: number
  /** false: take no host lock (independent playbooks run at once on the same hosts, as the differential suite). */
  hostLock?: boolean
}

export type Plan = ReturnType<typeof planPlays>

/** Ansible's batches for `serial`. */
export function computeBatches<T>(hosts: T[], serial: (number | string)[] = []): T[][] {
  const left = [...hosts]
  const sizes = serial.length ? serial : [0]
  const batches: T[][] = []
  for (let i = 0; left.length > 0; i = Math.min(i + 1, sizes.length - 1)) {
    const size = percentToInt(sizes[i]!, hosts.length)
    if (size <= 0) {
      batches.push(left.splice(0))
      break
    }
    batches.push(left.splice(0, size))
  }
  return batches
}

// ansible.utils.helpers.pct_to_int
function percentToInt(value: number | string, total: number): number {
  if (typeof value === 'string' && value.trim().endsWith('%'))
    return Math.trunc((parseInt(value, 10) / 100) * total) || 1
  return Math.trunc(Number(value))
}

/**
 * Whether `failed` hosts of a batch of `size` are over max_fail_percentage: Ansible's linear strategy computes
 * failed / batch_size > pct / 100.0 in floating point, and so does this (not failed * 100 / size > pct, whose
 * rounding differs: 7 of 100 at 7 % continues in Ansible).
 */
export function overMaxFail(failed: number, size: number, percent: number): boolean {
  return failed / size > percent / 100
}

/** Ansible's Taggable.evaluate_tags. `only` defaults to ["all"]. */
export function shouldRun(taskTags: string[], only: string[] = ['all'], skip: string[] = []): boolean {
  const tags = new Set(taskTags.length ? taskTags : ['untagged'])
  const untagged = tags.size === 1 && tags.has('untagged')
  const has = (list: string[]) => list.some((t) => tags.has(t))
  let run = true
  if (only.length) {
    if (tags.has('always')) run = true
    else if (only.includes('all') && !tags.has('never')) run = true
    else if (has(only)) run = true
    else if (only.includes('tagged') && !untagged && !tags.has('never')) run = true
    else run = false
  }
  if (run && skip.length) {
    if (skip.includes('all')) {
      if (!tags.has('always') || skip.includes('always')) run = false
    } else if (has(skip)) run = false
    else if (skip.includes('tagged') && !untagged) run = false
  }
  return run
}

/**
 * The hosts of each play (--limit applied) and how each is reached in that play (its inventory vars, then the
 * play's vars, then -e: connection vars are vars like any other, as in Ansible). InputError when --limit
 * leaves no host or a connection var is bad. Nothing connects.
 */
export function planPlays(
  inventory: Inventory,
  playbook: Playbook,
  limit?: string | string[],
  warn?: (m: string) => void,
  extraVars: Vars = {},
) {
  // As ansible-playbook: --limit is checked once against every host (leaving none is an error, and each
  // pattern of it that matches nothing is warned about once); a play whose hosts it excludes is skipped.
  const allowed =
    limit === undefined ? undefined : new Set(selectHosts(inventory, 'all', { limit, ...(warn ? { warn } : {}) }))
  return playbook.plays.map((play) => {
    const hosts = selectHosts(inventory, play.hosts, warn ? { warn } : {}).filter((h) => !allowed || allowed.has(h))
    const overrides = connectionVars.some((v) => v in play.vars || v in extraVars)
    const connections = new Map<string, Connection>()
    for (const h of hosts) {
      const fail = (name: string, reason: string): never => {
        if (name in extraVars) throw new InputError(`${name}: ${reason}`, '-e')
        if (name in play.vars) throw new InputError(`play vars: ${name}: ${reason}`, playbook.file, play.line)
        const at = inventory.locate?.(h.name, name)
        throw new InputError(`${h.name}: ${name}: ${reason}`, at?.file ?? inventory.file, at?.line, at?.column)
      }
      const connection = overrides
        ? resolveConnection(h.name, { ...h.vars, ...play.vars, ...extraVars }, fail)
        : h.connection
      if (!['ssh', 'smart'].includes(connection.connection))
        fail('ansible_connection', `"${connection.connection}" is not supported by this engine (only ssh)`)
      connections.set(h.name, connection)
    }
    return { play, hosts, connections, batches: computeBatches(hosts, play.serial) }
  })
}

interface HostState {
  host: Host
  facts: Vars
  registered: Vars
  notified: Set<string>
  down?: 'failed' | 'unreachable'
  session?: Promise<Session>
  /** Facts gathered for the tasks ahead on this connection. */
  ahead: ReadAhead
}

export async function rollout(options: RolloutOptions): Promise<RunReport> {
  const started = Date.now()
  const emit = options.emit ?? (() => {})
  const check = options.check ?? false
  const transport = new Transport(options.transport)
  const plan =
    options.plan ?? planPlays(options.inventory, options.playbook, options.limit, options.warn, options.extraVars)
  const report: RunReport = {
    playbook: options.playbook.file,
    inventory: options.inventory.file,
    check,
    diff: options.diff ?? false,
    started: new Date(started).toISOString(),
    wallMs: 0,
    plays: plan.map(({ play, hosts, batches }) => ({
      play: play.index,
      name: play.name,
      hosts: hosts.map((h) => h.name),
      batches: batches.map((b) => b.map((h) => h.name)),
    })),
    batches: [],
    results: [],
    stats: {},
    notRun: [],
    exitCode: 0,
  }
  const states = new Map<string, HostState>()
  const state = (host: Host): HostState => {
    let s = states.get(host.name)
    if (!s)
      states.set(host.name, (s = { host, facts: {}, registered: {}, notified: new Set(), ahead: new ReadAhead() }))
    return s
  }
  const ran = new Set<string>()
  const run: Run = { options, check, transport, emit, report, states, state, ran }

  try {
    plays: for (const planned of plan) {
      const { play, hosts, batches: allBatches } = planned
      // Hosts that failed in an earlier play are out of the run.
      const batches = allBatches.map((b) => b.filter((h) => !states.get(h.name)?.down)).filter((b) => b.length)
      emit({ type: 'play', play, hosts: hosts.map((h) => h.name), batches: batches.map((b) => b.map((h) => h.name)) })
      if (!hosts.length)
        options.warn?.(
          `play "${play.name}": no hosts matched "${play.hosts.join(',')}"${options.limit !== undefined ? ' and --limit' : ''}; skipping it`,
        )
      const tasks: { task: PlayTask; handler: boolean }[] = [
        ...(play.gatherFacts ? [{ task: factsTask(play), handler: false }] : []),
        ...play.tasks
          .filter((t) => shouldRun([...play.tags, ...t.tags], options.tags, options.skipTags))
          .map((task) => ({ task, handler: false })),
      ]
      for (const [b, batch] of batches.entries()) {
        const stop = await runBatch(run, planned, tasks, batch, b, batches.length)
        if (stop) break plays
      }
    }
  } finally {
    await transport.closeAll()
  }
  for (const p of plan)
    for (const h of p.hosts) if (!ran.has(h.name) && !report.notRun.includes(h.name)) report.notRun.push(h.name)
  report.exitCode = exitCodeOf(report.stats)
  report.wallMs = Date.now() - started
  emit({ type: 'end', report })
  return report
}

/** What every batch of a rollout shares. */
interface Run {
  options: RolloutOptions
  check: boolean
  transport: Transport
  emit: (event: RolloutEvent) => void
  report: RunReport
  states: Map<string, HostState>
  state: (host: Host) => HostState
  ran: Set<string>
}

/** One batch of a play: its tasks, then the notified handlers. Returns why the rollout stops, if it does. */
async function runBatch(
  run: Run,
  { play, hosts, connections }: Plan[number],
  tasks: { task: PlayTask; handler: boolean }[],
  batch: Host[],
  b: number,
  of: number,
): Promise<string | undefined> {
  const { options, check, transport, emit, report, states, state, ran } = run
  const record: BatchRecord = {
    play: play.index,
    batch: b + 1,
    hosts: batch.map((h) => h.name),
    failed: [],
    unreachable: [],
    stopped: [],
  }
  report.batches.push(record)
  emit({ type: 'batch', play: play.index, batch: b + 1, of, hosts: record.hosts })
  const members = batch.map(state)
  for (const m of members) (ran.add(m.host.name), (report.stats[m.host.name] ??= emptyStats()), m.notified.clear())
  let stop: string | undefined
  const steps = [...tasks, ...play.handlers.map((task) => ({ task, handler: true }))]
  for (const [i, { task, handler }] of steps.entries()) {
    const live = members.filter((m) => !m.down && (!handler || task.listen.some((n) => m.notified.has(n))))
    if (!live.length) continue
    emit({ type: 'task', play: play.index, batch: b + 1, task, handler, hosts: live.map((m) => m.host.name) })
    const records = await runTask(task, handler, live, {
      ...options,
      check,
      play,
      batch: b + 1,
      hosts,
      batchHosts: record.hosts,
      connections,
      transport,
      emit,
      states,
      factsOf: (name) => states.get(name)?.facts,
      ahead: handler ? [] : steps.slice(i + 1).flatMap((s) => (s.handler ? [] : [s.task])),
    })
    for (const r of records) {
      report.results.push(r)
      tally(report.stats, r)
    }
    for (const m of members) {
      if (m.down === 'failed' && !record.failed.includes(m.host.name)) record.failed.push(m.host.name)
      if (m.down === 'unreachable' && !record.unreachable.includes(m.host.name)) record.unreachable.push(m.host.name)
    }
    const down = record.failed.length + record.unreachable.length
    if (play.maxFailPercentage !== undefined && overMaxFail(down, batch.length, play.maxFailPercentage)) {
      stop = `play ${play.index} batch ${b + 1}: ${down} of ${batch.length} hosts failed or unreachable (${round((down / batch.length) * 100)}%), over max_fail_percentage ${play.maxFailPercentage}%`
      break
    }
  }
  const live = members.filter((m) => !m.down)
  if (!stop && !live.length)
    stop = `play ${play.index} batch ${b + 1}: every host of the batch failed or was unreachable`
  await Promise.all(batch.map((h) => transport.close(h.name)))
  for (const m of members) (delete m.session, m.ahead.clear()) // the next batch or play connects again
  if (stop) {
    record.stopped = live.map((m) => m.host.name)
    report.stopReason = stop
    emit({ type: 'stop', reason: stop })
  }
  return stop
}

function round(n: number): string {
  return String(Math.round(n * 10) / 10)
}

function factsTask(play: Play): PlayTask {
  return {
    name: 'Gathering Facts',
    action: 'facts',
    args: {},
    when: [],
    notify: [],
    listen: [],
    tags: ['always'],
    ignoreErrors: false,
    vars: {},
    checkMode: false,
    file: '',
    line: play.line,
  }
}

interface RunContext extends Omit<RolloutOptions, 'transport'> {
  check: boolean
  play: Play
  batch: number
  hosts: Host[]
  batchHosts: string[]
  connections: Map<string, Connection>
  states: Map<string, HostState>
  transport: Transport
  emit: (event: RolloutEvent) => void
  factsOf: (host: string) => Vars | undefined
  /** The tasks after this one in the batch (not handlers): their reads are gathered with this one's. */
  ahead: PlayTask[]
}

/** One task on the live hosts of a batch; marks hosts down; returns one record per host. */
async function runTask(task: PlayTask, handler: boolean, live: HostState[], rc: RunContext): Promise<TaskRecord[]> {
  const definition = rc.registry.get(task.action)!
  const check = task.checkMode ?? rc.check
  const ctx: BatchContext = {
    check,
    diff: rc.diff ?? false,
    verbosity: rc.verbosity ?? 0,
    baseDir: dirname(resolve(rc.playbook.file)),
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
    const full: TaskRecord = { ...base, host: m.host.name, ...record }
    if (full.status === 'unreachable') m.down = 'unreachable'
    else if (full.status === 'failed' && !full.ignored) m.down = 'failed'
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
          ready.map((r) => ({ host: r.target, args: r.args })),
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

/** A host about to run a task: its vars, rendered and re-checked args, and its Target once connected. */
interface Ready {
  m: HostState
  vars: Vars
  args: Record<string, unknown>
  target: Target
  started: number
}

type Finish = (
  m: HostState,
  record: Omit<TaskRecord, 'play' | 'batch' | 'task' | 'action' | 'handler' | 'check' | 'host'>,
) => void

/** Per host: vars, `when`, rendered and re-checked args, the connection. Hosts that end here are finished. */
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
    try {
      if (!task.when.every((c) => evaluateCondition(c, vars))) {
        // As Ansible: a task skipped by `when` still registers, and replaces what the name held.
        if (task.register)
          m.registered[task.register] = { changed: false, skipped: true, skip_reason: 'Conditional result was False' }
        return finish(m, { status: 'skipped', ms: 0 })
      }
      const args = plain(renderValue(task.args, vars)) as Record<string, unknown>
      const problem = rc.registry.check(task.action, args)
      if (problem)
        return finish(m, {
          status: 'failed',
          msg: `${task.file}:${task.line}: ${[task.action, ...problem.path].join('.')}: ${problem.message}`,
          ms: 0,
        })
      const session = await (m.session ??= rc.transport
        .session(m.host.name, rc.connections.get(m.host.name) ?? m.host.connection)
        .then((s) => (rc.hostLock === false ? s : lockHost(s, rc.lockWait ?? 0))))
      if (rc.registry.get(task.action)!.reads && !m.ahead.size) await readAhead(m, task, args, rc, session)
      ready.push({ m, vars, args, target: makeTarget(m.host.name, vars, m.facts, session, m.ahead), started })
    } catch (e) {
      finish(m, failure(e, task, started))
    }
  })

  return ready
}

/**
 * Gathers in one remote command what this task and the ones after it will read first (Task.reads), up to the
 * first task that does not say or whose args do not render yet. A guess that turns out wrong (a `when` that
 * skips, a var a task registers) costs only the reading: a fact is served only for the same arguments, and
 * only if nothing ran on the host since (ReadAhead).
 */
async function readAhead(
  m: HostState,
  task: PlayTask,
  args: Record<string, unknown>,
  rc: RunContext,
  session: Session,
) {
  const baseDir = dirname(resolve(rc.playbook.file))
  const calls: ReturnType<NonNullable<Task['reads']>> = []
  for (const [t, i] of [task, ...rc.ahead].map((t, i) => [t, i] as const)) {
    const reads = rc.registry.get(t.action)?.reads
    if (!reads) break
    try {
      let tArgs = args
      if (i > 0) {
        tArgs = plain(renderValue(t.args, hostVars(m, rc, t, t.checkMode ?? rc.check))) as Record<string, unknown>
        if (rc.registry.check(t.action, tArgs)) break
      }
      calls.push(...reads(tArgs, { baseDir }))
    } catch {
      break
    }
  }
  if (calls.length) await m.ahead.fill(session, calls)
}

/** The task on one host: run (or the batch phase's result), settle its changes, then register and conditions. */
async function runOnHost(
  task: PlayTask,
  definition: Task,
  { m, vars, args, target, started }: Ready,
  rc: RunContext,
  { check, ctx, preset, finish }: { check: boolean; ctx: TaskContext; preset: Map<string, TaskResult>; finish: Finish },
): Promise<void> {
  rc.emit({ type: 'host-start', host: m.host.name, task: task.name })
  try {
    let result: TaskResult
    try {
      const presetResult = preset.get(m.host.name)
      result = presetResult
        ? await settle(presetResult, check)
        : await withTimeout(
            definition.run(target, args, ctx).then((result) => settle(result, check)),
            task.timeoutMs,
            `task timed out after ${(task.timeoutMs ?? 0) / 1000} s`,
          )
    } catch (e) {
      // A task that throws failed, as a module that returns failed: true; failed_when still decides
      // (Ansible evaluates it on every result that is not skipped). A host that is gone is not a result.
      if (e instanceof Unreachable || e instanceof HostKeyError) throw e
      result = { changed: false, failed: true, msg: failure(e, task, started).msg ?? String(e) }
    }
    if (result.facts) Object.assign(m.facts, result.facts)
    result = await applyConditions(task, result, vars, m)
    const status: Status = result.failed ? 'failed' : result.skipped ? 'skipped' : result.changed ? 'changed' : 'ok'
    if (status === 'changed') for (const n of task.notify) m.notified.add(n)
    const diff = ctx.diff && result.diff?.length ? await unifiedDiff(result.diff) : undefined
    finish(m, {
      status,
      ...(status === 'failed' && task.ignoreErrors ? { ignored: true } : {}),
      ...(status === 'failed' && result.changed ? { changed: true } : {}),
      ...(result.msg ? { msg: result.msg } : {}),
      ...(diff ? { diff } : {}),
      ...(result.data ? { data: result.data } : {}),
      ms: Date.now() - started,
    })
  } catch (e) {
    const record = failure(e, task, started)
    if (task.register) m.registered[task.register] = { changed: false, failed: true, msg: record.msg }
    finish(m, record)
  }
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
  const msg = known ? (e as Error).message : e instanceof Error ? `${e.name}: ${e.message}` : String(e)
  return { status: 'failed', msg, ms, ...(task.ignoreErrors ? { ignored: true } : {}) }
}

/** register, then changed_when / failed_when (which may use the registered result), as in Ansible. */
async function applyConditions(task: PlayTask, result: TaskResult, vars: Vars, m: HostState): Promise<TaskResult> {
  // As Ansible registers it: changed and failed always, skipped only when true.
  const registered = () => ({
    changed: result.changed,
    failed: !!result.failed,
    ...(result.skipped ? { skipped: true } : {}),
    ...(result.msg ? { msg: result.msg } : {}),
    ...result.data,
  })
  if (task.register) m.registered[task.register] = registered()
  // Ansible evaluates changed_when/failed_when only on results that were not skipped (--check on a command).
  if (result.skipped) return result
  const scope = task.register ? { ...vars, [task.register]: m.registered[task.register] } : vars
  if (task.changedWhen) result = { ...result, changed: task.changedWhen.every((c) => evaluateCondition(c, scope)) }
  if (task.failedWhen) {
    const failed = task.failedWhen.every((c) => evaluateCondition(c, scope))
    result = {
      ...result,
      failed,
      ...(failed && !result.msg ? { msg: `failed_when: ${task.failedWhen.join(' and ')}` } : {}),
    }
  }
  if (task.register) m.registered[task.register] = registered()
  return result
}

/** Var precedence for the sources we have, as Ansible: inventory < facts < play < task < registered < extra. */
function hostVars(m: HostState, rc: RunContext, task: PlayTask, check: boolean): Vars {
  const inventory = rc.inventory
  const facts = Object.fromEntries(Object.entries(m.facts).map(([k, v]) => [`ansible_${k}`, v]))
  return {
    ...m.host.vars,
    ...facts,
    ansible_facts: m.facts,
    ...rc.play.vars,
    ...task.vars,
    ...m.registered,
    ...rc.extraVars,
    // Magic variables.
    inventory_hostname: m.host.name,
    inventory_hostname_short: m.host.name.split('.')[0],
    group_names: m.host.groups.filter((g) => g !== 'all' && g !== 'ungrouped').sort(),
    groups: groupsVar(inventory),
    ansible_check_mode: check,
    ansible_diff_mode: rc.diff ?? false,
    // As Ansible: hosts that failed or were unreachable are out of ansible_play_hosts and ansible_play_batch.
    ansible_play_hosts_all: rc.hosts.map((h) => h.name),
    ansible_play_hosts: rc.hosts.map((h) => h.name).filter((h) => !rc.states.get(h)?.down),
    ansible_play_batch: rc.batchHosts.filter((h) => !rc.states.get(h)?.down),
    playbook_dir: dirname(resolve(rc.playbook.file)),
    inventory_file: inventory.file,
    inventory_dir: dirname(resolve(inventory.file)),
  }
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
  const { $ } = await import('zx')
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
