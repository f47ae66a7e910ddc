// Every fact's parser on output recorded from the lab's hosts (test/facts/fixtures/, written by
// `npm run lab -- record-facts`): Debian 12 and 13 VMs after a deploy, and a light host (this machine's
// Debian 12, no module support). No host is needed here. Plus the gather framing and the parsers' refusals.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createHash } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { FileStats, statCall } from '../facts/files.ts'
import { bootProblems, HbmonHost, KernelModules, ModuleStatus, parseManifest, ReleaseManifest } from '../facts/hbmon.ts'
import { compareReleases, InstalledKernels } from '../facts/system.ts'
import { AptPackages } from '../facts/packages.ts'
import { parseSystemctlShow, ServiceManager, SystemdUnit } from '../facts/services.ts'
import { defineFact, FactError, gather, gatherCommand, parseFacts } from '../src/fact.ts'
import { samples, toJson, type FactFixture } from '../lab/record-facts.ts'
import { shellLine } from '../src/ssh.ts'
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

test('module status: each holder with its systemd service, none for a session (the script prints unit= after holder=)', () => {
  const stdout = 'loaded=AAA\nfile=BBB\nrefcnt=2\nholder=812 hbctl\nunit=812 hbwatch.service\nholder=901 my app\n'
  assert.equal(ModuleStatus.parse(stdout, 0, ['when-reloading']), {
    loaded: 'AAA',
    file: 'BBB',
    refcnt: 2,
    holders: [
      { pid: 812, comm: 'hbctl', unit: 'hbwatch.service' },
      { pid: 901, comm: 'my app', unit: '' },
    ],
  })
})

test('installed kernels: images in /boot and the running one, oldest first; the next boot from GRUB or /vmlinuz', () => {
  const lines = [
    'running=6.1.0-56-amd64',
    'kernel=6.12.9+bpo-amd64 yes no',
    'kernel=6.1.0-56-amd64 yes yes',
    'kernel=6.1.0-9-amd64 no no', // what a removed kernel leaves: not a kernel
    'kernel=6.1.0-50-amd64 yes yes',
  ]
  const link = InstalledKernels.parse([...lines, 'vmlinuz=boot/vmlinuz-6.12.9+bpo-amd64', ''].join('\n'), 0, [])
  assert.equal(
    link.kernels.map((k) => [k.release, k.image, k.headers]),
    [
      ['6.1.0-50-amd64', true, true],
      ['6.1.0-56-amd64', true, true],
      ['6.12.9+bpo-amd64', true, false],
    ],
  )
  assert.equal([link.running, link.next, link.next_from], ['6.1.0-56-amd64', '6.12.9+bpo-amd64', '/vmlinuz'])
  const grub = (def: string, first: string) =>
    InstalledKernels.parse(
      [...lines, `grub_default=${def}`, `grub_first=${first}`, 'vmlinuz=vmlinuz-x'].join('\n'),
      0,
      [],
    )
  assert.equal([grub('0', '6.1.0-50-amd64').next, grub('0', '6.1.0-50-amd64').next_from], ['6.1.0-50-amd64', 'grub'])
  assert.equal(grub('', '6.1.0-50-amd64').next, '6.1.0-50-amd64')
  assert.equal(grub('saved', '6.1.0-50-amd64').next, '')
  assert.match(grub('saved', '6.1.0-50-amd64').next_from, /^unknown: GRUB's default is "saved"/)
  const none = InstalledKernels.parse('running=6.1.0-56-amd64\nvmlinuz=\n', 0, [])
  assert.equal(none.kernels, [{ release: '6.1.0-56-amd64', image: false, headers: false }])
  assert.equal([none.next, none.next_from], ['', 'unknown: no GRUB and no /vmlinuz link'])
  assert.throws(() => InstalledKernels.parse('kernel=6.1 yes\n', 0, []), /not a kernel line|no running kernel/)
  assert.throws(() => InstalledKernels.parse('vmlinuz=\n', 0, []), /no running kernel/)
  assert.equal(['6.12.1', '6.1.0-56-amd64', '6.1.0-9-amd64'].sort(compareReleases), [
    '6.1.0-9-amd64',
    '6.1.0-56-amd64',
    '6.12.1',
  ])
})

test("a kernel's next boot has hbmon when its module is there, built for it, found by modprobe, loaded at boot", () => {
  const files = KernelModules.parse(
    [
      'boot=yes',
      'hook=yes',
      'module=6.1.0-56-amd64 AAA 6.1.0-56-amd64 /lib/modules/6.1.0-56-amd64/updates/hbmon.ko',
      'module=6.1.0-50-amd64 BBB 6.1.0-50-amd64 -',
      'module=6.12.9 - - -',
      '',
    ].join('\n'),
    0,
    [],
  )
  assert.equal([files.load_at_boot, files.hook], [true, true])
  assert.equal(bootProblems(files, '6.1.0-56-amd64', 'AAA'), [])
  assert.equal(bootProblems(files, '6.1.0-56-amd64', ''), [])
  assert.equal(bootProblems(files, '6.1.0-56-amd64', 'CCC'), ["its srcversion is AAA, the running hbmon's CCC"])
  assert.equal(bootProblems(files, '6.1.0-50-amd64', 'BBB'), [
    'modprobe would load nothing under 6.1.0-50-amd64 (depmod not run?)',
  ])
  assert.equal(bootProblems(files, '6.12.9', 'AAA'), ['no hbmon module for 6.12.9'])
  assert.equal(bootProblems({ ...files, load_at_boot: false }, '6.1.0-56-amd64', 'AAA'), [
    'not loaded at boot (no /etc/modules-load.d/hbmon.conf)',
  ])
  assert.throws(() => KernelModules.parse('module=6.1 AAA\n', 0, []), /not a module line/)
})

test('the recorded kernels of the lab hosts: the running one is listed, with headers on the VMs', () => {
  for (const host of ['debian12', 'debian13', 'light01']) {
    const kernels = InstalledKernels.parse(fixture('installed_kernels', 'default', host).stdout, 0, [])
    assert.ok(
      kernels.kernels.some((k) => k.release === kernels.running),
      `${host}: the running kernel is listed`,
    )
    if (host !== 'light01') {
      assert.ok(kernels.kernels.find((k) => k.release === kernels.running)!.headers, `${host}: headers`)
      const files = KernelModules.parse(fixture('kernel_modules', 'every', host).stdout, 0, [])
      assert.ok(files.load_at_boot, `${host}: hbmon loads at boot after a deploy`)
      assert.equal(bootProblems(files, kernels.running, ''), [], `${host}: ready for its own kernel`)
    }
  }
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
  assert.throws(() => FileStats.parse('e\ngarbage\n', 0, ['0', '/x']), /unexpected stat line for \/x/)
  assert.throws(() => FileStats.parse('', 0, ['0', '/x']), /for \/x/)
  assert.throws(() => FileStats.parse('f\nregular file|644|root|root|0|0|1\n', 0, ['1', '/x']), /no sha256 for \/x/)
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

test("every fact's script parses in a gather, with dash and with bash as /bin/sh (it runs in the connection's shell)", async () => {
  const { command } = gatherCommand(samples.map((s) => [s.fact, ...s.args] as const))
  const line = shellLine(command, true)
  for (const shell of [
    ['dash', '-n'],
    ['bash', '--posix', '-n'],
  ]) {
    const r = await $({ nothrow: true, input: line })`${shell}`
    assert.is(r.exitCode, 0, `${shell.join(' ')}: ${r.stderr}`)
  }
  // And the check can fail: a script with a syntax error does not parse.
  const bad = await $({ nothrow: true, input: shellLine('if true; then echo', true) })`dash -n`
  assert.is.not(bad.exitCode, 0)
})

test('FileStats: every call of one gather runs as one stat and one sha256sum, each call given its own paths', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hbmon-stats-'))
  try {
    // Names sha256sum escapes (a backslash, a newline) and one a shell would split.
    const [plain, odd, spaced] = ['a.txt', 'b\\c\nd', 'e f'].map((name) => join(dir, name))
    for (const [file, text] of [
      [plain!, 'a\n'],
      [odd!, 'b'],
      [spaced!, ''],
    ] as const)
      writeFileSync(file, text)
    symlinkSync(plain!, join(dir, 'link'))
    symlinkSync(join(dir, 'nowhere'), join(dir, 'dangling'))
    const sha = (text: string) => createHash('sha256').update(text).digest('hex')
    let runs = 0
    const exec = async (command: string) => {
      runs++
      const r = await $({ nothrow: true })`sh -c ${command}`
      return { code: r.exitCode ?? 255, stdout: r.stdout, stderr: r.stderr }
    }
    const calls = [
      statCall([dir]),
      statCall([plain!, dir], true),
      statCall([odd!, join(dir, 'absent'), plain!], true),
      statCall([join(dir, 'link'), join(dir, 'dangling'), spaced!, plain!]),
    ] as const
    assert.is(gatherCommand(calls).command.split('sha256sum --').length - 1, 1, 'the script runs once')
    const [d, a, b, c] = await gather(exec, ...calls)
    assert.is(runs, 1)
    assert.equal(
      d.map((s) => s.type),
      ['directory'],
    )
    assert.equal(
      a.map((s) => s.sha256),
      [sha('a\n'), undefined],
    )
    assert.equal(
      b.map((s) => [s.exists, s.sha256]),
      [
        [true, sha('b')],
        [false, undefined],
        [true, sha('a\n')],
      ],
    )
    // The same path unsummed in another call: no sum; a link is followed; a dangling one is absent.
    assert.equal(
      c.map((s) => [s.type ?? 'absent', s.size, s.sha256]),
      [
        ['file', 2, undefined],
        ['absent', undefined, undefined],
        ['file', 0, undefined],
        ['file', 2, undefined],
      ],
    )
    // Recording runs each call alone: the output of the fact for those args only.
    const alone = gatherCommand(calls, { merge: false })
    assert.is(alone.command.split('sha256sum --').length - 1, 4)
    const outputs = alone.split((await exec(alone.command)).stdout)
    assert.equal(FileStats.parse(outputs[2]!.stdout, outputs[2]!.code, calls[2].slice(1) as string[]), b)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('gather: an output missing part-way leaves every later call without one, merged or not', () => {
  const echo = defineFact({ name: 'echo', script: 'printf "$1"', parse: (stdout) => stdout })
  const { command, split } = gatherCommand([statCall(['/a']), [echo, 'x'], statCall(['/b'])])
  const mark = command.split('\n')[0]!.match(/--hbmon-fact-[0-9a-f]+--/)![0]
  // Only the first run (FileStats, for the first and third calls) answered.
  const outputs = split(`${mark}\n--\n${mark} 0\n`)
  assert.equal(
    outputs.map((o) => o?.args),
    [['0', '/a', '0', '/b'], undefined, ['0', '/a', '0', '/b']],
  )
  assert.equal(
    parseFacts([statCall(['/a']), statCall(['/b'])], [outputs[0], outputs[2]], { code: 0, stderr: '' }).map((stats) =>
      stats.map((s) => s.exists),
    ),
    [[false], [false]],
  )
  assert.throws(
    () => parseFacts([[echo, 'x']] as const, [outputs[1]], { code: 1, stderr: 'cut' }),
    /fact echo did not run: cut/,
  )
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
