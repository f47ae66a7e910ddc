// What the user sees. Rollout events become, on a TTY, a live block of per-host lines (the current task of
// each host of the batch and the batch's progress) with changes and failures printed above it; without a
// TTY, or under CI, one plain line per host event, like ansible-playbook's. Then a PLAY RECAP with totals and
// the wall time. --json FILE writes the same run as data.
import { chmod, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import type { Play, PlayTask } from './playbook.ts'
import { InputError } from './util.ts'
import { redact } from './vault.ts'

// ---- the run as data: what --json writes, and the recap's counters ---------------------------------------

export type Status = 'ok' | 'changed' | 'failed' | 'skipped' | 'unreachable'

export interface TaskRecord {
  play: number
  batch: number // 1-based within the play
  task: string
  action: string
  handler: boolean
  host: string
  status: Status
  ignored?: boolean // failed, but ignore_errors
  rescued?: boolean // failed inside a block whose rescue section takes the host (counted as rescued, not failed)
  changed?: boolean // a failed result that also changed something (counted as changed when ignored)
  check: boolean
  msg?: string
  diff?: string // unified diff (--diff)
  /** A loop's items: each one's label (loop_control.label, else the item) and status. */
  items?: { label: string; status: Status; msg?: string }[]
  data?: Record<string, unknown>
  ms: number
}

export interface HostStats {
  ok: number
  changed: number
  unreachable: number
  failed: number
  skipped: number
  rescued: number // failures a block's rescue section took over
  ignored: number
}

export interface BatchRecord {
  play: number
  batch: number
  hosts: string[]
  failed: string[]
  unreachable: string[]
  /** Hosts that were still live when the rollout stopped in this batch. */
  stopped: string[]
}

export interface RunReport {
  playbook: string
  inventory: string
  check: boolean
  diff: boolean
  started: string
  wallMs: number
  plays: { play: number; name: string; hosts: string[]; batches: string[][] }[]
  batches: BatchRecord[]
  results: TaskRecord[]
  stats: Record<string, HostStats>
  /** Why the rollout stopped early; absent when every play ran to its end. */
  stopReason?: string
  /** Selected hosts on which nothing ran because the rollout stopped first. */
  notRun: string[]
  exitCode: 0 | 2 | 3
}

export type RolloutEvent =
  | { type: 'play'; play: Play; hosts: string[]; batches: string[][] }
  | { type: 'batch'; play: number; batch: number; of: number; hosts: string[] }
  | { type: 'task'; play: number; batch: number; task: PlayTask; handler: boolean; hosts: string[] }
  | { type: 'host-start'; host: string; task: string }
  | { type: 'retry'; host: string; task: string; attempt: number; of: number }
  | { type: 'result'; record: TaskRecord }
  | { type: 'stop'; reason: string }
  | { type: 'end'; report: RunReport }

/** A host's counters before its first task. */
export function emptyStats(): HostStats {
  return { ok: 0, changed: 0, unreachable: 0, failed: 0, skipped: 0, rescued: 0, ignored: 0 }
}

/** Counts one task result as ansible/executor/stats.py does (its callers in the strategy plugin, rather). */
export function tally(stats: Record<string, HostStats>, r: TaskRecord): void {
  const s = (stats[r.host] ??= emptyStats())
  if (r.status === 'ok' || r.status === 'changed') s.ok++
  if (r.status === 'changed') s.changed++
  if (r.status === 'skipped') s.skipped++
  if (r.status === 'unreachable') s.unreachable++
  // As Ansible: an ignored failure counts as ok and ignored, and as changed when its result changed.
  if (r.status === 'failed' && r.rescued) s.rescued++
  else if (r.status === 'failed' && r.ignored) {
    s.ok++
    s.ignored++
    if (r.changed) s.changed++
  } else if (r.status === 'failed') s.failed++
}

/** ansible-playbook's exit code: 2 when a host failed, 3 when one was unreachable (and none failed), else 0. */
export function exitCodeOf(stats: Record<string, HostStats>): 0 | 2 | 3 {
  const all = Object.values(stats)
  return all.some((s) => s.failed > 0) ? 2 : all.some((s) => s.unreachable > 0) ? 3 : 0
}

export interface ReporterOptions {
  out?: NodeJS.WriteStream | NodeJS.WritableStream
  /** Live per-host lines; default: the stream is a TTY and $CI is not set. */
  live?: boolean
  verbosity?: number
  color?: boolean
}

const colors = { ok: 32, changed: 33, failed: 31, unreachable: 31, skipped: 36 } as const

export class Reporter {
  private out: NodeJS.WritableStream
  private live: boolean
  private color: boolean
  private verbosity: number
  private board = new Map<string, { task: string; status: string }>()
  private drawn = 0
  private batchLabel = ''
  private steps = { done: 0, total: 0 }
  private timer: NodeJS.Timeout | undefined

  constructor(options: ReporterOptions = {}) {
    this.out = options.out ?? process.stdout
    const tty = (this.out as NodeJS.WriteStream).isTTY === true
    this.live = options.live ?? (tty && !process.env.CI)
    this.color = options.color ?? (tty && !process.env.NO_COLOR)
    this.verbosity = options.verbosity ?? 0
  }

  /** The event handler to pass as RolloutOptions.emit. */
  readonly handle = (event: RolloutEvent): void => {
    switch (event.type) {
      case 'play':
        this.print(
          `\nPLAY [${event.play.name}] ${event.hosts.length} hosts in ${event.batches.length} batch${event.batches.length === 1 ? '' : 'es'}`,
        )
        break
      case 'batch':
        this.batchLabel = `batch ${event.batch}/${event.of}`
        this.board = new Map(event.hosts.map((h) => [h, { task: '', status: 'waiting' }]))
        if (!this.live) this.print(`\nBATCH ${event.batch}/${event.of} [${event.hosts.join(', ')}]`)
        break
      case 'task':
        this.steps.total = event.hosts.length
        this.steps.done = 0
        if (!this.live) this.print(`\n${event.handler ? 'RUNNING HANDLER' : 'TASK'} [${event.task.name}]`)
        for (const h of event.hosts) this.board.set(h, { task: event.task.name, status: 'queued' })
        this.redraw()
        break
      case 'host-start':
        this.board.set(event.host, { task: event.task, status: 'running' })
        this.redraw()
        break
      case 'retry':
        this.print(`FAILED - RETRYING: [${event.host}]: ${event.task} (${event.of - event.attempt + 1} retries left).`)
        break
      case 'result':
        this.steps.done++
        this.board.set(event.record.host, { task: event.record.task, status: event.record.status })
        if (!this.live || event.record.status !== 'ok' || this.verbosity > 0) this.print(this.resultLine(event.record))
        this.redraw()
        break
      case 'stop':
        this.print(`\nSTOPPED: ${event.reason}`)
        break
      case 'end':
        clearTimeout(this.timer)
        this.clear()
        this.board.clear()
        this.print(recap(event.report, this.color))
        break
    }
  }

  private resultLine(r: TaskRecord): string {
    const word = r.ignored ? 'failed (ignored)' : r.status === 'failed' ? 'fatal' : r.status
    const prefix = this.live ? `${r.task}: ` : ''
    let line = `${this.paint(r.status, `${word}: [${r.host}]`)} ${prefix}${r.msg ?? ''}`.trimEnd()
    if (r.check && r.status === 'changed') line += ' (check)'
    if (this.verbosity > 1 && r.data) line += `\n  ${JSON.stringify(r.data)}`
    for (const item of r.items ?? [])
      line += `\n  ${this.paint(item.status, `${item.status}: [${r.host}]`)} (item=${item.label})${item.msg && item.status === 'failed' ? ` ${item.msg}` : ''}`
    if (r.diff) line += `\n${r.diff.trimEnd()}`
    return line
  }

  private paint(status: keyof typeof colors | string, text: string): string {
    const code = colors[status as keyof typeof colors]
    return this.color && code ? `\x1b[${code}m${text}\x1b[0m` : text
  }

  /** A line above the live block. */
  private print(text: string): void {
    this.clear()
    this.out.write(`${text}\n`)
    this.draw()
  }

  private redraw(): void {
    if (!this.live || this.timer) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.clear()
      this.draw()
    }, 50)
  }

  private clear(): void {
    if (!this.live || !this.drawn) return
    this.out.write(`\x1b[${this.drawn}F\x1b[0J`)
    this.drawn = 0
  }

  private draw(): void {
    if (!this.live || !this.board.size) return
    const width = Math.max(...[...this.board.keys()].map((h) => h.length))
    const lines = [`${this.batchLabel}: ${this.steps.done}/${this.steps.total} hosts done with the current task`]
    for (const [host, { task, status }] of this.board)
      lines.push(`  ${host.padEnd(width)}  ${this.paint(status, status.padEnd(11))} ${task}`)
    this.out.write(`${lines.join('\n')}\n`)
    this.drawn = lines.length
  }
}

const zero = (): HostStats => ({ ok: 0, changed: 0, unreachable: 0, failed: 0, skipped: 0, rescued: 0, ignored: 0 })

export function totals(report: RunReport): HostStats {
  const sum = zero()
  for (const s of Object.values(report.stats)) for (const k of Object.keys(sum) as (keyof HostStats)[]) sum[k] += s[k]
  return sum
}

/** Ansible's PLAY RECAP, plus totals, wall time and why the run stopped. */
export function recap(report: RunReport, color = false): string {
  const names = Object.keys(report.stats)
  const width = Math.max(5, ...names.map((n) => n.length))
  const row = (name: string, s: HostStats) => {
    const cells = (Object.keys(s) as (keyof HostStats)[]).map((k) => `${k}=${String(s[k]).padEnd(4)}`).join(' ')
    const status = s.failed ? 'failed' : s.unreachable ? 'unreachable' : s.changed ? 'changed' : 'ok'
    const code = colors[status]
    return `${color ? `\x1b[${code}m${name.padEnd(width)}\x1b[0m` : name.padEnd(width)} : ${cells}`.trimEnd()
  }
  const lines = ['', 'PLAY RECAP ' + '*'.repeat(60)]
  for (const name of names) lines.push(row(name, report.stats[name]!))
  lines.push(row('TOTAL', totals(report)))
  const batches = report.batches.length
  lines.push(
    '',
    `${names.length} host${names.length === 1 ? '' : 's'}, ${batches} batch${batches === 1 ? '' : 'es'}, ${(report.wallMs / 1000).toFixed(1)} s${report.check ? ' (check mode: nothing was changed)' : ''}`,
  )
  if (report.stopReason) lines.push(`stopped: ${report.stopReason}`)
  if (report.notRun.length) lines.push(`not run: ${report.notRun.join(', ')}`)
  return lines.join('\n')
}

/** The --json report: the run, and per host its stats and per-task results. */
export function jsonReport(report: RunReport) {
  const hosts: Record<string, { stats: HostStats; tasks: Omit<TaskRecord, 'host'>[] }> = {}
  for (const [name, stats] of Object.entries(report.stats)) hosts[name] = { stats, tasks: [] }
  for (const { host, ...rest } of report.results) (hosts[host] ??= { stats: zero(), tasks: [] }).tasks.push(rest)
  return {
    version: 1,
    playbook: report.playbook,
    inventory: report.inventory,
    check: report.check,
    diff: report.diff,
    started: report.started,
    wallMs: report.wallMs,
    exitCode: report.exitCode,
    ...(report.stopReason ? { stopReason: report.stopReason } : {}),
    notRun: report.notRun,
    plays: report.plays,
    batches: report.batches,
    totals: totals(report),
    hosts,
  }
}

/**
 * Checks, before the run, that the --json report can be written: its directory exists (or can be made) and
 * takes a new file, and the path is not a directory. An InputError otherwise. Returns the absolute path.
 */
export async function checkJsonPath(file: string): Promise<string> {
  const path = resolve(file)
  try {
    // Missing directories are made one by one (a recursive mkdir under /proc never returns in Node 20).
    const missing: string[] = []
    for (let dir = dirname(path); !(await stat(dir).catch(() => undefined)); dir = dirname(dir)) missing.unshift(dir)
    for (const dir of missing) await mkdir(dir)
    if ((await stat(path).catch(() => undefined))?.isDirectory()) throw new Error('it is a directory')
    const probe = `${path}.${process.pid}.tmp`
    await writeFile(probe, '', { mode: 0o600 })
    await rm(probe)
  } catch (e) {
    throw new InputError(`cannot write the report there: ${(e as Error).message}`, '--json')
  }
  return path
}

/** Writes the report readable by its owner only (0600): it holds command output and diffs. */
export async function writeJsonReport(file: string, report: RunReport | object): Promise<void> {
  const data = 'results' in report ? jsonReport(report as RunReport) : report
  await mkdir(dirname(file), { recursive: true })
  const tmp = `${file}.${process.pid}.tmp`
  await writeFile(tmp, redact(`${JSON.stringify(data, null, 2)}\n`), { mode: 0o600 }) // no vault value, ever
  await chmod(tmp, 0o600)
  await rename(tmp, file)
}
