// Kernel upgrades on a real Debian 12 VM (the lab's `kernels` image: bookworm, its kernel kept in /boot). One
// lab, three boots:
//   1. boot the image's kernel K1; deploy; then install a second kernel package K2 from Debian (dpkg -i of the
//      .debs the controller downloads, as deb_packages does): the kernel hook builds hbmon for K2 on the host;
//   2. reboot into K2: hbmon is loaded at boot, verified, its lines routed to /var/log/hbmon.log — no deploy;
//      preflight fails while K1 (the next boot) lacks its module; a deploy of new sources (hbmon_kernels:
//      installed) builds for both kernels and installs both;
//   3. reboot into K1: the new module is loaded at boot there, verified, routed — no deploy.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { cpSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { $ } from 'zx'
import { Lab } from '../../lab/lab.ts'
import { deploy } from '../fleet/_fleet.ts'
import { tempDir } from '../tmp.ts'

const vm = 'kernels'
const dir = tempDir('hbmon-vm-kernels-')
const lab = new Lab({ dir: join(dir, 'lab'), net: '127.0.140', log: (line) => console.log(`  ${line}`) })
const cache = join(dir, 'artifacts') // a fresh artifact cache: the deploys build
const json = (name: string) => join(dir, `${name}.json`)
const playbook = (name: string, ...args: string[]) =>
  deploy(['-i', lab.inventoryPath, '--limit', vm, '-e', `hbmon_artifact_cache=${cache}`, ...args, name], json(name))

async function sh(command: string): Promise<string> {
  const result = await lab.ssh(vm, command)
  assert.is(result.code, 0, `${command}\nexit ${result.code}\n${result.stderr}${result.stdout}`)
  return result.stdout
}
const task = (report: any, name: string) => report.hosts[vm].tasks.find((t: any) => t.task === name)
const build = (report: any) => task(report, 'Build hbmon (once per kernel release)')
const routedLoads = () => sh(`grep -c '\\[hbmon\\] loaded' /var/log/hbmon.log || true`).then((s) => Number(s.trim()))

const kernels = { k1: '', k2: '' }
let v1 = '' // srcversion of the first deploy's module
let loadsBefore = 0

/**
 * After a boot into `release`: hbmon was loaded at boot (systemd-modules-load), from that release's updates/,
 * of `srcversion`; /dev/hbmon works (hbctl selftest); the boot's "[hbmon] loaded" line and a value sent now are
 * in /var/log/hbmon.log and not in syslog or kern.log.
 */
async function bootedWithHbmon(release: string, srcversion: string): Promise<void> {
  assert.is((await sh('uname -r')).trim(), release)
  const [vermagic = '', file, loaded, onDisk] = (
    await sh(
      'modinfo -F vermagic hbmon; modinfo -n hbmon; cat /sys/module/hbmon/srcversion; modinfo -F srcversion hbmon',
    )
  )
    .trim()
    .split('\n')
  assert.ok(vermagic.startsWith(`${release} `), vermagic)
  assert.is(file, `/lib/modules/${release}/updates/hbmon.ko`)
  assert.is(loaded, srcversion, 'the loaded module is the one deployed (or built by the hook) for this kernel')
  assert.is(onDisk, srcversion)
  assert.match(await sh('systemctl show -p ActiveState systemd-modules-load.service'), /ActiveState=active/)
  await sh('hbctl selftest')
  const loads = await routedLoads()
  assert.ok(
    loads > loadsBefore,
    `a new "[hbmon] loaded" line in /var/log/hbmon.log (${loads} after, ${loadsBefore} before)`,
  )
  loadsBefore = loads
  const value = String(300000 + Math.floor(Math.random() * 100000))
  await sh(
    `hbctl -s ${value} >/dev/null; for i in $(seq 100); do grep -q "value=${value} " /var/log/hbmon.log && exit 0; sleep 0.1; done; exit 1`,
  )
  const elsewhere = await sh(
    `cat /var/log/syslog /var/log/kern.log /var/log/messages 2>/dev/null | grep -c '\\[hbmon\\] ' || true`,
  )
  assert.is(elsewhere.trim(), '0', 'hbmon lines outside /var/log/hbmon.log')
}

/** A Debian 12 kernel release on the controller's mirror other than `running` (linux-image-amd64's versions). */
async function otherKernel(running: string): Promise<string> {
  const show = await $({ quiet: true })`apt-cache show linux-image-amd64`
  const releases = [...show.stdout.matchAll(/^Depends: linux-image-(\S+) /gm)].map((m) => m[1]!)
  const other = releases.find((r) => r !== running && r.endsWith('-amd64'))
  assert.ok(other, `the mirror offers no kernel besides ${running} (linux-image-amd64: ${releases.join(', ')})`)
  return other!
}

test('a deploy to a host with one kernel builds for it and installs the kernel hook', async () => {
  await lab.up({ vms: [vm] })
  kernels.k1 = (await sh('uname -r')).trim()
  kernels.k2 = await otherKernel(kernels.k1)
  console.log(`  running ${kernels.k1}; the package installed after the deploy: ${kernels.k2}`)
  const first = await playbook('playbooks/deploy.yml')
  console.log(`  deploy: ${first.seconds.toFixed(1)} s`)
  assert.is(first.code, 0, first.stdout + first.stderr)
  assert.equal(
    build(first.report).data.kernels.map((k: any) => [k.kernel, k.build]),
    [[kernels.k1, 'built']],
  )
  v1 = build(first.report).data.srcversion
  assert.is(task(first.report, 'Verify hbmon').status, 'ok')
  for (const hook of ['postinst.d', 'header_postinst.d', 'postrm.d'])
    assert.match(await sh(`stat -c '%a %U' /etc/kernel/${hook}/hbmon`), /^755 root$/m)
  await sh('test -x /usr/lib/hbmon/kernel-hook && test -f /usr/lib/hbmon/src/hbmon.c')
  loadsBefore = await routedLoads()
})

test('a kernel package installed after the deploy gets hbmon from the kernel hook, built on the host', async () => {
  const k2 = kernels.k2
  const install = join(dir, 'kernel.yml')
  writeFileSync(
    install,
    [
      '- name: A kernel update',
      `  hosts: ${vm}`,
      '  gather_facts: false',
      '  tasks:',
      '    - name: linux-image and its headers',
      `      deb_packages: { packages: [linux-image-${k2}, linux-headers-${k2}, linux-headers-${k2.replace(/-amd64$/, '-common')}] }`,
      '',
    ].join('\n'),
  )
  const started = Date.now()
  const run = await deploy(['-i', lab.inventoryPath, install], json('kernel'))
  console.log(
    `  dpkg -i of ${k2} (image and headers, the hook building hbmon): ${((Date.now() - started) / 1000).toFixed(1)} s`,
  )
  assert.is(run.code, 0, run.stdout + run.stderr)
  const [vermagic = '', srcversion] = (
    await sh(
      `modinfo -F vermagic /lib/modules/${k2}/updates/hbmon.ko; modinfo -F srcversion /lib/modules/${k2}/updates/hbmon.ko`,
    )
  )
    .trim()
    .split('\n')
  assert.ok(vermagic.startsWith(`${k2} `), vermagic)
  assert.is(srcversion, v1, 'the same sources as the running module')
  assert.is((await sh(`modinfo -k ${k2} -n hbmon`)).trim(), `/lib/modules/${k2}/updates/hbmon.ko`, 'depmod ran')
  const log = await sh('cat /var/log/hbmon.log')
  assert.match(
    log,
    new RegExp(`\\[hbmon\\] kernel-hook: kernel ${k2}: built hbmon ${v1} on this host and installed it`),
  )
  // The headers' own hook run finds the module there.
  assert.match(log, new RegExp(`\\[hbmon\\] kernel-hook: kernel ${k2}: hbmon ${v1} is installed already`))
  const status = await playbook('playbooks/status.yml')
  assert.is(status.code, 0, status.stdout + status.stderr)
  const data = task(status.report, 'hbmon status').data
  assert.equal(data.kernels.kernels.map((k: any) => k.release).sort(), [kernels.k1, k2].sort())
  // A fresh kernel package points /vmlinuz at itself (linux-update-symlinks install): the next boot.
  assert.equal([data.next_boot.release, data.next_boot.from, data.next_boot.ready], [k2, '/vmlinuz', true])
  console.log(`  status: ${task(status.report, 'hbmon status').msg.split('\n')[1]?.trim()}`)
})

test('rebooted into the new kernel, hbmon is loaded at boot, verified and routed, without a deploy', async () => {
  const started = Date.now()
  assert.is(await lab.reboot(vm), kernels.k2, 'the reboot follows /vmlinuz, the next boot')
  console.log(`  reboot into ${kernels.k2}: ${((Date.now() - started) / 1000).toFixed(1)} s`)
  await bootedWithHbmon(kernels.k2, v1)
})

test('preflight fails while the next boot lacks hbmon; a deploy builds for both kernels and fixes it', async () => {
  const { k1, k2 } = kernels
  // Debian's own tool points /vmlinuz (the next boot here: no GRUB in the lab) at K1, as its package would.
  await sh(`linux-update-symlinks install ${k1} /boot/vmlinuz-${k1}`)
  await sh(`mv /lib/modules/${k1}/updates/hbmon.ko /root/hbmon.ko.aside && depmod -a ${k1}`)
  const bad = await playbook('playbooks/preflight.yml')
  assert.is(bad.code, 2, bad.stdout + bad.stderr)
  const failed = task(bad.report, 'The next boot has hbmon')
  assert.is(failed.status, 'failed')
  assert.match(failed.msg, new RegExp(`next boot ${k1} \\(/vmlinuz\\): NO hbmon: no hbmon module for ${k1}`))
  await sh('rm /root/hbmon.ko.aside')

  const source = join(dir, 'src-v2')
  cpSync(fileURLToPath(new URL('../../kernel/', import.meta.url)), source, { recursive: true })
  const file = join(source, 'hbmon.c')
  writeFileSync(
    file,
    readFileSync(file, 'utf8').replace('pr_info("loaded version %s api', 'pr_info("loaded (v2) version %s api'),
  )
  const v2 = await playbook('playbooks/deploy.yml', '-e', `hbmon_source_dir=${source}`)
  console.log(`  deploy of new sources to both kernels: ${v2.seconds.toFixed(1)} s`)
  assert.is(v2.code, 0, v2.stdout + v2.stderr)
  const builds = build(v2.report).data.kernels
  assert.equal(
    builds.map((k: any) => [k.kernel, k.build, k.built_on]).sort(),
    [
      [k1, 'built', vm],
      [k2, 'built', vm],
    ].sort(),
  )
  const srcversion = build(v2.report).data.srcversion
  assert.is.not(srcversion, v1)
  assert.equal(task(v2.report, 'Install module and tools').data.modules_changed.sort(), [k1, k2].sort())
  assert.is((await sh(`modinfo -F srcversion /lib/modules/${k1}/updates/hbmon.ko`)).trim(), srcversion)
  const good = await playbook('playbooks/preflight.yml')
  assert.is(good.code, 0, good.stdout + good.stderr)
  assert.match(
    task(good.report, 'The next boot has hbmon').msg,
    new RegExp(`next boot ${k1} \\(/vmlinuz\\): hbmon ready`),
  )
  v1 = srcversion
})

test('rebooted into the other kernel (the next boot), the new module is loaded at boot there, without a deploy', async () => {
  const started = Date.now()
  assert.is(await lab.reboot(vm), kernels.k1, 'the reboot follows /vmlinuz')
  console.log(`  reboot into ${kernels.k1}: ${((Date.now() - started) / 1000).toFixed(1)} s`)
  await bootedWithHbmon(kernels.k1, v1)
})

test('the lab goes down', async () => {
  await lab.down()
  assert.equal(lab.status().length, 0)
})

// Runs even when a test failed, so no VM outlives the file.
test.after(() => lab.down())

test.run()
