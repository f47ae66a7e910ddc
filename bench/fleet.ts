// Rollout speed against Debian's ansible-playbook, the tool our users would pick instead: the same playbook
// (bench/fleet/site.yml: a directory, a 1 MB copy, a template, a command) and inventory on the same light
// hosts, with the same host-key checking (the lab's known_hosts, StrictHostKeyChecking=yes), at several fleet
// sizes, cold and then with nothing to change; and the floor, one `command: true` task on the same hosts.
//
// Measured per run: wall time; the controller's CPU (user + system of the tool and every process it waited
// for, plus Ansible's ControlPersist ssh masters, which outlive ansible-playbook: their CPU is read from /proc
// before they are ended after each run); the hosts' CPU (every light host's sshd with the sessions it reaped);
// the controller's peak RSS. And the start: from exec to the first TCP connection attempt, against a listener.
import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Lab } from '../lab/lab.ts'
import type { LightHost } from '../lab/light.ts'
import { ansibleEnv } from '../test/ansible.ts'

const root = fileURLToPath(new URL('..', import.meta.url))
const ticks = 100 // USER_HZ: /proc's CPU times are in 1/100 s on Linux

export interface Measure {
  wall_s: number
  /** The controller: the tool, its children, and (Ansible) its ssh masters. */
  cpu_s: number
  /** Every light host's sshd and its sessions. */
  hosts_cpu_s: number
  /** Peak RSS of the largest single controller process (deploy: the one process). */
  max_rss_mb: number
  code: number | null
}

export interface FleetPoint {
  hosts: number
  runs: Record<'ansible cold' | 'ansible no-change' | 'deploy cold' | 'deploy no-change' | 'deploy no-op', Measure>
  ratios: {
    cold_wall: number
    cold_cpu: number
    nochange_wall: number
    nochange_cpu: number
    /**
     * deploy no-change (four tasks) / deploy no-op (one `command: true`), each the fastest of the alternated
     * rounds (noise only adds time): target ≤ 1.3
     */
    nochange_per_noop_wall: number
    /** Controller memory per host: deploy's peak RSS at this size / hosts. */
    deploy_rss_mb_per_host: number
  }
  /** deploy no-change / no-op in each round (the two run one after the other). */
  nochange_per_noop_rounds?: number[]
}

export interface StartMeasure {
  /** ms from spawn() to the first TCP connection reaching the listener: the fastest of the runs, and the median */
  deploy_min_ms: number
  deploy_median_ms: number
  ansible_min_ms: number
  ansible_median_ms: number
  /** A bare `node -e 0`, exec → exit, in the same runs: the floor of any Node tool on this machine at the time. */
  node_min_ms?: number
  node_median_ms?: number
  runs: number
}

export interface FleetResult {
  sizes: number[]
  points: FleetPoint[]
  start: StartMeasure
  /** Slope of deploy's peak RSS against hosts, between the smallest and the largest size: MB per host. */
  deploy_rss_mb_per_host_slope: number
  versions: { ansible: string; openssh: string }
}

/** The playbooks and files of the benchmark in `work`, with an ansible.cfg for `forks`. */
export function prepare(work: string, forks: number): NodeJS.ProcessEnv {
  for (const file of ['site.yml', 'noop.yml', 'bench.conf.j2'])
    copyFileSync(join(root, 'bench/fleet', file), join(work, file))
  if (!existsSync(join(work, 'payload.bin'))) writeFileSync(join(work, 'payload.bin'), randomBytes(1 << 20))
  const env = ansibleEnv()
  writeFileSync(
    env.ANSIBLE_CONFIG!,
    `[defaults]\nforks = ${forks}\nhost_key_checking = True\n[ssh_connection]\npipelining = True\nssh_args = -o ControlMaster=auto -o ControlPersist=60s\n`,
  )
  return env
}

function cpuOf(pid: number, children: boolean): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = stat
      .slice(stat.lastIndexOf(')') + 2)
      .split(' ')
      .map(Number)
    // fields 14-17 of stat (utime, stime, cutime, cstime) are 11-14 after the name
    return (f[11]! + f[12]! + (children ? f[13]! + f[14]! : 0)) / ticks
  } catch {
    return 0
  }
}

/** CPU of every light host's sshd (PID 1 of its namespace), with the sessions it has reaped. */
export function hostsCpu(lab: Lab): number {
  let total = 0
  for (const h of lab.hosts) {
    if (h.kind !== 'light') continue
    const pid = (h as LightHost).pid
    const child = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/)[0]
    if (child) total += cpuOf(Number(child), true)
  }
  return total
}

/** Ansible's ssh masters under `home` (ControlPersist): their pids. */
function masters(home: string): number[] {
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8')
      if (cmd.startsWith('ssh: ') && cmd.includes(join(home, '.ansible', 'cp'))) pids.push(Number(entry))
    } catch {}
  }
  return pids
}

/** Reads the masters' CPU, then ends them (so that each run starts as a new invocation would, a minute later). */
function endMasters(home: string): number {
  const dir = join(home, '.ansible', 'cp')
  const cpu = masters(home).reduce((sum, pid) => sum + cpuOf(pid, true), 0)
  for (const socket of existsSync(dir) ? readdirSync(dir) : [])
    spawnSync('ssh', ['-o', `ControlPath=${join(dir, socket)}`, '-O', 'exit', 'x'], { stdio: 'ignore', timeout: 5000 })
  return cpu
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Runs a command to completion under /usr/bin/time, with the hosts' CPU before and after. */
async function measure(
  lab: Lab,
  work: string,
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<Measure> {
  const out = join(work, 'time.out')
  const hostsBefore = hostsCpu(lab)
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn('/usr/bin/time', ['-f', '%e %U %S %M', '-o', out, command, ...args], {
      cwd: work,
      env,
      stdio: ['ignore', 'ignore', 'inherit'],
    })
    child.on('close', resolve)
  })
  const [wall, user, sys, rss] = readFileSync(out, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number)
  const extra = env.HOME && existsSync(join(env.HOME, '.ansible')) ? endMasters(env.HOME) : 0
  await sleep(500) // sshd reaps the sessions of connections that just closed
  return {
    wall_s: wall!,
    cpu_s: user! + sys! + extra,
    hosts_cpu_s: hostsCpu(lab) - hostsBefore,
    max_rss_mb: rss! / 1024,
    code,
  }
}

/**
 * One fleet size: both tools cold then with no change, and deploy's one-no-op-task floor. The floor and
 * deploy's no-change run alternate for `floorRounds` rounds; their ratio is of the fastest of each (the
 * comparison with ansible-playbook uses the first no-change run, as ansible's has one).
 */
export async function fleetPoint(lab: Lab, work: string, hosts: number, floorRounds = 3): Promise<FleetPoint> {
  await lab.up({ light: hosts })
  const env = prepare(work, hosts)
  const inventory = lab.inventoryPath
  const ansible = (playbook: string) => measure(lab, work, 'ansible-playbook', ['-i', inventory, playbook], env)
  const ours = (playbook: string) =>
    measure(lab, work, process.execPath, [join(root, 'bin/deploy.js'), '-i', inventory, playbook], {
      ...process.env,
      CI: '1',
      SSH_AUTH_SOCK: '',
    })
  const clean = () => Promise.all(lab.hosts.map((h) => lab.ssh(h.name, 'rm -rf /srv/bench')))
  await clean()
  const a1 = await ansible('site.yml')
  const a2 = await ansible('site.yml')
  // Same hosts for both tools: remove what Ansible wrote, so that our cold run is cold too.
  await clean()
  const d1 = await ours('site.yml')
  const rounds: [Measure, Measure][] = []
  for (let i = 0; i < floorRounds; i++) rounds.push([await ours('site.yml'), await ours('noop.yml')])
  const fastest = (ms: Measure[]) => ms.reduce((a, b) => (b.wall_s < a.wall_s ? b : a))
  const d2 = rounds[0]![0]
  const d0 = fastest(rounds.map(([, noop]) => noop))
  const runs = {
    'ansible cold': a1,
    'ansible no-change': a2,
    'deploy cold': d1,
    'deploy no-change': d2,
    'deploy no-op': d0,
  }
  return {
    hosts,
    runs,
    ratios: {
      cold_wall: a1.wall_s / d1.wall_s,
      cold_cpu: a1.cpu_s / d1.cpu_s,
      nochange_wall: a2.wall_s / d2.wall_s,
      nochange_cpu: a2.cpu_s / d2.cpu_s,
      nochange_per_noop_wall: fastest(rounds.map(([noChange]) => noChange)).wall_s / d0.wall_s,
      deploy_rss_mb_per_host: d1.max_rss_mb / hosts,
    },
    nochange_per_noop_rounds: rounds.map(([noChange, noop]) => noChange.wall_s / noop.wall_s),
  }
}

/**
 * From exec to the first connection attempt: the tool runs the benchmark's playbook against one host whose
 * address is a listener on this machine, which notes the moment a TCP connection arrives and closes it.
 */
export async function startTime(work: string, address: string, runs: number): Promise<StartMeasure> {
  const env = prepare(work, 1)
  const inventory = join(work, 'start-inventory.yml')
  writeFileSync(
    inventory,
    `all:\n  hosts:\n    start:\n      ansible_host: ${address}\n      ansible_port: 2222\n      ansible_user: root\n`,
  )
  let arrived: (() => void) | undefined
  const server = createServer((socket) => (arrived?.(), socket.destroy()))
  await new Promise<void>((resolve) => server.listen(2222, address, resolve))
  const once = async (command: string, args: string[], childEnv: NodeJS.ProcessEnv, exit = false) => {
    const started = process.hrtime.bigint()
    const connected = new Promise<number>(
      (resolve) => (arrived = () => resolve(Number(process.hrtime.bigint() - started) / 1e6)),
    )
    const child = spawn(command, args, { cwd: work, env: childEnv, stdio: 'ignore' })
    const closed = new Promise<number>((resolve) =>
      child.on('close', () => resolve(exit ? Number(process.hrtime.bigint() - started) / 1e6 : NaN)),
    )
    const ms = exit ? await closed : await Promise.race([connected, closed])
    await closed
    return ms
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  try {
    const deploy: number[] = []
    const ansible: number[] = []
    const node: number[] = []
    for (let i = 0; i < runs; i++) {
      node.push(await once(process.execPath, ['-e', '0'], process.env, true))
      deploy.push(
        await once(process.execPath, [join(root, 'bin/deploy.js'), '-i', inventory, 'site.yml'], {
          ...process.env,
          CI: '1',
          SSH_AUTH_SOCK: '',
        }),
      )
      if (i < Math.max(1, Math.floor(runs / 3)))
        ansible.push(await once('ansible-playbook', ['-i', inventory, 'site.yml'], env))
    }
    return {
      deploy_min_ms: Math.min(...deploy),
      deploy_median_ms: median(deploy),
      ansible_min_ms: Math.min(...ansible),
      ansible_median_ms: median(ansible),
      node_min_ms: Math.min(...node),
      node_median_ms: median(node),
      runs,
    }
  } finally {
    server.close()
  }
}

/** The curve: every size in turn on the same lab (hosts added between sizes), then the start time. */
export async function fleetBench(lab: Lab, work: string, sizes: number[], startRuns: number, address: string) {
  const points: FleetPoint[] = []
  for (const hosts of sizes) {
    const point = await fleetPoint(lab, work, hosts)
    console.log(`  fleet ${hosts} hosts: ${JSON.stringify(point.ratios)}`)
    points.push(point)
  }
  const start = await startTime(work, address, startRuns)
  console.log(`  start: ${JSON.stringify(start)}`)
  const first = points[0]!
  const last = points.at(-1)!
  const version = (command: string, args: string[]) => {
    const r = spawnSync(command, args, { encoding: 'utf8' })
    return `${r.stdout}${r.stderr}`.trim().split('\n')[0]!
  }
  return {
    sizes,
    points,
    start,
    deploy_rss_mb_per_host_slope:
      last.hosts === first.hosts
        ? last.ratios.deploy_rss_mb_per_host
        : (last.runs['deploy cold'].max_rss_mb - first.runs['deploy cold'].max_rss_mb) / (last.hosts - first.hosts),
    versions: { ansible: version('ansible-playbook', ['--version']), openssh: version('ssh', ['-V']) },
  } satisfies FleetResult
}
