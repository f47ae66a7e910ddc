import { test } from 'uvu'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Lab } from '../../lab/lab.ts'
test('a light host, then a hang', async () => {
  const lab = new Lab({ dir: mkdtempSync(join(tmpdir(), 'hbmon-lab-int-')), net: '127.0.77', downOnSignal: true })
  await lab.up({ light: 1 })
  await lab.cut('light01')
  const pids = lab.hosts.flatMap((host) => [host.pid, ...lab.processes(host.name)])
  writeFileSync("/tmp/hbmon-test-run-5Ghxbf/tmp-13/hbmon-runner-M6UU1a/report.json", JSON.stringify({ dir: lab.dir, pids }))
  await new Promise((resolve) => setTimeout(resolve, 600_000))
})
test.run()
