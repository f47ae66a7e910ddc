// The rollout on real kernels: `deploy` with playbooks/deploy.yml to the Debian 12 (6.1) and Debian 13 (6.12)
// VMs builds once per kernel release, installs, loads and verifies; the module's lines land in
// /var/log/hbmon.log and follow a logrotate; a second deploy changes nothing and does not reload the module;
// a changed source goes out canary first; a module that does not load stops at the canary, rolled back;
// rollback.yml goes back one release; light hosts (no module support) fail early. One lab for the whole file.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { cpSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Lab, vmNames } from '../../lab/lab.ts'
import { deploy, statuses } from '../fleet/_fleet.ts'
import { tempDir } from '../tmp.ts'

const dir = tempDir('hbmon-vm-rollout-')
const lab = new Lab({ dir: join(dir, 'lab'), net: '127.0.57', log: (line) => console.log(`  ${line}`) })
const cache = join(dir, 'artifacts') // a fresh artifact cache: the first deploy must build
const json = (name: string) => join(dir, `${name}.json`)
const run = (name: string, ...args: string[]) =>
  deploy(
    ['-i', lab.inventoryPath, '--limit', 'vms', '-e', `hbmon_artifact_cache=${cache}`, ...args, 'playbooks/deploy.yml'],
    json(name),
  )

async function sh(host: string, command: string): Promise<string> {
  const result = await lab.ssh(host, command)
  assert.is(result.code, 0, `${host}: ${command}\nexit ${result.code}\n${result.stderr}${result.stdout}`)
  return result.stdout
}
const both = <T>(fn: (name: string) => Promise<T>) => Promise.all(vmNames.map(fn))
const task = (report: any, host: string, name: string) => report.hosts[host].tasks.find((t: any) => t.task === name)
const srcversion = (host: string) => sh(host, 'cat /sys/module/hbmon/srcversion').then((s) => s.trim())
const current = (host: string) => sh(host, 'cat /var/lib/hbmon/current').then((s) => s.trim())

/** A copy of kernel/ with one edit to hbmon.c: another srcversion (or a module that refuses to load). */
function variant(name: string, edit: (source: string) => string): string {
  const to = join(dir, name)
  cpSync(fileURLToPath(new URL('../../kernel/', import.meta.url)), to, { recursive: true })
  const file = join(to, 'hbmon.c')
  const before = readFileSync(file, 'utf8')
  const after = edit(before)
  assert.is.not(after, before, `${name}: the edit must change hbmon.c`)
  writeFileSync(file, after)
  return to
}
const firstRelease: Record<string, { release: string; srcversion: string }> = {}
const v2Release: Record<string, { release: string; srcversion: string }> = {}

// deploy.yml's second play is the rollout (the first reads the health monitor's MAC; this lab has no monitor).
const deployPlay = (report: any) => report.plays.find((p: any) => p.name === 'Deploy hbmon')

const loadedLines = (host: string) =>
  sh(host, `dmesg | grep -c '\\[hbmon\\] loaded' || true`).then((s) => Number(s.trim()))

test('a deploy to both VMs builds once per kernel release, loads and verifies', async () => {
  await lab.up({ vms: vmNames })
  const first = await run('first')
  console.log(`  first deploy (2 VMs, canary then the rest): ${first.seconds.toFixed(1)} s`)
  assert.is(first.code, 0, first.stdout + first.stderr)
  assert.equal(first.report.totals.failed, 0)
  // The canary batch, then the other VM: serial [1, "25%", "100%"].
  assert.equal(deployPlay(first.report).batches, [['debian12'], ['debian13']])
  const builds = vmNames.map((name) => task(first.report, name, 'Build hbmon (once per kernel release)'))
  const kernels = new Set(builds.map((b) => b.data.kernel))
  assert.is(kernels.size, 2, 'two kernel releases')
  // Built once per release, each on a host running it.
  for (const [i, name] of vmNames.entries()) {
    assert.is(builds[i].data.build, 'built', `${name}: ${builds[i].msg}`)
    assert.is(builds[i].data.built_on, name)
    console.log(`  ${name}: ${builds[i].msg.split('\n')[0]}`)
  }
  for (const name of vmNames) {
    assert.is(task(first.report, name, 'Load hbmon').status, 'changed')
    assert.is(task(first.report, name, 'Verify hbmon').status, 'ok', task(first.report, name, 'Verify hbmon').msg)
    assert.is(task(first.report, name, 'Record the release').status, 'changed')
  }
  await both(async (name) => {
    const release = (await sh(name, 'uname -r')).trim()
    const out = await sh(
      name,
      `modinfo -F vermagic hbmon; modinfo -n hbmon; cat /sys/module/hbmon/srcversion; modinfo -F srcversion hbmon; cat /var/lib/hbmon/current`,
    )
    const [vermagic = '', file, loaded, onDisk, current] = out.trim().split('\n')
    assert.ok(vermagic.startsWith(`${release} `), vermagic)
    assert.is(file, `/lib/modules/${release}/updates/hbmon.ko`)
    assert.is(loaded, onDisk)
    assert.is(current, task(first.report, name, 'Record the release').data.release)
    // The device group exists and owns /dev/hbmon (udev rule), 0660.
    assert.is((await sh(name, 'stat -c "%a %U %G" /dev/hbmon')).trim(), '660 root hbmon')
    assert.match(await sh(name, 'cat /etc/modprobe.d/hbmon-units.conf'), /^options hbmon helper_map=$/m)
  })
})

test("the module's lines are in /var/log/hbmon.log (0600), not in syslog or kern.log", async () => {
  await both(async (name) => {
    assert.match(await sh(name, 'stat -c %a /var/log/hbmon.log'), /^600$/m)
    assert.match(await sh(name, 'cat /var/log/hbmon.log'), /\[hbmon\] loaded/)
    const elsewhere = await sh(
      name,
      `cat /var/log/syslog /var/log/kern.log /var/log/messages 2>/dev/null | grep -c '\\[hbmon\\] loaded' || true`,
    )
    assert.is(elsewhere.trim(), '0', `${name}: hbmon lines outside hbmon.log`)
  })
})

test('logrotate -f rotates the log and new lines go to the new file', async () => {
  await both(async (name) => {
    await sh(name, 'hbctl -s 111111 >/dev/null && sleep 2 && logrotate -f /etc/logrotate.d/hbmon')
    assert.match(await sh(name, 'cat /var/log/hbmon.log.1'), /value=111111 /)
    const value = String(200000 + Math.floor(Math.random() * 100000))
    await sh(
      name,
      `hbctl -s ${value} >/dev/null; for i in $(seq 100); do grep -q "value=${value} " /var/log/hbmon.log && break; sleep 0.1; done`,
    )
    assert.match(await sh(name, 'cat /var/log/hbmon.log'), new RegExp(`value=${value} `))
    assert.not.match(await sh(name, 'cat /var/log/hbmon.log.1'), new RegExp(`value=${value} `))
    assert.match(await sh(name, 'stat -c %a /var/log/hbmon.log'), /^600$/m)
  })
})

test('a second deploy reports 0 changed and does not reload the module', async () => {
  const before = await Promise.all(vmNames.map(loadedLines))
  const second = await run('second')
  console.log(`  no-change deploy (2 VMs): ${second.seconds.toFixed(1)} s`)
  assert.is(second.code, 0, second.stdout + second.stderr)
  assert.is(second.report.totals.changed, 0, second.stdout)
  for (const name of vmNames) {
    assert.is(task(second.report, name, 'Build hbmon (once per kernel release)').data.build, 'cached')
    assert.ok(statuses(second.report, name).includes('Load hbmon=ok'))
  }
  assert.equal(await Promise.all(vmNames.map(loadedLines)), before, 'no new "[hbmon] loaded" line')
})

test('a changed module source is rolled out canary first, reloaded and verified', async () => {
  for (const name of vmNames) firstRelease[name] = { release: await current(name), srcversion: await srcversion(name) }
  const source = variant('src-v2', (s) =>
    s.replace('pr_info("loaded version %s api', 'pr_info("loaded (v2) version %s api'),
  )
  const v2 = await run('v2', '-e', `hbmon_source_dir=${source}`)
  console.log(`  changed-source deploy (2 VMs): ${v2.seconds.toFixed(1)} s`)
  assert.is(v2.code, 0, v2.stdout + v2.stderr)
  assert.equal(deployPlay(v2.report).batches, [['debian12'], ['debian13']])
  for (const name of vmNames) {
    const load = task(v2.report, name, 'Load hbmon')
    assert.is(load.status, 'changed')
    assert.match(load.msg, new RegExp(`^reloaded ${firstRelease[name]!.srcversion} → `))
    assert.is(task(v2.report, name, 'Verify hbmon').status, 'ok')
    const now = { release: await current(name), srcversion: await srcversion(name) }
    assert.is.not(now.srcversion, firstRelease[name]!.srcversion)
    assert.is(now.srcversion, task(v2.report, name, 'Build hbmon (once per kernel release)').data.srcversion)
    assert.is(now.release, task(v2.report, name, 'Record the release').data.release)
    v2Release[name] = now
  }
})

test('a release whose module does not load stops at the canary, which is rolled back and verified; the others are untouched', async () => {
  const source = variant('src-broken', (s) =>
    s.replace(
      'static int __init hbmon_init(void)\n{\n\tint err;\n',
      'static int __init hbmon_init(void)\n{\n\tint err;\n\n\tif (strcmp(HBMON_VERSION, "") != 0)\n\t\treturn -ENODEV;\n',
    ),
  )
  const broken = await run('broken', '-e', `hbmon_source_dir=${source}`)
  console.log(`  broken-release deploy: ${broken.seconds.toFixed(1)} s`)
  assert.is(broken.code, 2, broken.stdout + broken.stderr)
  const load = task(broken.report, 'debian12', 'Load hbmon')
  assert.is(load.status, 'failed')
  assert.match(load.msg, /modprobe hbmon failed/)
  assert.match(
    load.msg,
    new RegExp(`rolled back to release ${v2Release.debian12!.release} \\(\\d+ files restored\\), verified`),
  )
  assert.match(broken.report.stopReason ?? broken.stdout, /max_fail_percentage|failed/)
  assert.is((broken.report.hosts.debian13?.tasks ?? []).length, 0, 'debian13 must not be touched')
  assert.ok(broken.report.notRun.includes('debian13'))
  for (const name of vmNames) {
    assert.is(await srcversion(name), v2Release[name]!.srcversion, `${name}: the v2 module runs`)
    assert.is(await current(name), v2Release[name]!.release)
    // The files on disk are the release's, byte for byte.
    await sh(
      name,
      `cd /var/lib/hbmon/releases/${v2Release[name]!.release} && awk '{print $1"  "$3}' manifest | sha256sum -c --quiet`,
    )
  }
})

test('rollback restores the previous release on every host (checksums and srcversion)', async () => {
  const back = await deploy(['-i', lab.inventoryPath, '--limit', 'vms', 'playbooks/rollback.yml'], json('rollback'))
  console.log(`  rollback (2 VMs): ${back.seconds.toFixed(1)} s`)
  assert.is(back.code, 0, back.stdout + back.stderr)
  for (const name of vmNames) {
    assert.is(await current(name), firstRelease[name]!.release)
    assert.is(await srcversion(name), firstRelease[name]!.srcversion)
    await sh(
      name,
      `cd /var/lib/hbmon/releases/${firstRelease[name]!.release} && awk '{print $1"  "$3}' manifest | sha256sum -c --quiet`,
    )
    await sh(name, 'hbctl selftest')
  }
})

test('light hosts (no module support) in the same inventory fail before anything is written, and stop the rollout', async () => {
  await lab.up({ light: 2 })
  const mixed = await deploy(
    ['-i', lab.inventoryPath, '-e', `hbmon_artifact_cache=${cache}`, 'playbooks/deploy.yml'],
    json('mixed'),
  )
  assert.is(mixed.code, 2, mixed.stdout + mixed.stderr)
  assert.equal(deployPlay(mixed.report).batches, [['debian12'], ['debian13'], ['light01', 'light02']])
  for (const name of vmNames) assert.is(mixed.report.hosts[name].stats.failed, 0)
  for (const name of ['light01', 'light02']) {
    assert.equal(statuses(mixed.report, name), ['Gathering Facts=ok', 'hbmon facts=failed'])
    assert.match(task(mixed.report, name, 'hbmon facts').msg, /has no loadable module support/)
    assert.is(
      (await lab.ssh(name, 'test -e /etc/modprobe.d/hbmon.conf || test -e /usr/lib/hbmon')).code,
      1,
      `${name}: nothing written`,
    )
  }
  assert.match(mixed.stdout, /STOPPED: .*max_fail_percentage 0%/)
})

test('the lab goes down', async () => {
  await lab.down()
  assert.equal(lab.status().length, 0)
})

// Runs even when a test failed, so no VM outlives the file.
test.after(() => lab.down())

test.run()
