// hbmon-monitor without VMs: its Python tests (parser, state, journal), then the monitor process on a veth
// pair in a private network namespace (frames from two source MACs, /metrics, the SSE stream, a flood from
// one "host" while another hangs), and the alert rules through promtool (check + unit test).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { fileURLToPath } from 'node:url'
import { $ } from 'zx'

const monitor = fileURLToPath(new URL('../monitor/', import.meta.url))
const python = '/usr/bin/python3' // Debian's, with python3-prometheus-client (lab/setup.sh)

test('parser, state and journal (python unittest)', async () => {
  const out = await $({ nothrow: true, quiet: true, cwd: monitor })`${python} -W error::ResourceWarning test_monitor.py`
  assert.is(out.exitCode, 0, out.stderr + out.stdout)
  assert.match(out.stderr, /\nOK/)
})

test('the monitor process in a private network namespace: two hosts, metrics, live stream, a flood', async () => {
  const out = await $({
    nothrow: true,
    quiet: true,
    cwd: monitor,
    env: { ...process.env, HBMON_MONITOR_NETNS: '1' },
  })`unshare -n ${python} test_monitor.py Live`
  process.stdout.write(
    out.stderr
      .split('\n')
      .filter((l) => l.includes('flood:'))
      .join('\n') + '\n',
  )
  assert.is(out.exitCode, 0, out.stderr + out.stdout)
  assert.match(out.stderr, /Ran 4 tests/)
  assert.not.match(out.stderr, /skipped/)
})

test('alert rules: promtool check rules and promtool test rules', async () => {
  const check = await $({ nothrow: true, quiet: true, cwd: monitor })`promtool check rules alerts.yml`
  assert.is(check.exitCode, 0, check.stdout + check.stderr)
  assert.match(check.stdout, /SUCCESS: 7 rules found/)
  const unit = await $({ nothrow: true, quiet: true, cwd: monitor })`promtool test rules alerts.test.yml`
  assert.is(unit.exitCode, 0, unit.stdout + unit.stderr)
  assert.match(unit.stdout, /SUCCESS/)
})

test.run()
