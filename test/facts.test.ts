// Every fact's parser on output recorded from the lab's hosts (test/facts/fixtures/, written by
// `npm run lab -- record-facts`): Debian 12 and 13 VMs after a deploy, and a light host (this machine's
// Debian 12, no module support). No host is needed here. Plus the gather framing and the parsers' refusals.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { FileStats } from '../facts/files.ts'
import { HbmonHost, ModuleStatus, parseManifest, ReleaseManifest } from '../facts/hbmon.ts'
import { AptPackages } from '../facts/packages.ts'
import { parseSystemctlShow, ServiceManager, SystemdUnit } from '../facts/services.ts'
import { defineFact, FactError, gather, gatherCommand } from '../src/fact.ts'
import { samples, toJson, type FactFixture } from '../lab/record-facts.ts'
import { $ } from 'zx'

const root = fileURLToPath(new URL('facts/fixtures/', import.meta.url))
const fixtures: FactFixture[] = readdirSync(root).flatMap((dir) =>
  readdirSync(join(root, dir)).map((f) => JSON.parse(readFileSync(join(root, dir, f), 'utf8')) as FactFixture),
)
const byName = new Map(samples.map((s) => [s.fact.name, s.fact]))
const hostsOf = (fact: string) => new Set(fixtures.filter((f) => f.fact === fact).map((f) => f.host))

test('every fact has recorded output from a Debian 12 VM, a Debian 13 VM and a light host', () => {
  for (const name of byName.keys())
    for (const host of ['debian12', 'debian13', 'light01'])
      assert.ok(hostsOf(name).has(host), `no fixture of ${name} from ${host}: run npm run lab -- record-facts`)
})

test('each parser gives, on recorded output, what it gave when it was recorded', () => {
  assert.ok(fixtures.length >= 3 * samples.length, `${fixtures.length} fixtures`)
  for (const f of fixtures) {
    const fact = byName.get(f.fact)
    assert.ok(fact, `fixture of an unknown fact ${f.fact}`)
    let parsed: unknown
    try {
      parsed = toJson(fact!.parse(f.stdout, f.code, f.args))
    } catch (e) {
      parsed = { error: (e as Error).message }
    }
    assert.equal(parsed, f.parsed, `${f.fact} ${f.case} on ${f.host}`)
  }
})

const fixture = (fact: string, kase: string, host: string) =>
  fixtures.find((f) => f.fact === fact && f.case === kase && f.host === host)!

test('the recorded facts say what we know of each host', () => {
  const d12 = HbmonHost.parse(fixture('hbmon_host', 'default', 'debian12').stdout, 0, [])
  const d13 = HbmonHost.parse(fixture('hbmon_host', 'default', 'debian13').stdout, 0, [])
  const light = HbmonHost.parse(fixture('hbmon_host', 'default', 'light01').stdout, 0, [])
  assert.match(d12.kernel, /^6\.1\./)
  assert.match(d13.kernel, /^6\.12\./)
  assert.equal([d12.distribution_version, d13.distribution_version, light.distribution_version], ['12', '13', '12'])
  assert.equal([d12.module_support, d13.module_support, light.module_support], [true, true, false])
  assert.ok(d12.headers && d13.headers, 'the VMs have kbuild headers')
  for (const host of ['debian12', 'debian13']) {
    const state = ModuleStatus.parse(fixture('module_status', 'all', host).stdout, 0, ['all'])
    assert.match(state.loaded, /^[0-9A-F]{23}$/, `${host} has hbmon loaded when recorded`)
    assert.is(state.loaded, state.file)
  }
  const stats = FileStats.parse(
    fixture('file_stats', 'mixed', 'debian13').stdout,
    0,
    fixture('file_stats', 'mixed', 'debian13').args,
  )
  assert.equal(
    stats.map((s) => s.type ?? 'absent'),
    ['file', 'directory', 'absent', 'other', 'file', 'file'],
  )
})

test('gather frames each fact: output with and without a final newline, exit codes, NULs', async () => {
  const echo = defineFact({
    name: 'echo',
    script: 'printf "$1"; exit "$2"',
    parse: (stdout, code) => ({ stdout, code }),
  })
  const exec = async (command: string) => {
    const r = await $({ nothrow: true })`sh -c ${command}`
    return { code: r.exitCode ?? 255, stdout: r.stdout, stderr: r.stderr }
  }
  const results = await gather(
    exec,
    [echo, 'a\\nb\\n', '0'],
    [echo, 'no newline', '3'],
    [echo, '', '0'],
    [echo, 'x\\0y', '1'],
  )
  assert.equal(results, [
    { stdout: 'a\nb\n', code: 0 },
    { stdout: 'no newline', code: 3 },
    { stdout: '', code: 0 },
    { stdout: 'x\0y', code: 1 },
  ])
  const { command } = gatherCommand([[echo, '$(touch /tmp/hbmon-pwned)', '0']])
  assert.not.match(command, /\$\(touch \/tmp\/hbmon-pwned\) /, 'an argument is quoted, never part of the script')
})

test('a parser that does not understand its output fails the fact, naming it', async () => {
  assert.throws(() => FileStats.parse('garbage\n-\n', 0, ['0', '/x']), /unexpected stat line for \/x/)
  assert.throws(() => FileStats.parse('', 0, ['0', '/x']), /for \/x/)
  assert.throws(() => parseManifest('abc 0644 /x\n'), /not a manifest line/)
  assert.throws(() => ReleaseManifest.parse('', 1, ['0123456789ab']), /release 0123456789ab has no manifest/)
  const broken = async () => ({ code: 0, stdout: 'regular file|644\n', stderr: '' })
  try {
    await gather(broken, [FileStats, '0', '/x'])
    assert.unreachable('gather should throw')
  } catch (e) {
    assert.instance(e, FactError)
    assert.match((e as Error).message, /fact file_stats did not run/)
  }
})

test('packages and services as recorded: systemd on the VMs, sshd as PID 1 on a light host, apt and dpkg', () => {
  const parsed = (
    fact: { parse(s: string, c: number, a: string[]): unknown },
    name: string,
    kase: string,
    host: string,
  ) => {
    const f = fixture(name, kase, host)
    return fact.parse(f.stdout, f.code, f.args) as any
  }
  for (const host of ['debian12', 'debian13']) {
    assert.is(parsed(ServiceManager, 'service_manager', 'default', host), 'systemd')
    const ssh = parsed(SystemdUnit, 'systemd_unit', 'ssh', host)
    assert.equal(
      [ssh.booted, ssh.show.properties.LoadState, ssh.show.properties.ActiveState],
      [true, 'loaded', 'active'],
    )
    assert.equal(parsed(SystemdUnit, 'systemd_unit', 'absent', host).show.properties.LoadState, 'not-found')
  }
  assert.is(parsed(ServiceManager, 'service_manager', 'default', 'light01'), 'sshd')
  const light = parsed(SystemdUnit, 'systemd_unit', 'ssh', 'light01')
  assert.equal([light.booted, light.show.code, light.sysv], [false, 1, true])
  const apt = parsed(AptPackages, 'apt_packages', 'mixed', 'light01')
  const sshd = apt.packages.get('openssh-server')
  assert.equal(
    [sshd.status, sshd.installed === sshd.candidate, apt.packages.get('no-such-package').known],
    ['installed', true, false],
  )
  assert.ok(apt.packages.get('mail-transport-agent').providers.includes('postfix'), 'a virtual package has providers')
  assert.ok(
    apt.packages.get('hello').candidate && !apt.packages.get('hello').installed,
    'hello: available, not installed',
  )
})

test('parse_systemctl_show: only Exec* values span lines', () => {
  assert.equal(
    parseSystemctlShow([
      'Id=x.service',
      'ExecStart={ path=/bin/sleep ; argv[]=/bin/sleep',
      '  infinity ; }',
      'Description={ not multi',
      'A=b=c',
    ]),
    {
      Id: 'x.service',
      ExecStart: '{ path=/bin/sleep ; argv[]=/bin/sleep\n  infinity ; }',
      Description: '{ not multi',
      A: 'b=c',
    },
  )
})

test.run()
