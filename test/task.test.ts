// What a task sees: host.$ quotes every interpolated value for POSIX sh and throws on non-zero unless nothrow;
// the registry refuses malformed task modules.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { Session } from '../src/ssh.ts'
import { makeTarget, RemoteError, Registry } from '../src/task.ts'
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

test.run()
