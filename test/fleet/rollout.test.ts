// serial and max_fail_percentage on 10 light hosts, with injected task failures and a killed host: the exact
// batches, where the rollout stops, who is left untouched, the recap and the exit code.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { existsSync, rmSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Lab, lightName } from '../../lab/lab.ts'
import { connections, deploy } from './_fleet.ts'

const dir = mkdtempSync(join(tmpdir(), 'hbmon-fleet-rollout-'))
const lab = new Lab({ dir: join(dir, 'lab'), net: '127.0.22' })
const names = Array.from({ length: 10 }, (_, i) => lightName(i + 1))
test.after(() => lab.down())

let runs = 0
/** Runs a play with this serial / max_fail_percentage; `failing` hosts fail the second task. */
async function rollout(serial: unknown, maxFail: number | undefined, failing: string[]) {
  const run = `run${++runs}`
  const playbook = join(dir, `${run}.yml`)
  writeFileSync(
    playbook,
    `- hosts: light
  gather_facts: false
  serial: ${JSON.stringify(serial)}
${maxFail === undefined ? '' : `  max_fail_percentage: ${maxFail}\n`}  vars: { failing: [] }
  tasks:
    - name: Step one
      command: "true"
      changed_when: false
    - name: Maybe fail
      command: test "{{ inventory_hostname in failing }}" = False
    - name: Mark
      copy: { content: "${run}\\n", dest: /root/${run} }
`,
  )
  const before = Object.fromEntries(names.map((n) => [n, connections(lab, n)]))
  const result = await deploy(
    ['-i', lab.inventoryPath, playbook, '-e', JSON.stringify({ failing })],
    join(dir, `${run}.json`),
  )
  const marked = (
    await Promise.all(names.map(async (n) => ((await lab.ssh(n, `cat /root/${run}`)).code === 0 ? n : '')))
  ).filter(Boolean)
  const contacted = names.filter((n) => connections(lab, n) > before[n]! + 1) // +1: our own check above
  return { ...result, marked, contacted, batches: result.report.batches.map((b: any) => b.hosts) }
}

test('canary then 30% then the rest; max_fail_percentage 0 stops in batch 2 before batch 3', async () => {
  await lab.up({ light: 10 })
  const r = await rollout([1, '30%', '100%'], 0, ['light03'])
  assert.is(r.code, 2, r.stdout + r.stderr)
  assert.equal(r.report.plays[0].batches, [['light01'], ['light02', 'light03', 'light04'], names.slice(4)])
  assert.equal(r.batches, [['light01'], ['light02', 'light03', 'light04']])
  assert.equal(r.report.batches[1], {
    play: 1,
    batch: 2,
    hosts: ['light02', 'light03', 'light04'],
    failed: ['light03'],
    unreachable: [],
    stopped: ['light02', 'light04'],
  })
  assert.match(
    r.report.stopReason,
    /batch 2: 1 of 3 hosts failed or unreachable \(33\.3%\), over max_fail_percentage 0%/,
  )
  // The other hosts of the batch stop where they are (as Ansible marks them failed): no Mark on them.
  assert.equal(r.marked, ['light01'])
  assert.equal(r.report.notRun, names.slice(4))
  assert.equal(r.contacted, names.slice(0, 4), 'batch 3 is never contacted')
  assert.equal(r.report.hosts.light03.stats, {
    ok: 1,
    changed: 0,
    unreachable: 0,
    failed: 1,
    skipped: 0,
    rescued: 0,
    ignored: 0,
  })
  assert.equal(r.report.hosts.light02.stats.ok, 2)
  assert.match(r.stdout, /fatal: \[light03\] `sh -c 'test False = False'`|fatal: \[light03\] non-zero return code 1/)
  assert.match(r.stdout, /STOPPED: play 1 batch 2/)
  assert.match(r.stdout, /light03 +: ok=1 +changed=0 +unreachable=0 +failed=1/)
  assert.match(r.stdout, /not run: light05, light06, light07, light08, light09, light10/)
})

test('max_fail_percentage 30 with serial 5: 1 of 5 (20%) goes on, 2 of 5 (40%) stops', async () => {
  const r = await rollout(5, 30, ['light02', 'light06', 'light07'])
  assert.is(r.code, 2)
  assert.equal(r.batches, [names.slice(0, 5), names.slice(5)])
  assert.equal(
    r.report.batches.map((b: any) => [b.failed, b.stopped]),
    [
      [['light02'], []],
      [
        ['light06', 'light07'],
        ['light08', 'light09', 'light10'],
      ],
    ],
  )
  assert.equal(r.marked, ['light01', 'light03', 'light04', 'light05'])
  assert.equal(r.report.notRun, [])
  assert.match(r.report.stopReason, /batch 2: 2 of 5 hosts .*\(40%\), over max_fail_percentage 30%/)
})

test('without max_fail_percentage: failed hosts drop out, the rollout goes on; a batch that fails whole stops it', async () => {
  let r = await rollout(5, undefined, ['light03'])
  assert.is(r.code, 2)
  assert.is(r.report.stopReason, undefined)
  assert.equal(
    r.marked,
    names.filter((n) => n !== 'light03'),
  )
  assert.equal(
    Object.entries(r.report.hosts)
      .filter(([, h]: any) => h.stats.failed)
      .map(([n]) => n),
    ['light03'],
  )
  r = await rollout(2, undefined, ['light01', 'light02'])
  assert.is(r.code, 2)
  assert.equal(r.batches, [['light01', 'light02']])
  assert.match(r.report.stopReason, /every host of the batch failed/)
  assert.equal(r.report.notRun, names.slice(2))
  assert.equal(r.marked, [])
})

test('a killed host is unreachable, counts against max_fail_percentage (strict >), and gives exit 3', async () => {
  await lab.kill('light04')
  // 1 of 5 = 20%, not > 20: goes on.
  let r = await rollout(5, 20, [])
  assert.is(r.code, 3, r.stdout + r.stderr)
  assert.equal(r.report.batches[0].unreachable, ['light04'])
  assert.equal(r.report.hosts.light04.stats, {
    ok: 0,
    changed: 0,
    unreachable: 1,
    failed: 0,
    skipped: 0,
    rescued: 0,
    ignored: 0,
  })
  assert.equal(
    r.marked,
    names.filter((n) => n !== 'light04'),
  )
  assert.match(r.report.hosts.light04.tasks[0].msg, /ECONNREFUSED|refused/)
  assert.match(r.stdout, /unreachable: \[light04\]/)
  // 20% > 10: stops after batch 1, still exit 3 (unreachable, none failed).
  r = await rollout(5, 10, [])
  assert.is(r.code, 3)
  assert.match(r.report.stopReason, /batch 1: 1 of 5 .*over max_fail_percentage 10%/)
  assert.equal(r.report.notRun, names.slice(5))
  // Ansible would not count it: with a failure as well, the exit code is 2.
  r = await rollout(5, 50, ['light01'])
  assert.is(r.code, 2)
  assert.equal(
    r.report.batches.map((b: any) => [b.failed, b.unreachable]),
    [
      [['light01'], ['light04']],
      [[], []],
    ],
  )
})

test('the lab is down', async () => {
  await lab.down()
  assert.not.ok(existsSync(lab.dir))
  rmSync(dir, { recursive: true, force: true })
})

test.run()
