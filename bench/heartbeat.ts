// Heartbeat benchmarks in a lab VM (issue 17, parts 3-5), driven over SSH: bench/heartbeat/hbbench.c is
// built on the VM against the module's header and run there, so every ratio compares numbers of one VM
// in one run. Used at full size by bench/run.ts and at a tiny size by test/vm/module.test.ts.
import { fileURLToPath } from 'node:url'
import { $ } from 'zx'

const root = fileURLToPath(new URL('..', import.meta.url))

/** Runs a command on a host and returns its stdout; throws with the output when it fails. */
export type Sh = (host: string, command: string, input?: string) => Promise<string>

export interface Cost {
  iterations: number
  rounds: number
  floor_ns: number
  beat_ns: number
  sd_notify_ns: number
  sd_notify_reuse_ns: number
  [k: string]: number
}

export interface Latency {
  count: number
  received: number
  errors: number
  min_ms: number
  p50_ms: number
  p99_ms: number
  max_ms: number
}

export interface Idle {
  mode: 'beat' | 'none'
  clients: number
  hz: number
  timeout_ms: number
  seconds: number
  beats: number
  errors: number
  cpu_user_ms: number
  cpu_system_ms: number
  cpu_irq_ms: number
  cpu_softirq_ms: number
  cpu_idle_ms: number
  proc_user_ms: number
  proc_system_ms: number
  cpus: number
}

export interface Size {
  cost: { iterations: number; rounds: number }
  latency: { clients: number; timeoutMs: number; spreadMs: number; rounds: number }
  sdLatency: { services: number; watchdogMs: number; spreadMs: number }
  idle: { clients: number; seconds: number; hz: number; timeoutMs: number }
}

export const fullSize: Size = {
  cost: { iterations: 4000, rounds: 11 },
  latency: { clients: 1000, timeoutMs: 3000, spreadMs: 5000, rounds: 3 },
  sdLatency: { services: 20, watchdogMs: 3000, spreadMs: 2000 },
  idle: { clients: 1000, seconds: 60, hz: 10, timeoutMs: 1000 },
}

export const tinySize: Size = {
  cost: { iterations: 1000, rounds: 5 },
  latency: { clients: 20, timeoutMs: 1000, spreadMs: 200, rounds: 1 },
  sdLatency: { services: 2, watchdogMs: 1000, spreadMs: 200 },
  idle: { clients: 50, seconds: 2, hz: 10, timeoutMs: 1000 },
}

export interface HeartbeatResult {
  host: string
  kernel: string
  systemd: string
  cost: Cost
  latency: Latency
  /** The same clients sleeping to the same deadlines without hbmon: what the VM itself adds (absent in older results). */
  sleepLatency?: Latency
  /** The p99 of every round, hbmon's and the floor's, in the order run (absent in older results). */
  latencyRounds?: { beat: number[]; sleep: number[] }
  sdLatency: Latency
  idle: { beat: Idle; none: Idle }
  ratios: {
    sd_notify_per_beat: number
    sd_notify_reuse_per_beat: number
    beat_per_floor: number
    beat_per_floor_median: number
    sd_p99_per_hbmon_p99: number
    hbmon_p99_over_floor_ms?: number
    idle_extra_cpu_ms_per_s: number
    idle_extra_cpu_fraction: number
  }
}

const bin = '/root/hbbench/hbbench'

/** CPU time of the whole VM that was not idle, in ms. */
export const busy = (x: Idle) => x.seconds * 1000 * (x.cpus ?? 1) - x.cpu_idle_ms

/** Copies bench/heartbeat to the host and builds hbbench there against KERNEL_SRC's header, with -Werror. */
export async function buildHbbench(sh: Sh, host: string, kernelSrc: string): Promise<void> {
  const b64 = (
    await $({ quiet: true })`tar -C ${root} -c bench/heartbeat/hbbench.c bench/heartbeat/Makefile | base64 -w0`
  ).stdout
  await sh(
    host,
    `rm -rf /root/hbbench && mkdir -p /root/hbbench && base64 -d | tar -C /root/hbbench -x --strip-components=2 && make -s -C /root/hbbench KERNEL=${kernelSrc} 2>&1`,
    b64,
  )
}

const json = <T>(out: string): T =>
  JSON.parse(
    out
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .at(-1)!,
  ) as T

/** Runs every heartbeat benchmark on one host, where the module is loaded and hbbench is built. */
export async function heartbeatBench(sh: Sh, host: string, size: Size): Promise<HeartbeatResult> {
  const { cost: c, latency: l, sdLatency: s, idle: i } = size
  const kernel = (await sh(host, 'uname -r')).trim()
  const systemd = (await sh(host, 'systemctl --version | head -1')).trim()
  const cost = json<Cost>(await sh(host, `${bin} cost --iterations ${c.iterations} --rounds ${c.rounds}`))
  const latencyRun = async (mode: 'beat' | 'sleep') =>
    json<Latency>(
      await sh(
        host,
        `${bin} latency --clients ${l.clients} --timeout-ms ${l.timeoutMs} --spread-ms ${l.spreadMs} --mode ${mode}`,
      ),
    )
  // hbmon and the floor alternate, round after round: the host's load moves the tail by the minute (a p99 of
  // 3 ms and of 600 ms minutes apart on one VM), so each is the round with the lowest p99, all rounds kept.
  const rounds: { beat: Latency; sleep: Latency }[] = []
  for (let r = 0; r < l.rounds; r++) rounds.push({ beat: await latencyRun('beat'), sleep: await latencyRun('sleep') })
  const best = (k: 'beat' | 'sleep') => rounds.map((r) => r[k]).sort((a, b) => a.p99_ms - b.p99_ms)[0]!
  const latency = best('beat')
  const sleepLatency = best('sleep')
  const latencyRounds = { beat: rounds.map((r) => r.beat.p99_ms), sleep: rounds.map((r) => r.sleep.p99_ms) }
  const sdLatency = json<Latency>(
    await sh(
      host,
      `${bin} sd-latency --services ${s.services} --watchdog-ms ${s.watchdogMs} --spread-ms ${s.spreadMs}`,
    ),
  )
  const idle = async (mode: 'beat' | 'none') =>
    json<Idle>(
      await sh(
        host,
        `${bin} idle --mode ${mode} --clients ${i.clients} --seconds ${i.seconds} --hz ${i.hz} --timeout-ms ${i.timeoutMs}`,
      ),
    )
  const none = await idle('none')
  const beat = await idle('beat')
  // Busy = all the VM's CPU time that was not idle: the idle time is exact under NO_HZ, while the
  // user/system/irq columns are tick samples that clients waking in step with the tick escape.
  const extra = busy(beat) - busy(none)
  return {
    host,
    kernel,
    systemd,
    cost,
    latency,
    sleepLatency,
    latencyRounds,
    sdLatency,
    idle: { beat, none },
    ratios: {
      // From each kind's fastest round: on a shared machine noise only adds time.
      sd_notify_per_beat: cost.sd_notify_ns_min! / cost.beat_ns_min!,
      sd_notify_reuse_per_beat: cost.sd_notify_reuse_ns_min! / cost.beat_ns_min!,
      beat_per_floor: cost.beat_ns_min! / cost.floor_ns_min!,
      beat_per_floor_median: cost.beat_ns / cost.floor_ns,
      sd_p99_per_hbmon_p99: sdLatency.p99_ms / latency.p99_ms,
      hbmon_p99_over_floor_ms: latency.p99_ms - sleepLatency.p99_ms,
      idle_extra_cpu_ms_per_s: extra / beat.seconds,
      idle_extra_cpu_fraction: extra / (beat.seconds * 1000),
    },
  }
}

/** The module's sources, for hosts that build it (bench/run.ts): a tar of kernel/ without build products. */
export async function kernelArchive(): Promise<string> {
  return (await $({ quiet: true })`tar -C ${root}kernel --exclude=*.o --exclude=*.ko -c . | base64 -w0`).stdout
}
