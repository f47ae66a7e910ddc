// A bad day in the fleet, on real kernels: faults injected while a changed module is rolled out to both VMs
// (Debian 12 / 6.1, Debian 13 / 6.12). For each: the recap and exit code; the host's files (checksums, mtimes,
// no temporary file left beside a destination); the module that runs, /dev/hbmon (hbctl selftest) and a
// heartbeat client (a systemd unit, restarted when a reload stops it) still registered in /proc/hbmon; then
// the re-run converges. Versions v1/v2/v3 of the source are built once per kernel release and then come
// from the artifact cache, so each fault costs a deploy, not a build. One lab for the whole file.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Lab, vmNames } from '../../lab/lab.ts'
import { sourceHash } from '../../tasks/hbmon_build.ts'
import { managedFiles } from '../../tasks/_hbmon.ts'
import { root } from '../fleet/_fleet.ts'
import { quote } from '../../src/util.ts'
import { tempDir } from '../tmp.ts'

// HBMON_FAULTS=ci keeps the faults whose cost is a deploy; the whole set (npm run test:faults) adds those that
// cost a reboot or a long pause (QEMU killed twice, SIGSTOP past the timeout).
const full = process.env.HBMON_FAULTS !== 'ci'
const dir = tempDir('hbmon-vm-faults-')
const lab = new Lab({ dir: join(dir, 'lab'), net: '127.0.99', log: (line) => console.log(`  ${line}`) })
// The run's artifact cache (test/run.ts), which other VM suites fill and read too: v1 (kernel/ as it is) is
// built once per run. The variants carry a token of this run, so no cache ever holds them before this suite.
const cache = process.env.HBMON_TEST_ARTIFACT_CACHE ?? join(dir, 'artifacts')
const token = randomBytes(4).toString('hex')
const started = Date.now()
const table: string[] = []
const note = (fault: string, recap: string, state: string, rerun: string) =>
  table.push(`| ${fault} | ${recap} | ${state} | ${rerun} |`)

interface Run {
  code: number | null
  out: string
  report: any
  seconds: number
}

/**
 * `deploy ARGS` (an inventory of the lab, --json); `during(line)` sees each line of output as it comes (the
 * plain progress: "TASK [name]"), to inject a fault at a chosen step. `child` is the controller itself.
 */
function spawnDeploy(name: string, args: string[], during?: (line: string) => void) {
  const json = join(dir, `${name}.json`)
  const t = Date.now()
  const child = spawn(
    process.execPath,
    [join(root, 'bin/deploy.js'), '-i', lab.inventoryPath, '--json', json, ...args],
    {
      cwd: root,
      env: { ...process.env, CI: '1', SSH_AUTH_SOCK: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let out = ''
  let partial = ''
  child.stdout.on('data', (c: Buffer) => {
    out += c
    partial += c
    const lines = partial.split('\n')
    partial = lines.pop()!
    for (const l of lines) during?.(l)
  })
  child.stderr.on('data', (c: Buffer) => (out += c))
  const done = new Promise<Run>((resolve) =>
    child.on('close', (code, signal) => {
      const report = existsSync(json) ? JSON.parse(readFileSync(json, 'utf8')) : undefined
      const seconds = (Date.now() - t) / 1000
      console.log(`  deploy ${name}: exit ${code ?? signal}, ${seconds.toFixed(1)} s`)
      resolve({ code, out, report, seconds })
    }),
  )
  return { child, done }
}

/** `deploy playbooks/deploy.yml` to both VMs with source `version`. */
const deployArgs = (version: string, args: string[]) => [
  '--limit',
  'vms',
  '-e',
  `hbmon_artifact_cache=${cache} hbmon_source_dir=${sources[version]}`,
  ...args,
  'playbooks/deploy.yml',
]
const deploy = (name: string, version: string, args: string[] = [], during?: (line: string) => void) =>
  spawnDeploy(name, deployArgs(version, args), during).done

async function sh(host: string, command: string): Promise<string> {
  const result = await lab.ssh(host, command)
  assert.is(result.code, 0, `${host}: ${command}\nexit ${result.code}\n${result.stderr}${result.stdout}`)
  return result.stdout
}
const task = (report: any, host: string, name: string) => report?.hosts[host]?.tasks.find((t: any) => t.task === name)
const recap = (r: Run, host: string) => {
  const s = r.report?.hosts[host]?.stats
  const failedTask = r.report?.hosts[host]?.tasks.find((t: any) => t.status === 'failed' || t.status === 'unreachable')
  return s
    ? `${host}: ok=${s.ok} changed=${s.changed} failed=${s.failed} unreachable=${s.unreachable}${failedTask ? ` (${failedTask.task}: ${String(failedTask.msg).split('\n')[0]!.slice(0, 90)})` : ''}`
    : `${host}: not run`
}

/** What is on a host: each managed file's sha256 and mtime, the running module, the release, leftovers. */
interface HostState {
  files: Record<string, string> // path → sha256
  mtimes: Record<string, string>
  loaded: string
  current: string
  releases: string[]
  leftovers: string[]
  selftest: boolean
  watched: boolean
}
const kernels: Record<string, string> = {}
async function state(host: string): Promise<HostState> {
  const files = managedFiles(kernels[host]!)
  const out = await sh(
    host,
    `for f in ${files.join(' ')}; do [ -e "$f" ] && echo "file $(sha256sum < "$f" | cut -c1-64) $(stat -c %y "$f" | tr ' ' _) $f"; done
echo "loaded $(cat /sys/module/hbmon/srcversion 2>/dev/null)"
echo "current $(cat /var/lib/hbmon/current 2>/dev/null)"
ls /var/lib/hbmon/releases 2>/dev/null | sed 's/^/release /'
find /lib/modules/${kernels[host]}/updates /usr/local/sbin /usr/lib/hbmon /etc/rsyslog.d /etc/logrotate.d /etc/modprobe.d \\
  /etc/modules-load.d /etc/udev/rules.d /var/lib/hbmon -name '*.tmp' -o -name '*.hbmon-restore' -o -name '*.tmp-*' 2>/dev/null | sed 's/^/leftover /'
hbctl selftest >/dev/null 2>&1 && echo selftest
grep -Eq '^[0-9]+ [0-9]+ hbctl watched ' /proc/hbmon 2>/dev/null && echo watched; true`,
  )
  const s: HostState = {
    files: {},
    mtimes: {},
    loaded: '',
    current: '',
    releases: [],
    leftovers: [],
    selftest: false,
    watched: false,
  }
  for (const line of out.trim().split('\n')) {
    const [key, ...rest] = line.split(' ')
    if (key === 'file') ((s.files[rest[2]!] = rest[0]!), (s.mtimes[rest[2]!] = rest[1]!))
    if (key === 'loaded') s.loaded = rest.join(' ')
    if (key === 'current') s.current = rest.join(' ')
    if (key === 'release') s.releases.push(rest.join(' '))
    if (key === 'leftover') s.leftovers.push(rest.join(' '))
    if (key === 'selftest') s.selftest = true
    if (key === 'watched') s.watched = true
  }
  return s
}
const describe = (s: HostState) =>
  `module ${s.loaded || 'none'}, release ${s.current || 'none'}, selftest ${s.selftest ? 'ok' : 'FAILED'}, client ${s.watched ? 'watched' : 'NOT watched'}${s.leftovers.length ? `, leftovers: ${s.leftovers.join(' ')}` : ''}`

/**
 * A heartbeat client under systemd (a unit file, Restart=always), as an application would run; it holds
 * /dev/hbmon open. A reload stops it through systemd and starts it once a module is loaded again.
 */
const clientUnit = `[Unit]
Description=hbmon heartbeat client (fault suite)
[Service]
ExecStart=/usr/local/sbin/hbctl demo --timeout 5000 --name watched
Restart=always
RestartSec=1
`
async function startClient(host: string): Promise<void> {
  await sh(
    host,
    `printf '%s' ${quote(clientUnit)} >/etc/systemd/system/hbwatch.service.tmp && mv /etc/systemd/system/hbwatch.service.tmp /etc/systemd/system/hbwatch.service && systemctl daemon-reload && systemctl reset-failed hbwatch 2>/dev/null; systemctl is-active -q hbwatch || systemctl start hbwatch`,
  )
  await waitWatched(host)
}
async function waitWatched(host: string): Promise<boolean> {
  for (let i = 0; i < 60; i++) {
    if ((await lab.ssh(host, `grep -Eq '^[0-9]+ [0-9]+ hbctl watched ' /proc/hbmon`)).code === 0) return true
    await new Promise((r) => setTimeout(r, 500))
  }
  return false
}

/** A host on version `srcversion` in good health: the module, its files as recorded, /dev/hbmon, the client. */
async function healthy(host: string, expect: HostState, why: string): Promise<HostState> {
  await waitWatched(host)
  const now = await state(host)
  assert.is(now.loaded, expect.loaded, `${why}: ${host} runs ${now.loaded}, expected ${expect.loaded}`)
  assert.equal(now.files, expect.files, `${why}: ${host}'s files are those of the release it runs`)
  assert.is(now.current, expect.current, `${why}: ${host}'s current release`)
  assert.ok(now.selftest, `${why}: ${host}: hbctl selftest`)
  assert.ok(now.watched, `${why}: ${host}: the heartbeat client is registered`)
  assert.equal(now.leftovers, [], `${why}: ${host}: no temporary file left`)
  return now
}

/** A copy of kernel/ with one edit to hbmon.c: another srcversion. */
const sources: Record<string, string> = { v1: fileURLToPath(new URL('../../kernel/', import.meta.url)) }
for (const v of ['v2', 'v5']) {
  const to = join(dir, `src-${v}`)
  cpSync(sources.v1!, to, { recursive: true })
  const file = join(to, 'hbmon.c')
  writeFileSync(
    file,
    readFileSync(file, 'utf8').replace(
      'pr_info("loaded version %s api',
      `pr_info("loaded (${v} ${token}) version %s api`,
    ),
  )
  sources[v] = to
}
const at: Record<string, Record<string, HostState>> = {} // per version, per host: the state after a clean deploy
// The faults alternate between v1 and v2, built once per kernel release and then taken from the cache: each
// fault costs a deploy, not a build. `on` is the version both VMs run after the last converged run.
let on = 'v1'
const other = () => (on === 'v1' ? 'v2' : 'v1')

async function converged(name: string, version: string, args: string[] = []): Promise<Run> {
  const r = await deploy(name, version, ['-e', 'hbmon_restart_holders=true', ...args])
  assert.is(r.code, 0, r.out)
  at[version] = {}
  for (const h of vmNames) {
    await waitWatched(h)
    const s = await state(h)
    assert.ok(s.selftest && s.watched, `${name}: ${h}: ${describe(s)}`)
    // A temp file orphaned by a fault (a copy cut by a power loss) goes with the next copy to that file.
    assert.equal(s.leftovers, [], `${name}: ${h}: no temporary file left`)
    at[version]![h] = s
  }
  on = version
  return r
}
const built = (r: Run, h: string) => task(r.report, h, 'Build hbmon (once per kernel release)')?.data?.build

test('setup: both VMs on v1, a heartbeat client on each', async () => {
  await lab.up({ vms: vmNames })
  for (const h of vmNames) kernels[h] = (await sh(h, 'uname -r')).trim()
  const first = await deploy('v1', 'v1')
  assert.is(first.code, 0, first.out)
  for (const h of vmNames) await startClient(h)
  await converged('v1-again', 'v1')
  console.log(`  setup: ${((Date.now() - started) / 1000).toFixed(0)} s`)
})

test('a holder keeps /dev/hbmon open: the canary refuses to reload, files put back, debian13 untouched', async () => {
  const r = await deploy('holder', 'v2') // hbmon_restart_holders unset: a holder blocks the reload
  assert.is(r.code, 2, r.out)
  assert.match(task(r.report, 'debian12', 'Load hbmon').msg, /in use by \d+ \(hbctl, hbwatch\.service\)/)
  assert.is((r.report.hosts.debian13?.tasks ?? []).length, 0)
  const s12 = await healthy('debian12', at.v1!.debian12!, 'holder')
  const s13 = await healthy('debian13', at.v1!.debian13!, 'holder')
  assert.equal(s13.mtimes, at.v1!.debian13!.mtimes, 'debian13 untouched')
  note(
    'a holder keeps /dev/hbmon open (no hbmon_restart_holders)',
    `exit 2; ${recap(r, 'debian12')}; debian13 not run`,
    `debian12: ${describe(s12)}; files = v1 checksums. debian13: mtimes unchanged`,
    'with hbmon_restart_holders=true (next row): debian12 reloads to v2 (6.1 build cached), its client service stopped and started again',
  )
})

test('the build fails on one kernel release (headers missing): the canary goes to v2, debian13 stays on v1; rollback of the changed host is byte-identical, the other untouched', async () => {
  const hide = `mv /lib/modules/${kernels.debian13}/build /lib/modules/${kernels.debian13}/build.hidden`
  await sh('debian13', hide)
  let r: Run
  try {
    r = await deploy('headers', 'v2', ['-e', 'hbmon_restart_holders=true'])
  } finally {
    await sh(
      'debian13',
      `mv /lib/modules/${kernels.debian13}/build.hidden /lib/modules/${kernels.debian13}/build 2>/dev/null || true`,
    )
  }
  assert.is(r.code, 2, r.out)
  assert.is(r.report.hosts.debian13.stats.failed, 1, r.out)
  assert.is(built(r, 'debian12'), 'cached', 'the canary build of v2 (the holder run) is not done twice')
  assert.is(task(r.report, 'debian13', 'Install module and tools'), undefined, 'nothing installed on debian13')
  const s13 = await healthy('debian13', at.v1!.debian13!, 'headers')
  assert.equal(s13.mtimes, at.v1!.debian13!.mtimes, 'debian13 untouched')
  const s12 = await state('debian12')
  assert.is.not(s12.loaded, at.v1!.debian12!.loaded, 'the canary runs v2')
  assert.ok(s12.selftest && (await waitWatched('debian12')), 'the canary works on v2, its client restarted')
  note(
    'the build fails on 6.12 only (headers moved away), with hbmon_restart_holders=true',
    `exit 2; ${recap(r, 'debian12')}; ${recap(r, 'debian13')}`,
    `debian12 on v2 (${describe(s12)}); debian13: ${describe(s13)}, mtimes unchanged`,
    'see the rollback row, then: exit 0, both on v2; 6.1 build cached, 6.12 built once',
  )
  // Roll back the host the recap says changed.
  // The heartbeat client holds /dev/hbmon: the rollback, like any reload, may stop it only when told so.
  const back = await spawnDeploy('rollback', [
    '--limit',
    'debian12',
    '-e',
    'hbmon_restart_holders=true',
    'playbooks/rollback.yml',
  ]).done
  assert.is(back.code, 0, back.out)
  await healthy('debian12', at.v1!.debian12!, 'rollback') // checksums, srcversion, current release
  const after13 = await state('debian13')
  assert.equal(after13.mtimes, at.v1!.debian13!.mtimes, 'rollback left debian13 untouched')
  note(
    'rollback.yml --limit debian12 -e hbmon_restart_holders=true after that partial failure',
    `exit 0; ${recap(back, 'debian12')}`,
    'debian12: every managed file sha256 = v1, srcversion = v1, release = v1; debian13: mtimes unchanged',
    '-',
  )
  const again = await converged('headers-rerun', 'v2')
  assert.is(built(again, 'debian12'), 'cached')
  assert.is(built(again, 'debian13'), 'built')
})

/** Waits (on the host, in one SSH session) until `condition` holds, at most `timeout` seconds of wall time. */
const when = (host: string, condition: string, timeout = 300) =>
  lab.ssh(host, `timeout ${timeout} sh -c ${quote(`until ${condition}; do sleep 0.02; done`)}`)

/** Where QEMU is killed on the canary (full size only): a condition that holds on the host at that step. */
const powerCuts: [string, (kernel: string) => string][] = [
  ['QEMU killed during the .ko copy', (k) => `ls /lib/modules/${k}/updates/.hbmon.ko.hbmon-*.tmp >/dev/null 2>&1`],
  ['QEMU killed during depmod', () => 'pgrep -x depmod >/dev/null'],
]
for (const [fault, condition] of full ? powerCuts : [])
  test(`${fault}: after the reboot the module is one release or the other, whole; the re-run converges`, async () => {
    const [from, to] = [on, other()]
    const waiting = when('debian12', condition(kernels.debian12!))
    const r = deploy(`kill-${fault.split(' ').at(-1)}`, to, ['-e', 'hbmon_restart_holders=true'])
    const seen = await waiting
    assert.is(seen.code, 0, `the step was not seen: ${seen.stdout}${seen.stderr}`)
    await lab.kill('debian12')
    const killed = await r
    assert.is(killed.code, 3, killed.out)
    await lab.up({ vms: vmNames })
    const s = await state('debian12')
    const ko = managedFiles(kernels.debian12!)[0]!
    const whole = [at[from]!.debian12!.files[ko], at[to]!.debian12!.files[ko]]
    assert.ok(whole.includes(s.files[ko]), `${ko} is ${from}'s or ${to}'s, not a torn file`)
    assert.ok([at[from]!.debian12!.loaded, at[to]!.debian12!.loaded].includes(s.loaded), `runs ${s.loaded}`)
    assert.ok(s.selftest, '/dev/hbmon works after the reboot')
    const koIs = s.files[ko] === whole[0] ? from : to
    await startClient('debian12') // the transient unit did not survive the power cut
    const again = await converged(`kill-${to}-rerun`, to)
    for (const h of vmNames) assert.is(built(again, h), 'cached')
    note(
      fault,
      `exit 3; ${recap(killed, 'debian12')}; debian13 not run`,
      `after reboot: .ko on disk = ${koIs}, module loaded = ${s.loaded === at[from]!.debian12!.loaded ? from : to}, release = ${s.current === at[from]!.debian12!.current ? from : s.current === at[to]!.debian12!.current ? to : s.current}, selftest ok${s.leftovers.length ? `, leftovers ${s.leftovers.join(' ')} (removed by the re-run)` : ', no leftovers'}`,
      `exit 0, both on ${to}; builds cached; no leftovers`,
    )
  })

if (full)
  test('SIGSTOP of the VM past the command timeout during the install: unreachable; after SIGCONT the re-run converges', async () => {
    const [from, to] = [on, other()]
    let paused = false
    const r = await deploy('sigstop', to, ['-e', 'hbmon_restart_holders=true'], (line) => {
      if (!paused && line.includes('TASK [hbmon : Install module and tools]')) {
        paused = true
        void lab.pause('debian12').then(() => setTimeout(() => void lab.resume('debian12'), 30_000))
      }
    })
    assert.ok(paused)
    assert.is(r.code, 3, r.out)
    await new Promise((res) => setTimeout(res, 1000))
    for (let i = 0; i < 60 && (await lab.ssh('debian12', 'true')).code !== 0; i++)
      await new Promise((res) => setTimeout(res, 1000))
    const s = await state('debian12')
    assert.is(s.loaded, at[from]!.debian12!.loaded, 'the old module still runs')
    assert.ok(s.selftest)
    assert.ok(await waitWatched('debian12'), 'the client is still watched')
    await converged('sigstop-rerun', to)
    note(
      'VM paused (SIGSTOP) 30 s at the install, past the keepalive timeout (15 s)',
      `exit 3; ${recap(r, 'debian12')}; debian13 not run`,
      `debian12 after SIGCONT: ${describe(s)} (= ${from})`,
      `exit 0, both on ${to}; builds cached`,
    )
  })

test('SSH cut while the release is written: unreachable; the release directory is whole or absent; the re-run converges', async () => {
  const to = other()
  let cut = false
  const r = await deploy('cut', to, ['-e', 'hbmon_restart_holders=true'], (line) => {
    if (!cut && line.includes('TASK [hbmon : Record the release]')) {
      cut = true
      void lab.cut('debian12')
    }
  })
  assert.ok(cut)
  await lab.restore('debian12')
  const s = await state('debian12')
  assert.is(s.loaded, at[to]!.debian12!.loaded, 'the new module was loaded and verified before the cut')
  assert.ok(s.selftest && s.watched)
  assert.equal(s.leftovers, [])
  // Every release directory on the host is complete: its manifest's checksums hold.
  await sh(
    'debian12',
    `for d in /var/lib/hbmon/releases/*/; do (cd "$d" && awk '{print $1"  files"$3}' manifest | sha256sum -c --quiet) || exit 1; done`,
  )
  const again = await converged('cut-rerun', to)
  const load = task(again.report, 'debian12', 'Load hbmon')
  assert.is(load.status, 'ok', 'not reloaded twice')
  note(
    'SSH cut (nft drop) at "Record the release"',
    `exit ${r.code}; ${recap(r, 'debian12')}`,
    `debian12: ${describe(s)} (= ${to}); every release dir's manifest checks`,
    `exit 0; debian12 Load hbmon ok (not reloaded again), release ${task(again.report, 'debian12', 'Record the release').status}`,
  )
})

test('the disk where releases are kept is full: the run fails honestly; nothing half-written; the re-run converges', async () => {
  const to = other()
  const rel = '/var/lib/hbmon/releases'
  // The releases on a tmpfs with 64 KiB to spare, without the one this deploy records (v1 and v2 alternate:
  // it was recorded before), so that recording it must write a module's worth into a full filesystem.
  const release = at[to]!.debian12!.current
  await sh(
    'debian12',
    `set -e; mkdir -p /run/hbfull; cp -a ${rel}/. /run/hbfull/; rm -rf /run/hbfull/${release}
used=$(du -sk /run/hbfull | cut -f1)
mount -t tmpfs -o size=$((used + 64))k hbfull ${rel}; cp -a /run/hbfull/. ${rel}/; rm -rf /run/hbfull`,
  )
  let r: Run
  let s: HostState
  try {
    r = await deploy('full', to, ['-e', 'hbmon_restart_holders=true'])
    s = await state('debian12')
    await sh('debian12', `ls -la ${rel} ${rel}/*/ >&2; df -k ${rel} >&2`)
  } finally {
    await sh('debian12', `umount ${rel} || true`)
  }
  assert.is(r.code, 2, r.out)
  assert.ok(s.selftest)
  assert.equal(s.leftovers, [])
  await converged('full-rerun', to)
  note(
    `${rel} on a full tmpfs`,
    `exit ${r.code}; ${recap(r, 'debian12')}`,
    `debian12: ${describe(s)}`,
    `exit 0, both on ${to}`,
  )
})

test('a .ko built for another kernel planted in the artifact cache: insmod refuses it, the host is rolled back; a rebuild converges', async () => {
  const arch = 'x86_64'
  // The build of the version debian13 does not run: its srcversion differs from the loaded module's, so the
  // deploy must load it, and insmod meets the foreign vermagic. (The running version's build would carry the
  // loaded srcversion: no reload, and Verify would catch the file's vermagic instead.)
  const from = join(cache, sourceHash(sources[other()]!).slice(0, 16), `${kernels.debian12}-${arch}`)
  const into = join(cache, sourceHash(sources.v5!).slice(0, 16), `${kernels.debian13}-${arch}`)
  assert.ok(existsSync(from), from)
  mkdirSync(join(into, '..'), { recursive: true })
  cpSync(from, into, { recursive: true })
  const meta = JSON.parse(readFileSync(join(into, 'meta.json'), 'utf8'))
  writeFileSync(
    join(into, 'meta.json'),
    JSON.stringify({ ...meta, dir: into, kernel: kernels.debian13, source_hash: sourceHash(sources.v5!) }),
  )
  const r = await deploy('planted', 'v5', ['-e', 'hbmon_restart_holders=true', '--limit', 'debian13'])
  assert.is(r.code, 2, r.out)
  assert.match(task(r.report, 'debian13', 'Load hbmon').msg, /rolled back to release/)
  const s = await healthy('debian13', at[on]!.debian13!, 'planted')
  const again = await deploy('planted-rerun', 'v5', [
    '-e',
    'hbmon_restart_holders=true hbmon_rebuild=true',
    '--limit',
    'debian13',
  ])
  assert.is(again.code, 0, again.out)
  assert.is(built(again, 'debian13'), 'built')
  note(
    'a 6.1 .ko planted in the cache as the 6.12 build',
    `exit 2; ${recap(r, 'debian13')}`,
    `debian13: ${describe(s)}; files = ${on} checksums`,
    `hbmon_rebuild=true: exit ${again.code}, debian13 on v5 (built)`,
  )
})

test('the controller is SIGKILLed mid-reload: the module is loaded on the host after all; the host lock is released; the re-run finishes the job', async () => {
  const [from, to] = [on, other()]
  const watched = `grep -Eq '^[0-9]+ [0-9]+ hbctl watched ' /proc/hbmon 2>/dev/null`
  const reloading = when('debian12', `! ${watched}`) // the holders are being stopped: the reload follows
  const { child, done } = spawnDeploy('controller-killed', deployArgs(to, ['-e', 'hbmon_restart_holders=true']))
  const seen = await reloading
  assert.is(seen.code, 0, `the reload was not seen: ${seen.stdout}${seen.stderr}`)
  child.kill('SIGKILL')
  const killed = await done
  assert.is(killed.code, null, 'the controller died of SIGKILL')
  let loaded = ''
  for (let i = 0; i < 40 && !loaded; i++) {
    loaded = (await lab.ssh('debian12', 'cat /sys/module/hbmon/srcversion 2>/dev/null')).stdout.trim()
    if (!loaded) await new Promise((r) => setTimeout(r, 500))
  }
  const versions = { [at[from]!.debian12!.loaded]: from, [at[to]!.debian12!.loaded]: to }
  assert.ok(versions[loaded], `debian12 runs a whole module after the controller died (found '${loaded}')`)
  const s = await state('debian12')
  assert.ok(s.selftest, '/dev/hbmon works')
  assert.ok(await waitWatched('debian12'), 'the client is watched again (the reload script started its service)')
  const again = await converged('controller-killed-rerun', to, ['--lock-wait', '30'])
  for (const h of vmNames) assert.is(built(again, h), 'cached')
  note(
    'the controller (deploy) SIGKILLed while the canary stops its holders for the reload',
    'no recap (the controller is dead)',
    `debian12: module ${versions[loaded]} loaded, selftest ok, client watched: the reload (one remote command) ran to its end without the controller`,
    `exit 0 (the dead controller's host lock is gone), both on ${to}; builds cached`,
  )
})

test('the lab goes down; the table', async () => {
  await lab.down()
  console.log(`\n| fault | recap | state on the host | re-run |\n|---|---|---|---|\n${table.join('\n')}`)
  console.log(`\n  faults suite: ${((Date.now() - started) / 1000).toFixed(0)} s`)
})

test.after(() => lab.down())

test.run()
