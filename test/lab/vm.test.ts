// VM hosts: both Debian kernels boot under QEMU, answer over SSH with their host keys checked, build and
// load a kbuild module against their own headers, and share a layer-2 segment.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { $ } from 'zx'
import { Lab, vmNames } from '../../lab/lab.ts'
import { alive } from '../../lab/procs.ts'

const fixtures = fileURLToPath(new URL('fixtures/', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'hbmon-lab-vm-'))
// Boot snapshots on: the first lab on a machine boots and saves its VMs, later ones resume them (tested below).
const lab = new Lab({ dir, bootSnapshots: true, log: (line) => console.log(`  ${line}`) })
const expectedKernel: Record<string, RegExp> = {
  debian12: /^6\.1\.0-\d+-amd64$/,
  debian13: /^6\.12\.\d+\+deb13-amd64$/,
}

async function sh(host: string, command: string, input?: string): Promise<string> {
  const result = await lab.ssh(host, command, { input })
  assert.is(result.code, 0, `${host}: ${command}\n${result.stderr}${result.stdout}`)
  return result.stdout
}

test('up builds or reuses the images and boots both VMs', async () => {
  const started = Date.now()
  await lab.up({ vms: vmNames })
  console.log(`  both VMs up in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  assert.equal(
    lab.status().map((row) => [row.name, row.state]),
    vmNames.map((name) => [name, 'running']),
  )
})

test('a second lab resumes the boot the first saved (no boot): seconds, the same kernel, the clock set to now', async () => {
  const name = vmNames[0]!
  const second = new Lab({ dir: join(dir, 'second'), bootSnapshots: true, log: (line) => console.log(`  ${line}`) })
  try {
    const started = Date.now()
    await second.up({ vms: [name] })
    const host = second.host(name)
    assert.ok(host.kind === 'vm' && host.resumed, `${name} was resumed from its boot snapshot, not booted`)
    console.log(`  ${name} resumed in ${((Date.now() - started) / 1000).toFixed(1)} s`)
    const [release, seconds] = (await second.ssh(name, 'uname -r; date +%s')).stdout.trim().split('\n')
    assert.match(release!, expectedKernel[name]!)
    const skew = Math.abs(Number(seconds) - Date.now() / 1000)
    assert.ok(skew < 60, `the guest's clock is ${skew.toFixed(0)} s off after the resume`)
    // Its own disk: what the second lab writes is not in the first lab's VM.
    assert.is((await second.ssh(name, 'echo second > /root/which && sync')).code, 0)
    assert.is((await lab.ssh(name, 'cat /root/which 2>/dev/null || echo none')).stdout, 'none\n')
  } finally {
    await second.down()
  }
})

test('uname -r over SSH, host key checked against the lab known_hosts', async () => {
  for (const name of vmNames) {
    const release = (await sh(name, 'uname -r')).trim()
    assert.match(release, expectedKernel[name]!)
    assert.is(release, lab.status().find((row) => row.name === name)!.detail)
  }
  // The same address with another key in known_hosts (a host that was replaced, or a man in the middle): refused.
  const host = lab.host(vmNames[0]!)
  assert.ok(host.kind === 'vm')
  const otherKey = join(dir, 'other_key')
  await $({ quiet: true })`ssh-keygen -q -t ed25519 -N ${''} -f ${otherKey}`
  const wrong = join(dir, 'wrong_known_hosts')
  writeFileSync(wrong, `[127.0.0.1]:${host.sshPort} ${readFileSync(`${otherKey}.pub`, 'utf8')}`)
  const args = (await lab.sshArgs(host.name)).map((arg) => arg.replace(lab.knownHostsPath, wrong))
  const result = await $({ nothrow: true, quiet: true })`ssh ${args} true`
  assert.is(result.exitCode, 255)
  assert.match(result.stderr, /REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/)
})

test('a trivial kbuild module builds, loads and matches the running kernel in each VM', async () => {
  const archive = (await $({ quiet: true })`tar -C ${fixtures} -c labhello | base64 -w0`).stdout
  await Promise.all(
    vmNames.map(async (name) => {
      const started = Date.now()
      await sh(name, 'rm -rf /root/labhello && base64 -d | tar -C /root -x', archive)
      await sh(name, 'make -C /lib/modules/$(uname -r)/build M=/root/labhello modules')
      console.log(`  ${name}: module built in ${((Date.now() - started) / 1000).toFixed(1)} s`)
      await sh(name, 'rmmod labhello 2>/dev/null; insmod /root/labhello/labhello.ko')
      assert.match(await sh(name, 'lsmod'), /^labhello\s+\d+\s+0/m)
      const release = (await sh(name, 'uname -r')).trim()
      const vermagic = (await sh(name, 'modinfo -F vermagic /root/labhello/labhello.ko')).trim()
      assert.ok(vermagic.startsWith(`${release} `), `${name}: vermagic "${vermagic}" vs uname -r "${release}"`)
      assert.match(await sh(name, 'dmesg'), /labhello: loaded/)
      await sh(name, 'rmmod labhello')
      assert.not.match(await sh(name, 'lsmod'), /^labhello/m)
    }),
  )
})

test('an Ethernet frame with ethertype 0x88B5 crosses the lab segment from one VM to the other', async () => {
  const [sender, receiver] = vmNames as [string, string]
  const script = readFileSync(join(fixtures, 'l2frame.py'), 'utf8')
  for (const name of vmNames) await sh(name, 'cat > /root/l2frame.py', script)
  const payload = `hello-from-${sender}-${Date.now()}`
  const receiving = lab.ssh(receiver, 'python3 /root/l2frame.py recv eth1 0x88B5 60')
  // The receiver needs its socket bound before the first frame: keep sending until it has one.
  await sh(sender, `python3 /root/l2frame.py send eth1 0x88B5 ${payload} 40`)
  const received = await receiving
  assert.is(received.code, 0, received.stderr)
  assert.is(received.stdout.trim(), payload)
})

test('fault controls on a VM: pause and cut make SSH time out until resume and restore', async () => {
  const name = vmNames[1]!
  await lab.pause(name)
  try {
    assert.is(lab.status().find((row) => row.name === name)!.state, 'paused')
    assert.is((await lab.ssh(name, 'true', { connectTimeout: 3 })).code, 255)
  } finally {
    await lab.resume(name)
  }
  assert.is(lab.status().find((row) => row.name === name)!.state, 'running')
  assert.is((await lab.ssh(name, 'hostname')).stdout, `${name}\n`)
  await lab.cut(name)
  try {
    const cut = await lab.ssh(name, 'true', { connectTimeout: 3 })
    assert.is(cut.code, 255)
    assert.match(cut.stderr, /timed out/)
  } finally {
    await lab.restore(name)
  }
  assert.is((await lab.ssh(name, 'hostname')).stdout, `${name}\n`)
})

test('a killed VM comes back with `up`, its disk as it was', async () => {
  const name = vmNames[0]!
  await sh(name, 'echo kept > /root/mark && sync')
  await lab.kill(name)
  assert.is(lab.status().find((row) => row.name === name)!.state, 'stopped')
  await lab.up({ vms: vmNames })
  assert.is(await sh(name, 'cat /root/mark'), 'kept\n')
})

test('down ends QEMU and the switch and removes the overlays', async () => {
  const pids = lab.hosts.map((host) => host.pid)
  await lab.down()
  assert.equal(pids.filter(alive), [])
  assert.not.ok(existsSync(dir))
})

// Runs even when a test failed, so no VM or sshd outlives the file; the last test checks `down` itself.
test.after(() => lab.down())

test.run()
