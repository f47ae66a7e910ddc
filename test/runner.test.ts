// The runner's own contract: hook failures and crashes count as failures, never as passes.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))

function runFixture(source: string): string {
  const dir = mkdtempSync(join(root, 'test', '.fixture-'))
  try {
    writeFileSync(join(dir, 'fixture.test.ts'), source)
    const result = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'test/run.ts'), join(dir, 'fixture.test.ts')], {
      cwd: root,
      encoding: 'utf8',
    })
    return result.stdout.trim().split('\n').at(-1) ?? ''
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

test('a passing file counts its tests', () => {
  assert.is(runFixture(`import { test } from 'uvu'\ntest('a', () => {})\ntest('b', () => {})\ntest.run()\n`), '2 passed, 0 failed')
})

test('a failing assertion counts as failed', () => {
  assert.is(runFixture(`import { test } from 'uvu'\ntest('a', () => { throw new Error('x') })\ntest('b', () => {})\ntest.run()\n`), '1 passed, 1 failed')
})

test('an error in a before hook fails the tests it skipped', () => {
  assert.is(
    runFixture(`import { test } from 'uvu'\ntest.before(() => { throw new Error('setup') })\ntest('a', () => {})\ntest.run()\n`),
    '0 passed, 1 failed',
  )
})

test('a skipped test is not a passed one', () => {
  assert.is(runFixture(`import { test } from 'uvu'\ntest('a', () => {})\ntest.skip('b', () => {})\ntest.run()\n`), '1 passed, 1 failed')
})

test('a file that crashes before running counts as a failure', () => {
  assert.is(runFixture(`throw new Error('boom')\n`), '0 passed, 1 failed')
})

test.run()
