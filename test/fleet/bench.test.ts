// The rollout benchmark (bench/fleet.ts, `npm run bench -- fleet`) at a tiny size: two light hosts, both
// tools, every run measured, the start time, the chart and the report section. Its targets belong to the
// bench, not here; what is checked is what must hold at any speed.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Lab } from '../../lab/lab.ts'
import { fleetChart } from '../../bench/chart.ts'
import { fleetPoint, startTime, type FleetPoint } from '../../bench/fleet.ts'
import { renderSection, type FleetFile } from '../../bench/report.ts'

const dir = mkdtempSync(join(tmpdir(), 'hbmon-fleet-bench-'))
const lab = new Lab({ dir: join(dir, 'lab'), net: '127.0.112' })
test.after(() => lab.down())
let point: FleetPoint | undefined

test('two hosts: both tools cold, with no change, and the no-op floor, each run measured', async () => {
  point = await fleetPoint(lab, dir, 2)
  for (const [name, m] of Object.entries(point.runs)) {
    assert.is(m.code, 0, `${name} exited ${m.code}`)
    assert.ok(m.wall_s > 0 && m.cpu_s > 0 && m.max_rss_mb > 0, `${name}: ${JSON.stringify(m)}`)
    // Every run connects to both hosts: their sshd works, whichever tool it is.
    assert.ok(m.hosts_cpu_s > 0, `${name}: no CPU on the hosts: ${JSON.stringify(m)}`)
  }
  for (const [name, r] of Object.entries(point.ratios)) assert.ok(Number.isFinite(r) && r > 0, `${name}: ${r}`)
  // The floor alternates with the no-change run, three rounds; each round has its ratio.
  const rounds = point.nochange_per_noop_rounds ?? []
  assert.is(rounds.length, 3)
  assert.ok(
    rounds.every((r) => Number.isFinite(r) && r > 0),
    String(rounds),
  )
  // The cold run wrote the playbook's files on the hosts; the no-change run found them.
  const r = await lab.ssh('light01', 'sha256sum /srv/bench/payload.bin && cat /srv/bench/bench.conf')
  assert.match(r.stdout, /greeting = hello/)
})

test('start time: a listener sees each tool connect', async () => {
  const start = await startTime(dir, '127.0.113.2', 2)
  const { deploy_min_ms, deploy_median_ms, ansible_min_ms, ansible_median_ms, node_min_ms, node_median_ms } = start
  for (const ms of [deploy_min_ms, deploy_median_ms, ansible_min_ms, ansible_median_ms, node_min_ms, node_median_ms])
    assert.ok(ms !== undefined && Number.isFinite(ms) && ms > 0, JSON.stringify(start))
})

test('the chart and the report section are drawn from the results', () => {
  assert.ok(point, 'the first test measured a point')
  const svg = fleetChart([point!])
  assert.match(svg, /^<svg [^>]*>/)
  assert.match(svg, /<\/svg>\n$/)
  assert.is((svg.match(/<polyline /g) ?? []).length, 8) // four series, two panels
  const machine = { cpu: 'test', cores: 2 }
  const file: FleetFile = {
    machine,
    start: { deploy_min_ms: 1, deploy_median_ms: 2, ansible_min_ms: 3, ansible_median_ms: 4, runs: 2 },
    deploy_rss_mb_per_host_slope: 1,
    versions: { ansible: 'ansible-playbook [core 2.14]', openssh: 'OpenSSH_9.2' },
    points: [{ ...point!, machine }],
  }
  const doc = renderSection('# Benchmarks\n', undefined, undefined, file)
  assert.match(doc, /\| 2 \| [\d.]+ s \| [\d.]+ s \|/)
  assert.match(doc, /\(fleet\.svg\)/)
})

test('the lab is down', async () => {
  await lab.down()
  rmSync(dir, { recursive: true, force: true })
})

test.run()
