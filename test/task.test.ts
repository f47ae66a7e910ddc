// What a task sees: host.$ quotes every interpolated value for POSIX sh and throws on non-zero unless nothrow;
// the registry refuses malformed task modules; facts read ahead are never served stale.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile } from 'node:child_process'
import type { Fact } from '../src/fact.ts'
import type { ExecOptions, Session } from '../src/ssh.ts'
import { makeTarget, ReadAhead, RemoteError, Registry, settle, type Change } from '../src/task.ts'
import { InputError } from '../src/util.ts'

function fakeSession(code = 0) {
  const commands: { command: string; options: unknown }[] = []
  const session = {
    target: { host: 'h', port: 22, become: false, becomeUser: 'root' },
    exec: async (command: string, options: unknown) => (
      commands.push({ command, options }),
      { stdout: 'out\n', stderr: 'err\n', code }
    ),
  } as unknown as Session
  return { session, commands }
}

test('host.$ quotes each value (arrays word by word) for POSIX sh', async () => {
  const { session, commands } = fakeSession()
  const host = makeTarget('h', { v: 1 }, {}, session)
  const evil = `x'; rm -rf / #`
  await host.$`ls ${'a b'} ${['c', "d'e", '$HOME']} ${evil} ${42}`
  assert.is(commands[0]!.command, `ls 'a b' c 'd'\\''e' '$HOME' 'x'\\''; rm -rf / #' 42`)
  assert.throws(() => host.$`echo ${undefined}`, /cannot interpolate undefined/)
})

test('host.$ throws RemoteError on non-zero; nothrow and options pass through', async () => {
  const { session, commands } = fakeSession(3)
  const host = makeTarget('h', {}, {}, session)
  try {
    await host.$`false`
    assert.unreachable()
  } catch (e) {
    assert.instance(e, RemoteError)
    assert.is((e as RemoteError).result.code, 3)
    assert.match((e as Error).message, /`false` exited with 3: err/)
  }
  try {
    await host.$`sh -c ${'set -e\nmkdir /var/lib/x'}`
    assert.unreachable()
  } catch (e) {
    // A script is named by its first line: the recap shows why it failed, not the script.
    assert.is((e as Error).message, "`sh -c 'set -e …` exited with 3: err")
    assert.is((e as RemoteError).command, "sh -c 'set -e\nmkdir /var/lib/x'")
  }
  const r = await host.$({ nothrow: true, input: 'in', timeoutMs: 5 })`cat`
  assert.is(r.code, 3)
  assert.equal(commands[2]!.options, { input: 'in', timeoutMs: 5 })
  assert.is(host.render('{{ v | default(2) }}'), '2')
})

test('the registry refuses malformed or duplicate task modules', () => {
  const registry = new Registry()
  const run = async () => ({ changed: false })
  registry.add({ name: 'ok', schema: { type: 'object' }, run })
  assert.throws(
    () => registry.add({ name: 'ok', schema: { type: 'object' }, run }),
    (e: Error) => e instanceof InputError && /defined twice/.test(e.message),
  )
  assert.throws(() => registry.add({ name: 'Bad-Name', schema: {}, run }), /bad task name/)
  assert.throws(() => registry.add({ name: 'x', schema: { type: 'nonsense' }, run }), /schema of task "x" is invalid/)
  assert.throws(() => registry.add(undefined), /must default-export/)
  assert.equal(registry.names(), ['ok'])
})

// settle: what the engine does with a task's changes. Under --check nothing is applied, whatever the task did.
function changes(log: string[], ...specs: (Partial<Change> & { name: string; outcome?: unknown; throws?: string })[]) {
  return specs.map(({ name, outcome, throws, ...rest }) => ({
    describe: name,
    apply: async () => {
      log.push(name)
      if (throws) throw new Error(throws)
      return outcome as undefined
    },
    ...rest,
  }))
}

test('settle under --check applies nothing and reports what would change, with the diffs', async () => {
  const log: string[] = []
  const diff = { path: '/etc/x', before: 'a\n', after: 'b\n' }
  const r = await settle({ changed: false, changes: changes(log, { name: 'one', diff }, { name: 'two' }) }, true)
  assert.equal(log, [])
  assert.equal(r, { changed: true, msg: 'one; two', diff: [diff] })
  const none = await settle({ changed: false, msg: 'as it is' }, true)
  assert.equal(none, { changed: false, msg: 'as it is' })
})

test('settle under --check reports a change it cannot predict as skipped, with its reason', async () => {
  const log: string[] = []
  const r = await settle(
    { changed: false, changes: changes(log, { name: 'run x', unpredictable: 'would run x' }) },
    true,
  )
  assert.equal(log, [])
  assert.equal(r, { changed: false, skipped: true, msg: 'would run x' })
})

test('settle applies in order; outcomes refine the result; a failure stops the rest and names what was done', async () => {
  const log: string[] = []
  const ok = await settle(
    { changed: false, changes: changes(log, { name: 'a' }, { name: 'b', outcome: { data: { rc: 0 } } }) },
    false,
  )
  assert.equal(log, ['a', 'b'])
  assert.equal(ok, { changed: true, msg: 'a; b', data: { rc: 0 } })
  const quiet = await settle(
    { changed: false, changes: changes([], { name: 'v', outcome: { changed: false } }) },
    false,
  )
  assert.is(quiet.changed, false)
  const stopped: string[] = []
  const failed = await settle(
    {
      changed: false,
      changes: changes(stopped, { name: 'a' }, { name: 'b', outcome: { failed: true, msg: 'b broke' } }, { name: 'c' }),
    },
    false,
  )
  assert.equal(stopped, ['a', 'b'])
  assert.equal([failed.failed, failed.changed, failed.msg], [true, true, 'b broke'])
  const thrown: string[] = []
  const threw = await settle(
    { changed: false, changes: changes(thrown, { name: 'a' }, { name: 'b', throws: 'disk full' }, { name: 'c' }) },
    false,
  )
  assert.equal(thrown, ['a', 'b'])
  assert.equal([threw.failed, threw.changed, threw.msg], [true, true, 'disk full (after: a)'])
  const first = await settle({ changed: false, changes: changes([], { name: 'a', throws: 'no' }) }, false)
  assert.equal([first.failed, first.changed, first.msg], [true, false, 'no'])
})

/**
 * A host that is this machine's sh: a file of its own holds the "state" facts read. Every command that is not
 * a read counts as a change, as Session.changes counts them.
 */
function shSession() {
  const state = { changes: 0, reads: 0, value: 'one' }
  const session = {
    target: { host: 'h', port: 22, become: false, becomeUser: 'root' },
    get changes() {
      return state.changes
    },
    exec: (command: string, options: ExecOptions = {}) => {
      if (options.reads) state.reads++
      else state.changes++
      return new Promise((resolve) =>
        execFile('sh', ['-c', command], { env: { VALUE: state.value } }, (_e, stdout, stderr) =>
          resolve({ stdout, stderr, code: 0 }),
        ),
      )
    },
  }
  return { session: session as unknown as Session, state }
}

const Value: Fact<string> = { name: 'value', script: 'echo "$VALUE $1"', parse: (out) => out.trim() }
const planned = { name: 'planned' }
const next = { name: 'next' }

test('facts read ahead: served once, to the same call, on the same session, only to the tasks they were for', async () => {
  const { session, state } = shSession()
  const ahead = new ReadAhead()
  await ahead.fill(
    session,
    [
      [Value, 'a'],
      [Value, 'b'],
    ],
    [planned, next],
  )
  assert.is(state.reads, 1)
  state.value = 'two' // what the host says now is not what was read: only a change on it may do that (below)
  assert.ok(ahead.enter(planned))
  const host = makeTarget('h', {}, {}, session, ahead)
  assert.is(await host.fact(Value, 'a'), 'one a', 'served from the reads gathered ahead')
  assert.is(await host.fact(Value, 'a'), 'two a', 'once: read again')
  assert.is(await host.fact(Value, 'c'), 'two c', 'another call is read')
  assert.is(state.reads, 3)
  // Another session (a become view, a delegated host) is never served.
  const other = shSession()
  other.state.value = 'other'
  assert.is(await makeTarget('h', {}, {}, other.session, ahead).fact(Value, 'b'), 'other b')
  // A task the reads were not gathered for (a rescue, a handler) forgets them.
  await ahead.fill(session, [[Value, 'b']], [planned])
  state.value = 'three'
  assert.not.ok(ahead.enter({ name: 'rescue' }))
  assert.is(await host.fact(Value, 'b'), 'three b')
})

test('facts read ahead: anything that may change the host forgets them, before or while they are read', async () => {
  const { session, state } = shSession()
  const ahead = new ReadAhead()
  await ahead.fill(session, [[Value, 'a']], [planned])
  state.value = 'two'
  const host = makeTarget('h', {}, {}, session, ahead)
  await host.$`true`
  assert.is(await host.fact(Value, 'a'), 'two a', 'a command ran since: read again')
  await ahead.fill(session, [[Value, 'a']], [planned])
  state.changes++ // another view of the connection (become), or a connection to the same address
  assert.not.ok(ahead.enter(planned))
  // A change that starts while the reads run: nothing is kept.
  const racing = { ...shSession(), ahead: new ReadAhead() }
  const filling = racing.ahead.fill(racing.session, [[Value, 'a']], [planned])
  racing.state.changes++
  await filling
  assert.not.ok(racing.ahead.enter(planned))
})

test.run()
