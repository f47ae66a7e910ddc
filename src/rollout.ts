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
// - Blocks as PlayIterator and the linear strategy's lockstep: the block tree is walked in order, each task on
//   every host at it; a host failing in a block goes to its rescue section (the failure counted as rescued, not
//   failed, and ansible_failed_task/_result set), every host that entered the block runs its always section,
//   and a failure no block catches takes the host out. any_errors_fatal (and a failing run_once) stops every
//   host and the rollout after that task; ansible-playbook breaks the playbook there too.
// - Loops and until as TaskExecutor (src/loop.ts): per item `when`, args, run, register; one result counted.
// - run_once: the first host at the task runs it, its register is every batch host's. delegate_to: the task
//   runs over the named host's connection with this host's vars. become/become_user keywords apply unless the
//   host's ansible_become/ansible_become_user vars are set (PlayContext: variables win over keywords), on the
//   same connection (Session.withBecome). no_log: the records keep the status only.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, resolve } from 'node:path'
import { type Host, type Inventory } from './inventory.ts'
import { lockHost } from './host-lock.ts'
import { selectHosts } from './limit.ts'
import { flatTasks, isBlock, type Block, type Play, type PlayTask, type Playbook, type Step } from './playbook.ts'
import { attemptsOf, itemFields, itemLabel, itemVars, loopItems, loopResult, noItems } from './loop.ts'
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
import { evaluateCondition, isTemplated, render, renderValue, TemplateError } from './template.ts'
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
    const { delegates: named, any } = delegateHosts(inventory, play)
    const overrides = connectionVars.some((v) => v in play.vars || v in extraVars)
    const connections = new Map<string, Connection>()
    // A templated delegate_to may name any host of the inventory: those this engine can reach are planned too.
    const delegates = [...named, ...(any ? [...inventory.hosts.values()] : [])].filter(
      (h, i, all) => !hosts.includes(h) && all.indexOf(h) === i,
    )
    for (const h of [...hosts, ...delegates]) {
      const optional = !hosts.includes(h) && !named.includes(h)
      const fail = (name: string, reason: string): never => {
        if (optional) throw new Unplanned()
        if (name in extraVars) throw new InputError(`${name}: ${reason}`, '-e')
        if (name in play.vars) throw new InputError(`play vars: ${name}: ${reason}`, playbook.file, play.line)
        const at = inventory.locate?.(h.name, name)
        throw new InputError(`${h.name}: ${name}: ${reason}`, at?.file ?? inventory.file, at?.line, at?.column)
      }
      try {
        const connection = overrides
          ? resolveConnection(h.name, { ...h.vars, ...play.vars, ...extraVars }, fail)
          : h.connection
        if (!['ssh', 'smart'].includes(connection.connection))
          fail('ansible_connection', `"${connection.connection}" is not supported by this engine (only ssh)`)
        connections.set(h.name, connection)
      } catch (e) {
        if (!(e instanceof Unplanned)) throw e
      }
    }
    return {
      play,
      hosts,
      delegates: delegates.filter((h) => connections.has(h.name)),
      connections,
      batches: computeBatches(hosts, play.serial),
    }
  })
}

/** A delegate host a templated delegate_to might name, which this engine cannot reach: left out of the plan. */
class Unplanned extends Error {}

/**
 * The hosts the play's tasks name in delegate_to: each literal one must be a host of the inventory (an
 * InputError at the task's line otherwise); `any` when one is templated (it may name any host, known per host).
 */
function delegateHosts(inventory: Inventory, play: Play): { delegates: Host[]; any: boolean } {
  const names = new Set<string>()
  let any = false
  for (const task of [...flatTasks(play.tasks), ...play.handlers]) {
    if (task.delegateTo === undefined) continue
    if (isTemplated(task.delegateTo)) {
      any = true
      continue
    }
    if (!inventory.hosts.has(task.delegateTo))
      throw new InputError(
        `delegate_to: "${task.delegateTo}" is not a host of the inventory (this engine delegates only to those)`,
        task.file,
        task.line,
      )
    names.add(task.delegateTo)
  }
  return { delegates: [...names].map((n) => inventory.hosts.get(n)!), any }
}

interface HostState {
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
    if (!s) states.set(host.name, (s = { host, facts: {}, registered: {}, notified: new Set() }))
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
      const tasks: Step[] = [
        ...(play.gatherFacts ? [factsTask(play)] : []),
        ...selectSteps(play.tasks, (t) => shouldRun([...play.tags, ...t.tags], options.tags, options.skipTags)),
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
  planned: Plan[number],
  tasks: Step[],
  batch: Host[],
  b: number,
  of: number,
): Promise<string | undefined> {
  const { options, check, transport, emit, report, states, state, ran } = run
  const { play, hosts, connections } = planned
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
  const rc: RunContext = {
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
    state,
    members,
    factsOf: (name) => states.get(name)?.facts,
  }
  const walk: Walk = { rc, report, record, members }
  let stop = await runSteps(walk, tasks, members, { rescuable: false, catchable: false }, false)
  if (!stop) stop = await runSteps(walk, play.handlers, members, { rescuable: false, catchable: false }, true)
  const live = members.filter((m) => !m.down)
  if (!stop && !live.length)
    stop = `play ${play.index} batch ${b + 1}: every host of the batch failed or was unreachable`
  await Promise.all(batch.map((h) => transport.close(h.name)))
  for (const m of members) delete m.session // the next batch or play connects again
  if (stop) {
    record.stopped = live.map((m) => m.host.name)
    report.stopReason = stop
    emit({ type: 'stop', reason: stop })
  }
  return stop
}

/** What the steps of one batch share. */
interface Walk {
  rc: RunContext
  report: RunReport
  record: BatchRecord
  members: HostState[]
}

/**
 * Where a step is in the block tree, as PlayIterator tracks it per host: `rescuable` when some enclosing block
 * will rescue a failure here (is_any_block_rescuing: the failure counts as rescued, not failed), `catchable`
 * when some enclosing block still has a rescue or always section to run for a host failing here (the host
 * stays in the play until then).
 */
interface Scope {
  rescuable: boolean
  catchable: boolean
}

/**
 * Steps in order on the hosts that are here, as the linear strategy's lockstep walks the block tree: each task
 * runs on every host at it before the next one starts; a host that fails leaves its block's tasks for the
 * rescue section, then the always section. Returns why the rollout stops, if it does.
 */
async function runSteps(
  walk: Walk,
  steps: Step[],
  hosts: HostState[],
  scope: Scope,
  handler: boolean,
): Promise<string | undefined> {
  for (const step of steps) {
    const here = hosts.filter((m) => !m.down && !m.failing)
    if (!here.length) return undefined
    const stop = isBlock(step)
      ? await runBlock(walk, step, here, scope)
      : await runStep(walk, step, here, scope, handler)
    if (stop) return stop
  }
  return undefined
}

async function runBlock(walk: Walk, block: Block, hosts: HostState[], scope: Scope): Promise<string | undefined> {
  const rescue = block.rescue.length > 0
  const always = block.always.length > 0
  let stop = await runSteps(
    walk,
    block.block,
    hosts,
    { rescuable: scope.rescuable || rescue, catchable: scope.catchable || rescue || always },
    false,
  )
  if (stop) return stop
  if (rescue) {
    const rescuing = hosts.filter((m) => m.failing && !m.down)
    for (const m of rescuing) m.failing = false
    stop = await runSteps(walk, block.rescue, rescuing, { ...scope, catchable: scope.catchable || always }, false)
    if (stop) return stop
  }
  if (always) {
    // Every host that entered the block runs it, failing or not; a failure stays a failure after it.
    const failing = hosts.filter((m) => m.failing && !m.down)
    for (const m of failing) m.failing = false
    stop = await runSteps(walk, block.always, hosts, scope, false)
    for (const m of failing) if (!m.down) m.failing = true
    if (stop) return stop
  }
  // A failure no enclosing block catches takes the host out of the play.
  if (!scope.catchable) for (const m of hosts) if (m.failing) ((m.failing = false), (m.down = 'failed'))
  return undefined
}

/** One task on the hosts at it (run_once: the first of them), then max_fail_percentage and any_errors_fatal. */
async function runStep(
  walk: Walk,
  task: PlayTask,
  here: HostState[],
  scope: Scope,
  handler: boolean,
): Promise<string | undefined> {
  const { rc, report, record, members } = walk
  const notified = handler ? here.filter((m) => task.listen.some((n) => m.notified.has(n))) : here
  if (!notified.length) return undefined
  // run_once: the first host runs it; what it registers is every host's (StrategyBase.get_task_hosts), and its
  // failure fails every host of the batch, counted once.
  const live = task.runOnce ? notified.slice(0, 1) : notified
  rc.emit({ type: 'task', play: rc.play.index, batch: rc.batch, task, handler, hosts: live.map((m) => m.host.name) })
  const records = await runTask(task, handler, live, { ...rc, scope })
  for (const r of records) {
    report.results.push(r)
    tally(report.stats, r)
  }
  if (task.runOnce) {
    const [first] = live
    for (const m of members.filter((m) => m !== first && m.down !== 'unreachable')) {
      if (task.register && first!.registered[task.register] !== undefined)
        m.registered[task.register] = structuredClone(first!.registered[task.register])
      if ((first!.down === 'failed' || first!.failing) && !m.down) failHost(m, scope)
    }
  }
  for (const m of members) {
    if (m.down === 'failed' && !record.failed.includes(m.host.name)) record.failed.push(m.host.name)
    if (m.down === 'unreachable' && !record.unreachable.includes(m.host.name)) record.unreachable.push(m.host.name)
  }
  // any_errors_fatal (and run_once): a failure that no block catches stops every host and the rollout.
  const fatal = records.find((r) => r.status !== 'ok' && r.status !== 'changed' && r.status !== 'skipped' && !r.ignored)
  if ((task.anyErrorsFatal || task.runOnce) && !task.ignoreErrors && fatal && rc.states.get(fatal.host)?.down)
    return `play ${rc.play.index} batch ${rc.batch}: task "${task.name}" failed on ${fatal.host} (${task.runOnce ? 'run_once' : 'any_errors_fatal'})`
  const down = record.failed.length + record.unreachable.length
  const size = members.length
  if (rc.play.maxFailPercentage !== undefined && overMaxFail(down, size, rc.play.maxFailPercentage))
    return `play ${rc.play.index} batch ${rc.batch}: ${down} of ${size} hosts failed or unreachable (${round((down / size) * 100)}%), over max_fail_percentage ${rc.play.maxFailPercentage}%`
  return undefined
}

/** A host failed at a task: it leaves for its block's rescue or always, or, when none catches it, the play. */
function failHost(m: HostState, scope: Scope): void {
  if (scope.catchable) m.failing = true
  else m.down = 'failed'
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
    retries: 3,
    delay: 5,
    runOnce: false,
    anyErrorsFatal: play.anyErrorsFatal,
    ...(play.become !== undefined ? { become: play.become } : {}),
    ...(play.becomeUser !== undefined ? { becomeUser: play.becomeUser } : {}),
    noLog: false,
    file: '',
    line: play.line,
  }
}

/** The steps the tags select (a block left without tasks goes, as Ansible's filter_tagged_tasks). */
function selectSteps(steps: Step[], keep: (task: PlayTask) => boolean): Step[] {
  return steps.flatMap((s): Step[] => {
    if (!isBlock(s)) return keep(s) ? [s] : []
    const block = {
      ...s,
      block: selectSteps(s.block, keep),
      rescue: selectSteps(s.rescue, keep),
      always: selectSteps(s.always, keep),
    }
    return block.block.length + block.rescue.length + block.always.length ? [block] : []
  })
}

interface RunContext extends Omit<RolloutOptions, 'transport'> {
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
}

/** One task on the live hosts of a batch; marks hosts down; returns one record per host. */
async function runTask(task: PlayTask, handler: boolean, live: HostState[], rc: RunContext): Promise<TaskRecord[]> {
  const definition = rc.registry.get(task.action)!
  const check = task.checkMode ?? rc.check
  const scope = rc.scope ?? { rescuable: false, catchable: false }
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
    try {
      let items: unknown[] | undefined
      let args: Record<string, unknown> | undefined
      if (task.loop) {
        // As TaskExecutor: `when` is per item; a loop that cannot be made is an error unless `when` is false.
        try {
          items = loopItems(task.loop, vars, dirname(resolve(rc.playbook.file)))
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
      ready.push({
        m,
        vars,
        ...(args ? { args } : {}),
        ...(items ? { items } : {}),
        session,
        target: makeTarget(m.host.name, vars, m.facts, session),
        started,
      })
    } catch (e) {
      finish(m, failure(e, task, started))
    }
  })

  return ready
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
async function executionSession(task: PlayTask, vars: Vars, ready: Ready, rc: RunContext): Promise<Session> {
  let session = ready.session
  let name = ready.m.host.name
  if (task.delegateTo !== undefined) {
    name = String(render(task.delegateTo, vars))
    const host = rc.inventory.hosts.get(name)
    if (!host || !rc.connections.has(name))
      throw new InputError(
        `delegate_to: "${name}" is not ${host ? 'reachable by this engine (see its connection vars)' : 'a host of the inventory'}`,
        task.file,
        task.line,
      )
    if (name !== ready.m.host.name) session = await hostSession(rc, rc.state(host))
  }
  if (task.become === undefined && task.becomeUser === undefined) return session
  const own = { ...rc.inventory.hosts.get(name)!.vars, ...rc.play.vars, ...rc.extraVars }
  return session.withBecome({
    become: 'ansible_become' in own || task.become === undefined ? session.target.become : task.become,
    becomeUser:
      'ansible_become_user' in own || task.becomeUser === undefined
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
  const session = await executionSession(task, vars, ready, rc)
  const target =
    session === ready.session && vars === ready.vars
      ? ready.target
      : makeTarget(ready.m.host.name, vars, ready.m.facts, session)
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
  const msg = known ? (e as Error).message : e instanceof Error ? `${e.name}: ${e.message}` : String(e)
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
    ansible_play_hosts: rc.hosts.map((h) => h.name).filter((h) => inPlay(rc.states.get(h))),
    ansible_play_batch: rc.batchHosts.filter((h) => inPlay(rc.states.get(h))),
    playbook_dir: dirname(resolve(rc.playbook.file)),
    inventory_file: inventory.file,
    inventory_dir: dirname(resolve(inventory.file)),
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
