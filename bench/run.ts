// `npm run bench`: the heartbeat benchmarks (cost, hang latency against systemd's WatchdogSec=, idle CPU) on
// both lab VMs, then the build benchmark (artifact cache against DKMS-style builds). Boots the lab's VMs, so
// run it under the lab lock:
//
//   flock /tmp/hbmon-vm.lock npm run bench [-- heartbeat|builds ...]     (HBMON_BENCH_SIZE=tiny: a quick try)
//
// Writes bench/results/<name>.json and its section of docs/BENCHMARKS.md. bench/fleet.ts (the rollout
// against ansible-playbook, on light hosts) runs on its own: `npx tsx bench/fleet.ts [HOSTS]`.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, release, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { $ } from 'zx'
import { Lab, vmNames } from '../lab/lab.ts'
import { buildsBench } from './builds.ts'
import { buildHbbench, fullSize, heartbeatBench, kernelArchive, tinySize, type HeartbeatResult } from './heartbeat.ts'
import { renderSection } from './report.ts'

const root = fileURLToPath(new URL('..', import.meta.url))
const wanted = process.argv.slice(2).length ? process.argv.slice(2) : ['heartbeat', 'builds']
for (const w of wanted) if (!['heartbeat', 'builds'].includes(w)) throw new Error(`unknown benchmark ${w}`)
const tiny = process.env.HBMON_BENCH_SIZE === 'tiny'
const work = mkdtempSync(join(tmpdir(), 'hbmon-bench-'))
const lab = new Lab({ dir: join(work, 'lab'), log: (line) => console.log(`  ${line}`) })
const results = join(root, 'bench/results')
const src = '/root/hbmon-src'

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
  console.log(`bench: ${wanted.join(', ')} (${info.size} size); booting ${vmNames.join(', ')}`)
  await lab.up({ vms: vmNames })
  mkdirSync(results, { recursive: true })
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
  const load = (f: string) =>
    existsSync(join(results, f)) ? JSON.parse(readFileSync(join(results, f), 'utf8')) : undefined
  const doc = join(root, 'docs/BENCHMARKS.md')
  const old = existsSync(doc) ? readFileSync(doc, 'utf8') : '# Benchmarks\n'
  writeFileSync(doc, renderSection(old, load('heartbeat.json'), load('builds.json')))
  // Formatted as CI's format:check expects (prettier pads the tables).
  await $({ quiet: true })`${join(root, 'node_modules/.bin/prettier')} --write ${doc} ${results}`
  console.log(`bench: results in bench/results/, summary in docs/BENCHMARKS.md`)
} finally {
  await lab.down()
  rmSync(work, { recursive: true, force: true })
}
