// Preloaded into every test file by the runner (test/run.ts): records which test of the default uvu suite is
// running, so that a file stopped at its time limit names the test that overran.
import { writeFileSync } from 'node:fs'
import { test } from 'uvu'

const path = process.env.HBMON_TEST_PROGRESS
if (path) {
  test.before.each((context: { __test__?: string }) => {
    writeFileSync(path, JSON.stringify({ test: context.__test__ ?? '?', started: Date.now() }))
  })
}
