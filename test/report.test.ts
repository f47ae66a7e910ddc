// The recap's counters as Ansible's strategy counts each result, and the exit code from them.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { emptyStats, exitCodeOf, tally, type HostStats, type TaskRecord } from '../src/report.ts'

const record = (status: TaskRecord['status'], more: Partial<TaskRecord> = {}): TaskRecord => ({
  play: 1,
  batch: 1,
  task: 't',
  action: 'command',
  handler: false,
  host: 'h1',
  status,
  check: false,
  ms: 0,
  ...more,
})

test('a rescued failure counts as rescued only; an ignored one as ok and ignored (and changed if it changed)', () => {
  const stats: Record<string, HostStats> = {}
  tally(stats, record('failed', { rescued: true }))
  tally(stats, record('failed', { ignored: true, changed: true }))
  tally(stats, record('changed'))
  tally(stats, record('skipped'))
  assert.equal(stats.h1, { ...emptyStats(), ok: 2, changed: 2, skipped: 1, rescued: 1, ignored: 1 })
  assert.is(exitCodeOf(stats), 0)
  tally(stats, record('failed'))
  assert.is(stats.h1!.failed, 1)
  assert.is(exitCodeOf(stats), 2)
})

test.run()
