// The runner's own contract: hook failures and crashes count as failures, never as passes; a file that
// leaves a process, mount, nft table or temporary file behind, or overruns its time limit, fails and is
// cleaned up after; an interrupted run leaves nothing behind.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { alive, sleep } from '../lab/procs.ts'
import { tempDir } from './tmp.ts'

const root = fileURLToPath(new URL('..', import.meta.url))
const runner = join(root, 'test/run.ts')

function withFixture<T>(source: string, fn: (file: string) => T): T {
  const dir = mkdtempSync(join(root, 'test', '.fixture-'))
  const cleanup = () => rmSync(dir, { recursive: true, force: true })
  try {
    writeFileSync(join(dir, 'fixture.test.ts'), source)
    const result = fn(join(dir, 'fixture.test.ts'))
    if (result instanceof Promise) return result.finally(cleanup) as T
    cleanup()
    return result
  } catch (err) {
    cleanup()
    throw err
  }
}

function runFixtureFull(source: string, env: NodeJS.ProcessEnv = {}): { last: string; stdout: string } {
  return withFixture(source, (file) => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', runner, file], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, ...env },
    })
    return { last: result.stdout.trim().split('\n').at(-1) ?? '', stdout: result.stdout }
  })
}

const runFixture = (source: string) => runFixtureFull(source).last
const mounted = (path: string) => readFileSync('/proc/self/mountinfo', 'utf8').includes(path)
const nftHas = (name: string) => spawnSync('nft', ['list', 'tables'], { encoding: 'utf8' }).stdout.includes(name)

test('a passing file counts its tests', () => {
  assert.is(
    runFixture(`import { test } from 'uvu'\ntest('a', () => {})\ntest('b', () => {})\ntest.run()\n`),
    '2 passed, 0 failed',
  )
})

test('a failing assertion counts as failed', () => {
  assert.is(
    runFixture(
      `import { test } from 'uvu'\ntest('a', () => { throw new Error('x') })\ntest('b', () => {})\ntest.run()\n`,
    ),
    '1 passed, 1 failed',
  )
})

test('an error in a before hook fails the tests it skipped', () => {
  assert.is(
    runFixture(
      `import { test } from 'uvu'\ntest.before(() => { throw new Error('setup') })\ntest('a', () => {})\ntest.run()\n`,
    ),
    '0 passed, 1 failed',
  )
})

test('a skipped test is not a passed one', () => {
  assert.is(
    runFixture(`import { test } from 'uvu'\ntest('a', () => {})\ntest.skip('b', () => {})\ntest.run()\n`),
    '1 passed, 1 failed',
  )
})

test('a file that crashes before running counts as a failure', () => {
  assert.is(runFixture(`throw new Error('boom')\n`), '0 passed, 1 failed')
})

// A file that makes one of each kind of leak and does not clean up.
const leaky = (report: string) => `import { test } from 'uvu'
import { execFileSync, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
test('leaves things behind', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hbmon-leak-'))
  mkdirSync(join(dir, 'mnt'))
  execFileSync('mount', ['-t', 'tmpfs', 'hbmon-leak', join(dir, 'mnt')])
  const child = spawn('sleep', ['600'], { detached: true, stdio: 'ignore' })
  child.unref()
  const table = 'hbmon_lab_leak' + process.pid
  execFileSync('nft', ['-f', '-'], { input: 'table inet ' + table + ' {\\n  comment "lab ' + dir + '"\\n}\\n' })
  writeFileSync(${JSON.stringify(report)}, JSON.stringify({ dir, pid: child.pid, table }))
})
test.run()
`

test('a file that leaves a process, a mount, an nft table and a temp dir fails, naming each, and is cleaned up', () => {
  const report = join(tempDir('hbmon-runner-'), 'report.json')
  const { last, stdout } = runFixtureFull(leaky(report))
  assert.is(last, '1 passed, 1 failed')
  const { dir, pid, table } = JSON.parse(readFileSync(report, 'utf8')) as { dir: string; pid: number; table: string }
  assert.match(stdout, new RegExp(`leaked: processes still running: ${pid} \\(sleep\\)`))
  assert.match(stdout, /leaked: mounts left: .*hbmon-leak-.*\/mnt/)
  assert.match(stdout, new RegExp(`leaked: nft table left: inet ${table}`))
  assert.match(stdout, /leaked: temporary files left in TMPDIR: hbmon-leak-/)
  assert.not.ok(alive(pid))
  assert.not.ok(mounted(dir))
  assert.not.ok(nftHas(table))
  assert.not.ok(existsSync(dir))
})

test('a file over its time limit is stopped, naming the test that overran, and what it started is ended', () => {
  const report = join(tempDir('hbmon-runner-'), 'report.json')
  const source = `import { test } from 'uvu'
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
test('quick', () => {})
test('stuck on a host that never answers', async () => {
  const child = spawn('sleep', ['600'], { detached: true, stdio: 'ignore' })
  child.unref()
  writeFileSync(${JSON.stringify(report)}, String(child.pid))
  await new Promise((resolve) => setTimeout(resolve, 600_000))
})
test.run()
`
  const started = Date.now()
  const { last, stdout } = runFixtureFull(source, { HBMON_TEST_FILE_TIMEOUT: '4' })
  assert.ok(Date.now() - started < 60_000)
  assert.is(last, '0 passed, 1 failed')
  assert.match(stdout, /stopped: over its 4 s limit in test "stuck on a host that never answers" \(running for \d+ s\)/)
  assert.not.ok(alive(Number(readFileSync(report, 'utf8'))))
})

// A real light host (sshd in its own namespaces, an overlay, a tmpfs, an nft cut), then SIGINT to `npm test`.
// With downOnSignal the suite's lab takes itself down; without it (a suite that forgot), the runner's sweep must.
for (const downOnSignal of [true, false]) {
  test(`SIGINT halfway through a suite with a light host leaves nothing behind (suite cleans up: ${downOnSignal})`, async () => {
    const report = join(tempDir('hbmon-runner-'), 'report.json')
    const source = `import { test } from 'uvu'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Lab } from '../../lab/lab.ts'
test('a light host, then a hang', async () => {
  const lab = new Lab({ dir: mkdtempSync(join(tmpdir(), 'hbmon-lab-int-')), net: '127.0.77', downOnSignal: ${downOnSignal} })
  await lab.up({ light: 1 })
  await lab.cut('light01')
  const pids = lab.hosts.flatMap((host) => [host.pid, ...lab.processes(host.name)])
  writeFileSync(${JSON.stringify(report)}, JSON.stringify({ dir: lab.dir, pids }))
  await new Promise((resolve) => setTimeout(resolve, 600_000))
})
test.run()
`
    await withFixture(source, async (file) => {
      const child = spawn(process.execPath, ['--import', 'tsx', runner, file], {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let stdout = ''
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
      for (let i = 0; i < 600 && !existsSync(report); i++) await sleep(100)
      assert.ok(existsSync(report), `the fixture never reported its lab:\n${stdout}`)
      const { dir, pids } = JSON.parse(readFileSync(report, 'utf8')) as { dir: string; pids: number[] }
      assert.ok(pids.length >= 2 && pids.every(alive))
      child.kill('SIGINT')
      const code = await exited
      assert.is(code, 130)
      assert.match(stdout, /interrupted by SIGINT/)
      assert.match(stdout, /stopped: the run was interrupted \(SIGINT\) in test "a light host, then a hang"/)
      if (!downOnSignal) assert.match(stdout, /leaked: /, stdout)
      for (const line of stdout.split('\n').filter((l) => l.includes('leaked: ')))
        console.log(`  runner said: ${line.replace(/^# /, '')}`)
      assert.equal(pids.filter(alive), [])
      assert.not.ok(mounted(dir))
      assert.not.ok(spawnSync('nft', ['list', 'ruleset'], { encoding: 'utf8' }).stdout.includes(dir))
      assert.not.ok(existsSync(dir))
    })
  })
}

test.run()
