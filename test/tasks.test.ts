// Tasks decide from facts, without a host: a scripted Target answers each fact (values taken from the
// recorded fixtures where they matter) and records the commands that applying would run. What a task returns
// is checked before anything is applied — which is all --check ever does.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import type { RemoteFile } from '../facts/files.ts'
import { HbmonHost, type ModuleState } from '../facts/hbmon.ts'
import type { Fact } from '../src/fact.ts'
import type { Kernels } from '../facts/system.ts'
import { settle, type Target, type Task, type TaskContext, type TaskResult } from '../src/task.ts'
import copy from '../tasks/copy.ts'
import file from '../tasks/file.ts'
import hbmonLoad from '../tasks/hbmon_load.ts'
import hbmonUninstall from '../tasks/hbmon_uninstall.ts'
import hbmonRelease from '../tasks/hbmon_release.ts'
import command from '../tasks/command.ts'
import hbmonStatus from '../tasks/hbmon_status.ts'
import { kernelChoice, targetKernels } from '../tasks/_hbmon.ts'
import apt from '../tasks/apt.ts'
import systemd from '../tasks/systemd.ts'
import type { AptPackage } from '../facts/packages.ts'

const recorded = (fact: string, kase: string, host: string) =>
  JSON.parse(readFileSync(new URL(`facts/fixtures/${fact}/${kase}.${host}.json`, import.meta.url), 'utf8')) as {
    stdout: string
  }
const debian12 = HbmonHost.parse(recorded('hbmon_host', 'default', 'debian12').stdout, 0, [])
const oneKernel: Kernels = {
  running: debian12.kernel,
  next: '',
  next_from: 'unknown: no GRUB and no /vmlinuz link',
  kernels: [{ release: debian12.kernel, image: false, headers: true }],
}

/** A host that answers facts from `answers` (by fact name, given the args) and records every command. */
function scripted(answers: Record<string, (args: string[]) => unknown>, vars: Record<string, unknown> = {}) {
  const commands: string[] = []
  const answer = (fact: Fact<unknown>, args: string[]) => {
    const reply = answers[fact.name]
    if (!reply) throw new Error(`the test has no answer for fact ${fact.name}`)
    return reply(args)
  }
  // host.$`...` records the command; host.$(options) is the same recorder.
  const shell = (first: unknown, ...values: unknown[]): unknown => {
    if (!Array.isArray(first)) return shell
    commands.push(
      first.reduce((line: string, p: string, i) => line + p + (i < values.length ? String(values[i]) : ''), ''),
    )
    return Promise.resolve({ code: 0, stdout: '', stderr: '' })
  }
  const host = {
    name: 'h',
    vars,
    facts: { hbmon: debian12 },
    connection: { host: 'h', port: 22, become: false, becomeUser: 'root' },
    $: shell,
    fact: async (fact: Fact<unknown>, ...args: string[]) => answer(fact, args),
    gather: async (...calls: [Fact<unknown>, ...string[]][]) => calls.map(([f, ...a]) => answer(f, a)),
    put: async (_source: unknown, remote: string) => void commands.push(`put ${remote}`),
    get: async () => {},
    render: (text: string) => text,
  }
  return { host: host as unknown as Target, commands }
}

const ctx: TaskContext = {
  diff: true,
  verbosity: 0,
  baseDir: '/nonexistent',
  shared: new Map(),
  batchHosts: ['h'],
  playHosts: ['h'],
  factsOf: () => undefined,
  log: () => {},
}
const run = (task: Task, host: Target, args: object): Promise<TaskResult> => task.run(host, args, ctx)
const sha = (text: string) => createHash('sha256').update(text).digest('hex')
const fileStat = (f: RemoteFile) => f
const dir: RemoteFile = { exists: true, type: 'directory', mode: 0o755, owner: 'root', group: 'root', uid: 0, gid: 0 }

test('copy: same checksum is no change; other content is one change that writes a temp file and renames it', async () => {
  const same = scripted({
    file_stats: () => [
      fileStat({ exists: true, type: 'file', mode: 0o644, owner: 'root', group: 'root', sha256: sha('hi\n') }),
      dir,
    ],
  })
  const r = await run(copy, same.host, { content: 'hi\n', dest: '/etc/motd' })
  assert.is(r.changes, undefined)
  const other = scripted({
    file_stats: () => [
      fileStat({ exists: true, type: 'file', mode: 0o644, owner: 'root', group: 'root', sha256: sha('old\n') }),
      dir,
    ],
    file_content: () => 'old\n',
  })
  const changed = await run(copy, other.host, { content: 'hi\n', dest: '/etc/motd' })
  assert.equal(
    changed.changes!.map((c) => c.describe),
    ['/etc/motd: content'],
  )
  assert.equal(changed.changes![0]!.diff, { path: '/etc/motd', before: 'old\n', after: 'hi\n' })
  assert.equal(other.commands, [], 'deciding runs no command')
  await settle(changed, true)
  assert.equal(other.commands, [], '--check runs no command')
  await settle(changed, false)
  assert.ok(
    other.commands.some((c) => /^put \/etc\/\.motd\.hbmon-[0-9a-f]+\.tmp$/.test(c)),
    other.commands.join('\n'),
  )
  // The attributes, the rename and the removal of earlier copies' temp files (copies to /etc/motd that died
  // half-way) are one command: one round trip.
  assert.match(
    other.commands.at(-1)!,
    /^sh -c chown root:root -- (\/etc\/\.motd\.hbmon-[0-9a-f]+\.tmp) && chmod 644 -- \1 && mv -f -- \1 \/etc\/motd && for f in \/etc\/\.motd\.hbmon-\*\.tmp; do if \[ -f "\$f" \] && \[ ! -L "\$f" \]; then rm -f -- "\$f"; fi; done$/,
  )
})

test('copy: a missing destination directory is refused before anything is written', async () => {
  const { host } = scripted({ file_stats: () => [{ exists: false }, { exists: false }] })
  try {
    await run(copy, host, { content: 'x', dest: '/nope/x' })
    assert.unreachable()
  } catch (e) {
    assert.match((e as Error).message, 'destination directory /nope does not exist')
  }
})

test('file: absent removes, and says so in the diff; an absent path needs nothing', async () => {
  const present = scripted({ file_stats: () => [{ ...dir }] })
  const r = await run(file, present.host, { path: '/srv/x', state: 'absent' })
  assert.equal(
    r.changes!.map((c) => [c.describe, c.diff]),
    [['/srv/x: removed', { path: '/srv/x', before: 'directory\n', after: 'absent\n' }]],
  )
  const gone = scripted({ file_stats: () => [{ exists: false }] })
  assert.equal(await run(file, gone.host, { path: '/srv/x', state: 'absent' }), { changed: false })
})

const module = (m: Partial<ModuleState>): ModuleState => ({ loaded: '', file: '', refcnt: 0, holders: [], ...m })

test('hbmon_load: same srcversion needs nothing; absent loads; in use without leave fails and rolls the files back', async () => {
  const same = scripted({ module_status: () => module({ loaded: 'A', file: 'A' }) })
  assert.equal(await run(hbmonLoad, same.host, {}), {
    changed: false,
    msg: 'hbmon loaded, same srcversion as its file',
  })
  const absent = scripted({ module_status: () => module({ file: 'B' }) })
  assert.equal(
    (await run(hbmonLoad, absent.host, {})).changes!.map((c) => c.describe),
    ['loaded B'],
  )
  const busy = scripted({
    module_status: () => module({ loaded: 'A', file: 'B', refcnt: 1, holders: [{ pid: 42, comm: 'app', unit: '' }] }),
  })
  const r = await run(hbmonLoad, busy.host, {})
  assert.is(r.failed, true)
  assert.match(r.changes![0]!.describe, /in use by 42 \(app\); not reloading it .*; roll back to the current release/)
  const allowed = scripted(
    {
      module_status: () => module({ loaded: 'A', file: 'B', refcnt: 1, holders: [{ pid: 42, comm: 'app', unit: '' }] }),
    },
    { hbmon_restart_holders: 'yes' },
  )
  assert.equal(
    (await run(hbmonLoad, allowed.host, {})).changes!.map((c) => c.describe),
    ['reloaded A → B (stopped 42 (app))'],
  )
  const typo = scripted({ module_status: () => module({}) }, { hbmon_restart_holders: 'ture' })
  try {
    await run(hbmonLoad, typo.host, {})
    assert.unreachable()
  } catch (e) {
    assert.match((e as Error).message, 'hbmon_restart_holders: expected a boolean')
  }
})

test('hbmon_release: the current release is no change; new files are one change naming the previous', async () => {
  const manifestStats = (sum: string) => (args: string[]) => [
    { exists: true, type: 'file', mode: 0o644, sha256: sum },
    ...args.slice(2).flatMap((_, i) => (i % 2 ? [{ exists: false }] : [])),
  ]
  const current = scripted({
    file_stats: manifestStats('a'.repeat(64)),
    release_history: () => ({ current: '', ids: [] }),
    installed_kernels: () => oneKernel,
  })
  const first = await run(hbmonRelease, current.host, {})
  const id = (first.data as { release: string }).release
  assert.match(first.changes![0]!.describe, new RegExp(`^release ${id} \\(1 files\\) is current$`))
  const again = scripted({
    file_stats: manifestStats('a'.repeat(64)),
    release_history: () => ({ current: id, ids: [id] }),
    installed_kernels: () => oneKernel,
  })
  const same = await run(hbmonRelease, again.host, {})
  assert.is(same.changes, undefined)
  assert.is(same.msg, `release ${id} is current`)
})

test('hbmon_uninstall: nothing installed is no change; a module in use is refused before anything is removed', async () => {
  const clean = scripted({
    hbmon_host: () => debian12,
    release_history: () => ({ current: '', ids: [] }),
    module_status: () => module({}),
    file_stats: (args) => args.flatMap((_, i) => (i % 2 ? [{ exists: false }] : [])),
    installed_kernels: () => oneKernel,
  })
  assert.equal(await run(hbmonUninstall, clean.host, {}), { changed: false, msg: 'hbmon is not installed' })
  const busy = scripted({
    hbmon_host: () => debian12,
    release_history: () => ({ current: '', ids: [] }),
    module_status: () =>
      module({ loaded: 'A', file: 'A', refcnt: 2, holders: [{ pid: 7, comm: 'db', unit: 'db.service' }] }),
    file_stats: (args) => args.flatMap((_, i) => (i % 2 ? [{ exists: true, type: 'file' }] : [])),
    installed_kernels: () => oneKernel,
  })
  const r = await run(hbmonUninstall, busy.host, {})
  assert.is(r.failed, true)
  assert.is(r.changes, undefined)
  assert.match(r.msg!, /in use by 7 \(db, db\.service\)/)
})

test('hbmon_kernels: the running kernel always; installed adds every other, next the next boot; a bad value is refused', () => {
  const kernels: Kernels = {
    running: '6.1.0-56-amd64',
    next: '6.12.9+bpo-amd64',
    next_from: '/vmlinuz',
    kernels: [
      { release: '6.1.0-50-amd64', image: true, headers: false },
      { release: '6.1.0-56-amd64', image: true, headers: true },
      { release: '6.12.9+bpo-amd64', image: true, headers: true },
    ],
  }
  const releases = (choice: 'running' | 'installed' | 'next') => targetKernels(kernels, choice).map((k) => k.release)
  assert.equal(releases('running'), ['6.1.0-56-amd64'])
  assert.equal(releases('installed'), ['6.1.0-56-amd64', '6.1.0-50-amd64', '6.12.9+bpo-amd64'])
  assert.equal(releases('next'), ['6.1.0-56-amd64', '6.12.9+bpo-amd64'])
  assert.equal(targetKernels({ ...kernels, next: '6.1.0-56-amd64' }, 'next').length, 1)
  assert.is(kernelChoice({}), 'installed')
  assert.is(kernelChoice({ hbmon_kernels: 'next' }), 'next')
  assert.throws(
    () => kernelChoice({ hbmon_kernels: 'all' }),
    /hbmon_kernels: expected one of running, installed, next, got "all"/,
  )
})

test('hbmon_status: the next boot and whether hbmon is ready for it; require_next_boot fails a host that is not', async () => {
  const kernels: Kernels = {
    running: debian12.kernel,
    next: '6.1.0-50-amd64',
    next_from: '/vmlinuz',
    kernels: [
      { release: '6.1.0-50-amd64', image: true, headers: true },
      { release: debian12.kernel, image: true, headers: true },
    ],
  }
  const modules = (next: string) => ({
    load_at_boot: true,
    hook: true,
    modules: {
      [debian12.kernel]: {
        srcversion: 'AAA',
        vermagic: debian12.kernel,
        found: `/lib/modules/${debian12.kernel}/updates/hbmon.ko`,
      },
      '6.1.0-50-amd64': {
        srcversion: next,
        vermagic: next ? '6.1.0-50-amd64' : '',
        found: next ? '/lib/modules/6.1.0-50-amd64/updates/hbmon.ko' : '',
      },
    },
  })
  const host = (next: string) =>
    scripted({
      hbmon_host: () => debian12,
      module_status: () => module({ loaded: 'AAA', file: 'AAA' }),
      installed_kernels: () => kernels,
      kernel_modules: () => modules(next),
    }).host
  const ready = await run(hbmonStatus, host('AAA'), { require_next_boot: true })
  assert.is(ready.failed, undefined)
  assert.match(ready.msg!, /next boot 6\.1\.0-50-amd64 \(\/vmlinuz\): hbmon ready/)
  const missing = await run(hbmonStatus, host(''), { require_next_boot: true })
  assert.is(missing.failed, true)
  assert.match(missing.msg!, /next boot 6\.1\.0-50-amd64 \(\/vmlinuz\): NO hbmon: no hbmon module for 6\.1\.0-50-amd64/)
  const statusOnly = await run(hbmonStatus, host(''), {})
  assert.is(statusOnly.failed, undefined, 'status alone reports, it does not fail')
  const old = await run(hbmonStatus, host('BBB'), { require_next_boot: true })
  assert.match(old.msg!, /its srcversion is BBB, the running hbmon's AAA/)
})

test('command: runs only when applied; creates that exists is no change; undecided is skipped under --check', async () => {
  const exists = scripted({ glob_matches: () => true })
  assert.equal(await run(command, exists.host, { cmd: 'make', creates: '/srv/out' }), {
    changed: false,
    msg: 'Did not run: /srv/out exists',
  })
  const plain = scripted({})
  const r = await run(command, plain.host, { cmd: 'touch /tmp/x' })
  assert.equal(await settle(r, true), {
    changed: false,
    skipped: true,
    msg: 'would run: touch /tmp/x (commands do not run under --check)',
  })
  assert.equal(plain.commands, [])
})

const aptPackage = (p: Partial<AptPackage>): AptPackage => ({
  status: '',
  installed: '',
  candidate: '',
  versions: [],
  known: true,
  providers: [],
  auto: false,
  hasFiles: false,
  ...p,
})
const aptState = (packages: Record<string, Partial<AptPackage>>, cacheTime = 1000, now = 2000) => ({
  apt_packages: (args: string[]) => ({
    cacheTime,
    now,
    packages: new Map(args.map((a) => [a, aptPackage(packages[a] ?? { known: false })])),
  }),
})

test('apt: present leaves an older installed version; latest installs the candidate, pinned to its version', async () => {
  const old = { status: 'installed', installed: '1.0-1', candidate: '1.1-1', versions: ['1.1-1', '1.0-1'] }
  const present = scripted(aptState({ hello: old }))
  const kept = await run(apt, present.host, { name: 'hello' })
  assert.is(kept.changes?.length ?? 0, 0)
  const latest = scripted(aptState({ hello: old }))
  const r = await run(apt, latest.host, { name: 'hello', state: 'latest', install_recommends: false })
  assert.equal(
    r.changes!.map((c) => c.describe),
    ['installed hello=1.1-1'],
  )
  await settle(r, false)
  // (the recorder joins an interpolated array with commas)
  assert.match(latest.commands[0]!, /DPkg::Lock::Timeout=60,-y,.*,install,hello=1\.1-1,-o,APT::Install-Recommends=no$/)
  // name=VERSION with a wildcard: the newest matching version; the installed one matching is no change.
  const pinned = await run(apt, scripted(aptState({ hello: old })).host, { name: 'hello=1.0*' })
  assert.is(pinned.changes?.length ?? 0, 0)
})

test('apt: a stale cache with packages named updates quietly (cache_updated, not changed, under --check)', async () => {
  const s = scripted(aptState({ hello: { status: 'installed', installed: '1', candidate: '1', versions: ['1'] } }, 0))
  const r = await run(apt, s.host, { name: 'hello', update_cache: true })
  assert.equal(r.data, { cache_updated: true, cache_update_time: 0 })
  const checked = await settle(r, true)
  assert.is(checked.changed, false)
  const fresh = await run(apt, scripted(aptState({}, 1000, 1500)).host, { update_cache: true, cache_valid_time: 600 })
  assert.equal(
    [fresh.changed, fresh.changes, fresh.data],
    [false, undefined, { cache_updated: false, cache_update_time: 1000 }],
  )
})

test("apt: unknown and virtual names, as the module's package_status", async () => {
  const s = scripted(aptState({ 'mail-transport-agent': { providers: ['postfix', 'exim4'] } }))
  const r = await run(apt, s.host, { name: 'mail-transport-agent' })
  assert.equal(
    r.changes!.map((c) => c.describe),
    ['installed mail-transport-agent'],
  )
  try {
    await run(apt, scripted(aptState({})).host, { name: 'nope' })
    assert.unreachable('an unknown package must fail')
  } catch (e) {
    assert.is((e as Error).message, "No package matching 'nope' is available")
  }
  const none = await run(apt, scripted(aptState({ x: { versions: ['1'] } })).host, { name: 'x=2' })
  assert.equal([none.failed, none.msg], [true, 'no available installation candidate for x=2'])
})

const unit = (active: string, enabled: string, code = enabled === 'enabled' || enabled === 'static' ? 0 : 1) => ({
  systemd_unit: () => ({
    booted: true,
    systemctl: true,
    show: { code: 0, stderr: '', properties: { Id: 'x.service', LoadState: 'loaded', ActiveState: active } },
    isEnabled: { code, out: enabled },
    sysv: false,
    sysvEnabled: false,
  }),
})

test('systemd: decides from ActiveState and is-enabled; registered status is the unit before the task', async () => {
  const same = await run(systemd, scripted(unit('active', 'enabled')).host, {
    name: 'x',
    state: 'started',
    enabled: true,
  })
  assert.equal([same.changes, same.data!.state, same.data!.enabled], [undefined, 'started', true])
  const s = scripted(unit('inactive', 'disabled'))
  const r = await run(systemd, s.host, { name: 'x', state: 'restarted', enabled: true })
  assert.equal([r.data!.state, r.data!.enabled, (r.data!.status as any).ActiveState], ['started', true, 'inactive'])
  const checked = await settle(r, true)
  assert.equal([checked.changed, s.commands], [true, []])
  await settle(r, false)
  assert.equal(s.commands, ['systemctl  enable,x', 'systemctl  start,x'])
  const stopped = await run(systemd, scripted(unit('deactivating', 'enabled')).host, { name: 'x', state: 'stopped' })
  assert.is(stopped.changes!.length, 1)
  const reload = await run(systemd, scripted(unit('active', 'enabled')).host, { name: 'x', daemon_reload: true })
  assert.equal([reload.changes![0]!.quiet, (await settle(reload, true)).changed], [true, false])
})

test('systemd: a host not running systemd fails saying so', async () => {
  const host = scripted({
    systemd_unit: () => ({
      booted: false,
      systemctl: true,
      show: { code: 1, stderr: 'System has not been booted with systemd', properties: {} },
      isEnabled: { code: 0, out: 'enabled' },
      sysv: true,
      sysvEnabled: true,
    }),
  }).host
  const r = await run(systemd, host, { name: 'ssh', state: 'started' })
  assert.equal(
    [r.failed, r.msg],
    [true, 'systemd: this host is not running systemd (no /run/systemd/system); npx deploy manages systemd only'],
  )
})

test.run()
