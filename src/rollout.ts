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
// - Handlers run at the end of each batch (where Ansible flushes them: each batch is a run of the play), and
//   where the play flushes them (after pre_tasks, before post_tasks, at `meta: flush_handlers`), in the order
//   they are defined, once per host that notified them with a change, on hosts still live.
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
// - Each task on the hosts at it: src/execute.ts (vars, when, loops and until, become, delegate_to, register).
// - run_once: the first host at the task runs it, its register is every batch host's. delegate_to: the task
//   runs over the named host's connection with this host's vars. become/become_user keywords apply unless the
//   host's ansible_become/ansible_become_user vars are set (PlayContext: variables win over keywords), on the
//   same connection (Session.withBecome). no_log: the records keep the status only.
import { type Host, type Inventory } from './inventory.ts'
import { selectHosts } from './limit.ts'
import {
  flatTasks,
  isBlock,
  isFlush,
  isInclude,
  type Block,
  type Include,
  type Play,
  type PlayTask,
  type Playbook,
  type Step,
} from './playbook.ts'
import { failHost, runInclude, runTask, type HostState, type RunContext, type Scope } from './execute.ts'
import { emptyStats, exitCodeOf, tally, type BatchRecord, type RolloutEvent, type RunReport } from './report.ts'
import { Transport, type TransportOptions } from './ssh.ts'
import { ReadAhead, type Registry } from './task.ts'
import { isTemplated } from './template.ts'
import { type Connection, connectionVars, resolveConnection } from './connection.ts'
import { InputError, type Vars } from './util.ts'

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
  for (const m of members) (delete m.session, m.ahead.clear()) // the next batch or play connects again
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
  for (const [i, step] of steps.entries()) {
    const here = hosts.filter((m) => !m.down && !m.failing)
    if (!here.length) return undefined
    const stop = isBlock(step)
      ? await runBlock(walk, step, here, scope)
      : isInclude(step)
        ? await runIncluded(walk, step, here, scope)
        : isFlush(step)
          ? await flushHandlers(walk, here, scope)
          : await runStep(walk, step, here, scope, handler, handler ? [] : plainAfter(steps, i))
    if (stop) return stop
  }
  return undefined
}

/**
 * The plain tasks after steps[i], up to the next block, include or handler flush (each runs other tasks in
 * between): the tasks whose reads may be gathered ahead.
 */
function plainAfter(steps: Step[], i: number): PlayTask[] {
  const after: PlayTask[] = []
  for (const step of steps.slice(i + 1)) {
    if (isBlock(step) || isInclude(step) || isFlush(step)) break
    after.push(step)
  }
  return after
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

/**
 * A dynamic include: its task on the hosts at it (an "included" result counts as ok, as in Ansible), then what
 * it includes on the hosts that included it, once per inclusion (each item of its loop, with the item as an
 * include param), in the order the inclusions first appear. (Ansible runs each host's own list of included
 * files in lockstep; with the same items on every host, the same.)
 */
async function runIncluded(walk: Walk, inc: Include, here: HostState[], scope: Scope): Promise<string | undefined> {
  const { rc, report, record, members } = walk
  rc.emit({
    type: 'task',
    play: rc.play.index,
    batch: rc.batch,
    task: inc.include,
    handler: false,
    hosts: here.map((m) => m.host.name),
  })
  const { records, included } = await runInclude(inc.include, here, { ...rc, scope })
  for (const r of records) {
    report.results.push(r)
    tally(report.stats, r)
  }
  for (const m of members)
    if (m.down === 'failed' && !record.failed.includes(m.host.name)) record.failed.push(m.host.name)
  const groups: { key: string; vars: Vars; hosts: HostState[] }[] = []
  for (const m of here)
    for (const vars of included.get(m) ?? []) {
      const key = JSON.stringify(vars)
      let group = groups.find((g) => g.key === key)
      if (!group) groups.push((group = { key, vars, hosts: [] }))
      group.hosts.push(m)
    }
  for (const g of groups) {
    const stop = await runSteps(
      walk,
      Object.keys(g.vars).length ? withParams(inc.body, g.vars) : inc.body,
      g.hosts,
      scope,
      false,
    )
    if (stop) return stop
  }
  return undefined
}

/** The handlers the hosts here notified, now (and their notifications spent). */
async function flushHandlers(walk: Walk, here: HostState[], scope: Scope): Promise<string | undefined> {
  const stop = await runSteps(walk, walk.rc.play.handlers, here, scope, true)
  for (const m of here) m.notified.clear()
  return stop
}

/** Steps with more include params (an included item). */
function withParams(steps: Step[], params: Vars): Step[] {
  return steps.map((s): Step => {
    if (isBlock(s))
      return {
        ...s,
        block: withParams(s.block, params),
        rescue: withParams(s.rescue, params),
        always: withParams(s.always, params),
      }
    if (isInclude(s))
      return { ...s, include: withParams([s.include], params)[0] as PlayTask, body: withParams(s.body, params) }
    if (isFlush(s)) return s
    return { ...s, params: { ...s.params, ...params } }
  })
}

/** One task on the hosts at it (run_once: the first of them), then max_fail_percentage and any_errors_fatal. */
async function runStep(
  walk: Walk,
  task: PlayTask,
  here: HostState[],
  scope: Scope,
  handler: boolean,
  ahead: PlayTask[],
): Promise<string | undefined> {
  const { rc, report, record, members } = walk
  const notified = handler ? here.filter((m) => task.listen.some((n) => m.notified.has(n))) : here
  if (!notified.length) return undefined
  // run_once: the first host runs it; what it registers is every host's (StrategyBase.get_task_hosts), and its
  // failure fails every host of the batch, counted once.
  const live = task.runOnce ? notified.slice(0, 1) : notified
  rc.emit({ type: 'task', play: rc.play.index, batch: rc.batch, task, handler, hosts: live.map((m) => m.host.name) })
  const records = await runTask(task, handler, live, { ...rc, scope, ahead })
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
    // A dynamic include runs when its own tags say so; what it includes is selected by their own tags.
    if (isInclude(s)) return keep(s.include) ? [{ ...s, body: selectSteps(s.body, keep) }] : []
    if (isFlush(s)) return [s]
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
