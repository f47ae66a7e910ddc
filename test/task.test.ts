// What a task sees: host.$ quotes every interpolated value for POSIX sh and throws on non-zero unless nothrow;
// the registry refuses malformed task modules.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { Session } from '../src/ssh.ts'
import { makeTarget, RemoteError, Registry, settle, type Change } from '../src/task.ts'
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
  const r = await host.$({ nothrow: true, input: 'in', timeoutMs: 5 })`cat`
  assert.is(r.code, 3)
  assert.equal(commands[1]!.options, { input: 'in', timeoutMs: 5 })
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

test.run()
