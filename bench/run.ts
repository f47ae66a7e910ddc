// `npm run bench`: the rollout curve (npx deploy against ansible-playbook at 10, 50, 100 and 200 light hosts),
// the heartbeat benchmarks (cost, hang latency against systemd's WatchdogSec=, idle CPU) on both lab VMs, then
// the build benchmark (artifact cache against DKMS-style builds). Boots the lab's VMs, so run it under the lab
// lock (no QEMU may run beside the rollout measurements either: they share the cores):
//
//   flock /tmp/hbmon-vm.lock npm run bench [-- fleet [HOSTS...] | heartbeat | builds ...]
//   (HBMON_BENCH_SIZE=tiny: a quick try)
//
// Writes bench/results/<name>.json, docs/fleet.svg and its section of docs/BENCHMARKS.md. fleet.json keeps the
// latest measurement of each size, so one size can be measured again on its own.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, release, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { $ } from 'zx'
import { buildDist } from '../build/dist.ts'
import { Lab, vmNames } from '../lab/lab.ts'
import { buildsBench } from './builds.ts'
import { fleetChart } from './chart.ts'
import { fleetBench } from './fleet.ts'
import { buildHbbench, fullSize, heartbeatBench, kernelArchive, tinySize, type HeartbeatResult } from './heartbeat.ts'
import { renderSection, type FleetFile } from './report.ts'

const root = fileURLToPath(new URL('..', import.meta.url))
const args = process.argv.slice(2)
const names = args.filter((a) => !/^\d+$/.test(a))
const wanted = names.length ? names : ['fleet', 'heartbeat', 'builds']
for (const w of wanted) if (!['fleet', 'heartbeat', 'builds'].includes(w)) throw new Error(`unknown benchmark ${w}`)
const tiny = process.env.HBMON_BENCH_SIZE === 'tiny'
const sizes = args.filter((a) => /^\d+$/.test(a)).map(Number)
const fleetSizes = sizes.length ? sizes : tiny ? [2] : [10, 50, 100, 200]
const work = mkdtempSync(join(tmpdir(), 'hbmon-bench-'))
// The light hosts take 127.0.110.2 and up (or $HBMON_LAB_NET's, beside another lab); the start-time listener
// sits on a /24 of its own.
const lab = new Lab({
  dir: join(work, 'lab'),
  net: process.env.HBMON_LAB_NET ?? '127.0.110',
  log: (line) => console.log(`  ${line}`),
})
const startAddress = '127.0.119.2'
const results = join(root, 'bench/results')
const src = '/root/hbmon-src'

function load(file: string) {
  return existsSync(join(results, file)) ? JSON.parse(readFileSync(join(results, file), 'utf8')) : undefined
}

async function sh(host: string, command: string, input?: string): Promise<string> {
  const r = await lab.ssh(host, command, { input })
  if (r.code !== 0) throw new Error(`${host}: ${command}\nexit ${r.code}\n${r.stderr}${r.stdout}`)
  return r.stdout
}

async function machine() {
  const qemu = (await $({ quiet: true, nothrow: true })`qemu-system-x86_64 --version`).stdout.split('\n')[0]
  const accelPath = join(process.env.HOME ?? '/root', '.cache/hbmon-lab/accel.json')
  const accel = existsSync(accelPath) && JSON.parse(readFileSync(accelPath, 'utf8')).ok === true ? 'kvm' : 'tcg'
  return {
    cpu: cpus()[0]?.model,
    cores: cpus().length,
    kernel: release(),
    node: process.version,
    qemu,
    accel,
    commit: (await $({ quiet: true, nothrow: true })`git -C ${root} rev-parse --short HEAD`).stdout.trim(),
    date: new Date().toISOString(),
    size: tiny ? 'tiny' : 'full',
    // The machine is shared: its load when the run started says how much the numbers were disturbed.
    loadavg: loadavg().map((l) => Number(l.toFixed(1))),
  }
}

async function heartbeat(): Promise<HeartbeatResult[]> {
  const archive = await kernelArchive()
  // Both VMs at once: each ratio is of numbers measured on one VM within one run.
  return Promise.all(
    vmNames.map(async (name) => {
      await sh(name, `rm -rf ${src} && mkdir -p ${src} && base64 -d | tar -C ${src} -x`, archive)
      await sh(name, `make -s -C /lib/modules/$(uname -r)/build M=${src} modules 2>&1`)
      await sh(name, `rmmod hbmon 2>/dev/null; insmod ${src}/hbmon.ko`)
      await buildHbbench(sh, name, src)
      const r = await heartbeatBench(sh, name, tiny ? tinySize : fullSize)
      await sh(name, 'rmmod hbmon')
      console.log(`  ${name}: ${JSON.stringify(r.ratios)}`)
      return r
    }),
  )
}

try {
  const info = await machine()
  console.log(`bench: ${wanted.join(', ')} (${info.size} size)`)
  mkdirSync(results, { recursive: true })
  if (wanted.includes('fleet')) {
    await buildDist() // deploy as users run it: dist/ from the sources as they are
    const fleet = await fleetBench(lab, work, fleetSizes, tiny ? 3 : 11, startAddress)
    // Sizes measured before and not this time stay, each with its own machine line.
    const old = load('fleet.json') as FleetFile | undefined
    const kept = (old?.points ?? []).filter((p) => !fleetSizes.includes(p.hosts))
    const file: FleetFile = {
      machine: info,
      start: fleet.start,
      deploy_rss_mb_per_host_slope: fleet.deploy_rss_mb_per_host_slope,
      versions: fleet.versions,
      points: [...kept, ...fleet.points.map((p) => ({ ...p, machine: info }))].sort((a, b) => a.hosts - b.hosts),
    }
    writeFileSync(join(results, 'fleet.json'), JSON.stringify(file, null, 2) + '\n')
    writeFileSync(join(root, 'docs/fleet.svg'), fleetChart(file.points))
    await lab.down() // every light host at once (up({ light: 0 }) removes them one by one)
  }
  if (wanted.includes('heartbeat') || wanted.includes('builds')) {
    console.log(`bench: booting ${vmNames.join(', ')}`)
    await lab.up({ vms: vmNames })
  }
  if (wanted.includes('heartbeat')) {
    const hb = await heartbeat()
    writeFileSync(join(results, 'heartbeat.json'), JSON.stringify({ machine: info, vms: hb }, null, 2) + '\n')
  }
  if (wanted.includes('builds')) {
    const builds = await buildsBench(lab, join(work, 'builds'), 2)
    console.log(`  builds: ${JSON.stringify(builds.ratios)}`)
    writeFileSync(join(results, 'builds.json'), JSON.stringify({ machine: info, ...builds }, null, 2) + '\n')
  }
  // The section shows the latest results of each benchmark, whichever ran this time.
  const doc = join(root, 'docs/BENCHMARKS.md')
  const old = existsSync(doc) ? readFileSync(doc, 'utf8') : '# Benchmarks\n'
  writeFileSync(doc, renderSection(old, load('heartbeat.json'), load('builds.json'), load('fleet.json')))
  // Formatted as CI's format:check expects (prettier pads the tables).
  await $({ quiet: true })`${join(root, 'node_modules/.bin/prettier')} --write ${doc} ${results}`
  console.log(`bench: results in bench/results/, summary in docs/BENCHMARKS.md`)
} finally {
  await lab.down()
  rmSync(work, { recursive: true, force: true })
}
