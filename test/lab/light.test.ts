// Light hosts: 20 real sshd instances, each in its own namespaces and overlay, reached with host keys
// checked; the fault controls; and a `down` that leaves nothing behind.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { $ } from 'zx'
import { Lab, lightName } from '../../lab/lab.ts'
import { alive } from '../../lab/procs.ts'

const dir = mkdtempSync(join(tmpdir(), 'hbmon-lab-light-'))
const lab = new Lab({ dir, net: '127.0.9' })
const names = Array.from({ length: 20 }, (_, i) => lightName(i + 1))

test('up starts 20 light hosts and writes an inventory with them', async () => {
  const started = Date.now()
  await lab.up({ light: 20 })
  console.log(`  20 light hosts up in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  assert.equal(
    lab.status().map((row) => row.state),
    names.map(() => 'running'),
  )
  const inventory = readFileSync(lab.inventoryPath, 'utf8')
  for (const [i, name] of names.entries())
    assert.ok(inventory.includes(`${name}:\n          ansible_host: 127.0.9.${i + 2}`), name)
})

test('each host answers with its own hostname and its own /etc', async () => {
  const results = await Promise.all(
    names.map((name) =>
      lab.ssh(name, `hostname; cat /etc/hostname; echo ${name} > /etc/hbmon-lab-mark; cat /etc/hbmon-lab-mark`),
    ),
  )
  for (const [i, name] of names.entries()) {
    assert.is(results[i]!.code, 0, results[i]!.stderr)
    assert.is(results[i]!.stdout, `${name}\n${name}\n${name}\n`)
  }
  // What one host wrote into its /etc is neither on the machine nor on another host.
  assert.not.ok(existsSync('/etc/hbmon-lab-mark'))
  const other = await lab.ssh('light02', 'cat /etc/hbmon-lab-mark')
  assert.is(other.stdout, 'light02\n')
})

test('each host sees only its own processes', async () => {
  const result = await lab.ssh('light05', 'ps -e -o comm=')
  const processes = result.stdout.trim().split('\n')
  assert.ok(processes.length < 8, processes.join(','))
  assert.ok(processes.includes('sshd'))
})

test('an unknown host key is refused', async () => {
  const emptyKnownHosts = join(dir, 'empty_known_hosts')
  writeFileSync(emptyKnownHosts, '')
  const args = (await lab.sshArgs('light01')).map((arg) => arg.replace(lab.knownHostsPath, emptyKnownHosts))
  const result = await $({ nothrow: true, quiet: true })`ssh ${args} true`
  assert.is.not(result.exitCode, 0)
  assert.match(result.stderr, /Host key verification failed/)
})

test('up is idempotent: running hosts are left alone', async () => {
  const before = lab.hosts.map((host) => host.pid)
  await lab.up({ light: 20 })
  assert.equal(
    lab.hosts.map((host) => host.pid),
    before,
  )
})

test('cut drops SSH packets until restore', async () => {
  await lab.cut('light03')
  try {
    const cut = await lab.ssh('light03', 'true', { connectTimeout: 3 })
    assert.is(cut.code, 255)
    assert.match(cut.stderr, /timed out/)
    assert.is((await lab.ssh('light04', 'true')).code, 0)
  } finally {
    await lab.restore('light03')
  }
  assert.is((await lab.ssh('light03', 'hostname')).stdout, 'light03\n')
})

test('pause freezes a host until resume', async () => {
  await lab.pause('light06')
  try {
    assert.is(lab.status().find((row) => row.name === 'light06')!.state, 'paused')
    const paused = await lab.ssh('light06', 'true', { connectTimeout: 3 })
    assert.is(paused.code, 255)
  } finally {
    await lab.resume('light06')
  }
  assert.is(lab.status().find((row) => row.name === 'light06')!.state, 'running')
  assert.is((await lab.ssh('light06', 'hostname')).stdout, 'light06\n')
})

test('kill ends a host at once, and up brings it back with its own files', async () => {
  await lab.kill('light07')
  assert.is(lab.status().find((row) => row.name === 'light07')!.state, 'stopped')
  const refused = await lab.ssh('light07', 'true', { connectTimeout: 3 })
  assert.is(refused.code, 255)
  assert.match(refused.stderr, /refused/)
  await lab.up({ light: 20 })
  assert.is((await lab.ssh('light07', 'cat /etc/hbmon-lab-mark')).stdout, 'light07\n')
})

test('down leaves no process, mount, nft table or file behind', async () => {
  await lab.cut('light01')
  const pids = lab.hosts.flatMap((host) => [host.pid, ...lab.processes(host.name)])
  assert.ok(pids.length >= 40)
  await lab.down()
  assert.equal(pids.filter(alive), [])
  assert.not.ok(readFileSync('/proc/self/mountinfo', 'utf8').includes(dir))
  assert.not.ok((await $({ quiet: true })`nft list tables`).stdout.includes('hbmon_lab'))
  assert.not.ok(existsSync(dir))
})

// Runs even when a test failed, so no VM or sshd outlives the file; the last test checks `down` itself.
test.after(() => lab.down())

test.run()
