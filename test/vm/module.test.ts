// The hbmon module on real kernels: Debian 12 (6.1) and Debian 13 (6.12) in the lab's VMs.
// One lab for the whole file; every check runs on both VMs, and frames cross the lab segment to the other.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { $ } from 'zx'
import { Lab, vmNames } from '../../lab/lab.ts'
import { buildHbbench, heartbeatBench, tinySize } from '../../bench/heartbeat.ts'

const kernelDir = fileURLToPath(new URL('../../kernel/', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'hbmon-vm-module-'))
const lab = new Lab({ dir, log: (line) => console.log(`  ${line}`) })
const [vmA, vmB] = vmNames as [string, string]
const other = (name: string) => (name === vmA ? vmB : vmA)
const src = '/root/hbmon-src'

async function sh(host: string, command: string, input?: string): Promise<string> {
  const result = await lab.ssh(host, command, { input })
  assert.is(result.code, 0, `${host}: ${command}\nexit ${result.code}\n${result.stderr}${result.stdout}`)
  return result.stdout
}

const both = <T>(fn: (name: string) => Promise<T>) => Promise.all(vmNames.map(fn))
const jsonLines = (text: string) =>
  text
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
// dmesg lines since a marker we wrote to /dev/kmsg, so each test reads only its own.
const mark = (host: string, name: string) => sh(host, `echo "hbmon-test: ${name}" > /dev/kmsg`)
const since = async (host: string, name: string) => (await sh(host, 'dmesg')).split(`hbmon-test: ${name}`).at(-1) ?? ''
const loadModule = (host: string, params = '') =>
  sh(host, `rmmod hbmon 2>/dev/null; insmod ${src}/hbmon.ko iface=eth1 ${params}`)

test('both VMs boot and build the module (W=1, sparse) and tools with no warning', async () => {
  await lab.up({ vms: vmNames })
  const archive = (await $({ quiet: true })`tar -C ${kernelDir} --exclude=*.o --exclude=*.ko -c . | base64 -w0`).stdout
  await both(async (name) => {
    await sh(name, `rm -rf ${src} && mkdir -p ${src} && base64 -d | tar -C ${src} -x`, archive)
    const started = Date.now()
    const out = await sh(
      name,
      `make -C /lib/modules/$(uname -r)/build M=${src} W=1 C=1 modules 2>&1 && make -C ${src} tools USER_CFLAGS='-Wall -Wextra -Werror -O2' 2>&1`,
    )
    console.log(`  ${name}: built in ${((Date.now() - started) / 1000).toFixed(1)} s`)
    assert.not.match(out, /warning:/, `${name}:\n${out}`)
    await sh(name, `install -m 0755 ${src}/hbctl ${src}/hbmon-listen /usr/local/sbin/`)
  })
})

test('insmod / rmmod cycles are clean; modinfo shows version, vermagic and srcversion', async () => {
  await both(async (name) => {
    await mark(name, 'cycles')
    for (let i = 0; i < 3; i++) {
      await loadModule(name)
      assert.match(await sh(name, 'lsmod'), /^hbmon\s/m)
      assert.match(await sh(name, 'test -c /dev/hbmon && stat -c %a /dev/hbmon'), /^600$/m)
      await sh(name, 'rmmod hbmon')
      assert.not.match(await sh(name, 'lsmod'), /^hbmon\s/m)
    }
    const release = (await sh(name, 'uname -r')).trim()
    const info = await sh(name, `modinfo ${src}/hbmon.ko`)
    assert.match(info, /^version:\s+\d+\.\d+\.\d+$/m)
    assert.match(info, new RegExp(`^vermagic:\\s+${release.replace(/[.+]/g, '\\$&')} `, 'm'))
    const srcversion = /^srcversion:\s+([0-9A-F]+)$/m.exec(info)?.[1]
    assert.ok(srcversion, info)
    await loadModule(name)
    assert.is((await sh(name, 'cat /sys/module/hbmon/srcversion')).trim(), srcversion)
    const log = await since(name, 'cycles')
    assert.match(log, /\[hbmon\] loaded/)
    assert.match(log, /\[hbmon\] unloaded/)
    assert.not.match(log, /WARNING|BUG|Oops|general protection|leak/i)
  })
})

test('a client that stops beating is signalled within deadline + 100 ms, logged, and a HANG frame reaches the other VM', async () => {
  await both(async (name) => {
    const listener = lab.ssh(other(name), `hbmon-listen -i eth1 --type hang --count 1 --timeout 60`)
    await new Promise((resolve) => setTimeout(resolve, 3000)) // the listener's socket is bound
    await mark(name, 'hang')
    const lates: number[] = []
    for (let i = 0; i < 5; i++) {
      const out = await lab.ssh(
        name,
        `hbctl demo --timeout 500 --hang-after 1 --signal SIGUSR1 --name hang${i} ${i === 0 ? '--l2' : ''}`,
      )
      const signal = jsonLines(out.stdout).find((e) => e.event === 'signal')
      assert.ok(signal, `${name}: no signal\n${out.stdout}${out.stderr}`)
      lates.push(Number(signal.late_ms))
    }
    console.log(`  ${name}: signal after deadline, ms: ${lates.map((l) => l.toFixed(1)).join(' ')}`)
    for (const late of lates) assert.ok(late >= 0 && late <= 100, `${name}: signal ${late} ms after the deadline`)
    const log = await since(name, 'hang')
    assert.match(log, /\[hbmon\] hang pid=\d+ comm=hbctl name=hang0 since_beat_ms=\d+/)
    const frame = await listener
    assert.is(frame.code, 0, frame.stderr)
    const [event] = jsonLines(frame.stdout)
    assert.is(event?.type, 'HANG')
    assert.is(event?.name, 'hang0')
    assert.is(event?.hostname, name)
  })
})

test('SIGKILL produces a CRASH event; a clean UNREGISTER produces none', async () => {
  await both(async (name) => {
    const listener = lab.ssh(other(name), `hbmon-listen -i eth1 --type crash --count 1 --timeout 60`)
    await new Promise((resolve) => setTimeout(resolve, 3000))
    await mark(name, 'crash')
    await sh(name, 'hbctl demo --timeout 1000 --name clean --l2 --exit-after 1')
    await sh(
      name,
      '(hbctl demo --timeout 1000 --name victim --l2 >/dev/null & echo $! > /tmp/victim.pid; wait) & sleep 1; kill -KILL $(cat /tmp/victim.pid); sleep 1',
    )
    const log = await since(name, 'crash')
    assert.match(log, /\[hbmon\] unregister pid=\d+ comm=hbctl name=clean/)
    assert.not.match(log, /\[hbmon\] crash [^\n]*name=clean/)
    assert.match(log, /\[hbmon\] crash pid=\d+ comm=hbctl name=victim/)
    const frame = await listener
    assert.is(frame.code, 0, frame.stderr)
    assert.is(jsonLines(frame.stdout)[0]?.name, 'victim')
  })
})

test('SEND logs the value with a timestamp and sends a DATA frame; -s asks for the value when it is missing', async () => {
  await both(async (name) => {
    const listener = lab.ssh(other(name), `hbmon-listen -i eth1 --type data --count 1 --timeout 60`)
    await new Promise((resolve) => setTimeout(resolve, 3000))
    await mark(name, 'data')
    assert.match(await sh(name, 'hbctl -s 42'), /sent 42/)
    assert.match(await sh(name, 'hbctl -s', '-7\n'), /Enter value: sent -7/)
    const log = await since(name, 'data')
    assert.match(log, /\[hbmon\] data pid=\d+ comm=hbctl name=- value=42 time=\d+\.\d{6}/)
    assert.match(log, /\[hbmon\] data pid=\d+ comm=hbctl name=- value=-7 /)
    const frame = await listener
    assert.is(frame.code, 0, frame.stderr)
    assert.is(jsonLines(frame.stdout)[0]?.value, 42)
  })
})

test('/proc/hbmon lists each registration and the counters; a hang is logged once, a later beat logs RECOVERED', async () => {
  await both(async (name) => {
    await mark(name, 'recover')
    const demo = lab.ssh(
      name,
      'hbctl demo --timeout 400 --hang-after 1 --hang-for 2 --survive --signal SIGUSR1 --name procdemo --exit-after 5',
    )
    // The demo runs 5 s; its line shows up once SSH has started it.
    const proc = await sh(
      name,
      'for i in $(seq 40); do grep -q procdemo /proc/hbmon && break; sleep 0.1; done; cat /proc/hbmon',
    )
    assert.match(proc, /^hbmon \S+ api=\d+ clients=1 /m)
    assert.match(proc, /^\d+ \d+ hbctl procdemo (ok|hung) 400 /m)
    const out = await demo
    assert.is(out.code, 0, out.stderr)
    const log = await since(name, 'recover')
    assert.is(log.match(/\[hbmon\] hang [^\n]*name=procdemo/g)?.length, 1, log)
    assert.match(log, /\[hbmon\] recovered pid=\d+ comm=hbctl name=procdemo silent_ms=\d+/)
    assert.match(log, /\[hbmon\] unregister pid=\d+ comm=hbctl name=procdemo/)
    assert.match(await sh(name, 'cat /proc/hbmon'), /^hbmon \S+ api=\d+ clients=0 [^\n]*recoveries=[1-9]/m)
  })
})

test('the restart helper runs with the event, pid, name and uid, for a registration root mapped in helper_map', async () => {
  await both(async (name) => {
    await loadModule(name, 'helper_map=helped:0')
    await sh(
      name,
      `mkdir -p /usr/lib/hbmon && printf '#!/bin/sh\\necho "$@" >> /tmp/helper.log\\n' > /usr/lib/hbmon/hbmon-event && chmod 755 /usr/lib/hbmon/hbmon-event && rm -f /tmp/helper.log`,
    )
    const out = await lab.ssh(name, 'hbctl demo --timeout 300 --hang-after 0 --signal SIGTERM --helper --name helped')
    const pid = jsonLines(out.stdout).find((e) => e.event === 'registered')?.pid
    assert.ok(pid, out.stdout)
    await new Promise((resolve) => setTimeout(resolve, 1500))
    const calls = (await sh(name, 'cat /tmp/helper.log')).trim().split('\n')
    assert.ok(calls.includes(`hang ${pid} helped 0`), calls.join('|'))
  })
})

test('bad input as an unprivileged user gets the documented errno and no WARN, BUG or oops', async () => {
  await both(async (name) => {
    await loadModule(name, 'mode=0666')
    await mark(name, 'probe')
    const out = await lab.ssh(name, 'sudo -u lab /usr/local/sbin/hbctl probe')
    const cases = jsonLines(out.stdout).filter((e) => 'case' in e)
    assert.ok(cases.length >= 10, out.stdout)
    const wrong = cases.filter((e) => e.ok !== true)
    assert.equal(wrong, [], `${name}: ${JSON.stringify(wrong)}`)
    assert.is(out.code, 0)
    assert.not.match(await since(name, 'probe'), /WARNING|BUG|Oops|general protection|Call Trace/)
  })
})

test('1000 clients beating at 10 Hz for 30 s: no false hang', async () => {
  await both(async (name) => {
    await loadModule(name)
    const out = await lab.ssh(name, 'hbctl swarm --clients 1000 --hz 10 --seconds 30 --timeout 1000 --threads 10')
    const [summary] = jsonLines(out.stdout)
    console.log(`  ${name}: ${JSON.stringify(summary)}`)
    assert.is(summary?.register_errors, 0)
    assert.ok(Number(summary?.beats) >= 299_000, 'beats')
    // Every client beat within its timeout (else the run proves nothing), and none was reported hung.
    assert.is(summary?.late_clients, 0, `${name}: clients fell behind: ${JSON.stringify(summary)}`)
    assert.is(summary?.hung_clients, 0)
    assert.is(summary?.ok, true, out.stderr)
  })
})

// The heartbeat benchmarks (npm run bench) at a tiny size: they run and measure something sane. Their
// targets belong to the bench, not here; what is checked is what must hold at any speed.
test('hbbench at a tiny size: BEAT, VERSION and sd_notify costs, hang latencies of hbmon and systemd, idle CPU', async () => {
  await both(async (name) => {
    await loadModule(name)
    await buildHbbench(sh, name, src)
    const started = Date.now()
    const r = await heartbeatBench(sh, name, tinySize)
    const { cost, latency, sleepLatency, sdLatency, idle } = r
    console.log(
      `  ${name}: ${((Date.now() - started) / 1000).toFixed(1)} s; beat ${cost.beat_ns} ns, floor ${cost.floor_ns} ns, ` +
        `sd_notify ${cost.sd_notify_ns} ns; hang p99 ${latency.p99_ms} ms, systemd p99 ${sdLatency.p99_ms} ms`,
    )
    for (const k of ['floor_ns', 'beat_ns', 'sd_notify_ns', 'sd_notify_reuse_ns'])
      assert.ok(cost[k]! > 0 && cost[k]! < 10_000_000, `${name}: ${k} ${cost[k]}`)
    // Three syscalls and a datagram against one ioctl.
    assert.ok(cost.sd_notify_ns > cost.beat_ns, JSON.stringify(cost))
    for (const l of [latency, sleepLatency!, sdLatency]) {
      assert.equal([l.received, l.errors], [l.count, 0], JSON.stringify(l))
      // Never before the deadline (that would be a false hang), and not a whole second after it.
      assert.ok(l.min_ms >= 0 && l.max_ms < 1000 && l.min_ms <= l.p50_ms && l.p99_ms <= l.max_ms, JSON.stringify(l))
    }
    assert.is(idle.beat.errors, 0)
    assert.ok(idle.beat.beats >= tinySize.idle.clients * tinySize.idle.hz, JSON.stringify(idle.beat))
    assert.is(idle.none.beats, 0)
    assert.match(await sh(name, 'cat /proc/hbmon'), /^hbmon \S+ api=\d+ clients=0 /m)
  })
})

test('the module unloads cleanly after all of it, and the lab goes down', async () => {
  await both(async (name) => {
    await mark(name, 'final')
    await sh(name, 'rmmod hbmon')
    assert.not.match(await since(name, 'final'), /WARNING|BUG|Oops/)
  })
  await lab.down()
})

// Runs even when a test failed, so no VM or sshd outlives the file; the last test checks `down` itself.
test.after(() => lab.down())

test.run()
