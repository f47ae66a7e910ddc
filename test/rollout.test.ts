// Batches as Ansible computes them (PlaybookExecutor._get_serialized_batches + pct_to_int), and tag selection
// as Taggable.evaluate_tags.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFileSync } from 'node:child_process'
import { computeBatches, overMaxFail, shouldRun } from '../src/rollout.ts'

const hosts = (n: number) => Array.from({ length: n }, (_, i) => `h${i + 1}`)
const sizes = (n: number, serial: (number | string)[]) => computeBatches(hosts(n), serial).map((b) => b.length)

test('no serial, 0 or 0%: one batch of every host', () => {
  assert.equal(sizes(7, []), [7])
  assert.equal(sizes(7, [0]), [7])
  assert.equal(sizes(7, ['0%']), [1, 1, 1, 1, 1, 1, 1]) // int(0%) is 0, "or min_value" makes it 1
  assert.equal(computeBatches([], [1]), [])
})

test('an integer serial', () => {
  assert.equal(sizes(7, [1]), [1, 1, 1, 1, 1, 1, 1])
  assert.equal(sizes(7, [3]), [3, 3, 1])
  assert.equal(sizes(20, [5]), [5, 5, 5, 5])
  assert.equal(sizes(3, [10]), [3])
  assert.equal(computeBatches(hosts(5), [2]), [['h1', 'h2'], ['h3', 'h4'], ['h5']])
})

test('percentages: of all the play hosts, rounded down, at least 1', () => {
  assert.equal(sizes(7, ['30%']), [2, 2, 2, 1]) // int(0.3 * 7) = 2
  assert.equal(sizes(7, ['25%']), [1, 1, 1, 1, 1, 1, 1]) // int(1.75) = 1
  assert.equal(sizes(20, ['25%']), [5, 5, 5, 5])
  assert.equal(sizes(20, ['33%']), [6, 6, 6, 2])
  assert.equal(sizes(3, ['10%']), [1, 1, 1])
  assert.equal(sizes(7, ['100%']), [7])
})

test('lists: each value in turn, the last one repeats', () => {
  assert.equal(sizes(20, [1, '25%', '100%']), [1, 5, 14])
  assert.equal(sizes(7, [1, '25%', '100%']), [1, 1, 5])
  assert.equal(sizes(20, [1, 2]), [1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1])
  assert.equal(sizes(20, [1, 5, '50%']), [1, 5, 10, 4])
  assert.equal(sizes(2, [1, '25%', '100%']), [1, 1])
  // every host once, in order
  assert.equal(computeBatches(hosts(20), [1, '25%', '100%']).flat(), hosts(20))
})

test('tags as Ansible: all by default, never, always, tagged, untagged, skip', () => {
  assert.is(shouldRun([]), true)
  assert.is(shouldRun(['never']), false)
  assert.is(shouldRun(['never', 'debug'], ['debug']), true)
  assert.is(shouldRun(['config'], ['deploy']), false)
  assert.is(shouldRun(['config', 'deploy'], ['deploy']), true)
  assert.is(shouldRun(['always'], ['deploy']), true)
  assert.is(shouldRun([], ['untagged']), true)
  assert.is(shouldRun(['x'], ['untagged']), false)
  assert.is(shouldRun(['x'], ['tagged']), true)
  assert.is(shouldRun([], ['tagged']), false)
  assert.is(shouldRun(['x'], undefined, ['x']), false)
  assert.is(shouldRun(['always'], undefined, ['all']), true) // skipping all still runs always
  assert.is(shouldRun(['always'], undefined, ['all', 'always']), false)
  assert.is(shouldRun(['always'], undefined, ['x']), true)
  assert.is(shouldRun([], undefined, ['tagged']), true)
})

test('max_fail_percentage: the same verdict as Python for every (failed, batch, percent) up to 200 hosts', () => {
  // Ansible's linear strategy: len(failed_hosts) / batch_size > max_fail_percentage / 100.0 (percent is a float).
  const python = execFileSync('python3', [
    '-c',
    `
import sys
out = []
for size in range(1, 201):
    for failed in range(0, size + 1):
        for pct in (0, 1, 5, 7, 10, 14, 20, 25, 28, 29, 30, 33, 34, 49, 50, 57, 60, 70, 99, 100, 12.5, 33.3):
            out.append('1' if failed / size > float(pct) / 100.0 else '0')
sys.stdout.write(''.join(out))
`,
  ]).toString()
  const ours: string[] = []
  const percents = [0, 1, 5, 7, 10, 14, 20, 25, 28, 29, 30, 33, 34, 49, 50, 57, 60, 70, 99, 100, 12.5, 33.3]
  for (let size = 1; size <= 200; size++)
    for (let failed = 0; failed <= size; failed++)
      for (const p of percents) ours.push(overMaxFail(failed, size, p) ? '1' : '0')
  assert.is(ours.join(''), python)
  assert.is(overMaxFail(7, 100, 7), false) // 7 of 100 at 7 %: Ansible continues
  assert.is(overMaxFail(3, 10, 30), false)
  assert.is(overMaxFail(8, 100, 7), true)
})

test.run()
