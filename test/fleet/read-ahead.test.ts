// Facts read ahead (Task.reads, ReadAhead) on a light host: what a task changed is what the next one reads —
// after its own change, a loop's, a rescued block's, a handler's, and a change made by another inventory name
// for the same machine between the read and the task that uses it. And what reading ahead costs the host.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse } from 'yaml'
import { Lab, lightName } from '../../lab/lab.ts'
import { prepare } from '../../bench/fleet.ts'
import { deploy, statuses } from './_fleet.ts'

const dir = mkdtempSync(join(tmpdir(), 'hbmon-fleet-read-ahead-'))
const lab = new Lab({ dir: join(dir, 'lab'), net: '127.0.174' })
const host = lightName(1)
test.after(() => lab.down())

test('a task reads what the tasks before it changed: in order, after a loop, in a rescue, in a handler', async () => {
  await lab.up({ light: 1 })
  const playbook = join(dir, 'walk.yml')
  writeFileSync(
    playbook,
    `- hosts: ${host}
  gather_facts: false
  handlers:
    - name: Handler
      file: { path: /root/ra/h, state: directory }
  tasks:
    - file: { path: /root/ra, state: absent }
    - file: { path: /root/ra, state: directory }
    - name: Look
      file: { path: /root/ra, state: directory }
    - name: Make c
      file: { path: /root/ra/c, state: directory }
    - name: Make c again
      file: { path: /root/ra/c, state: directory }
    - name: Loop
      file: { path: "/root/ra/{{ item }}", state: directory }
      loop: [l1, l2]
    - name: After the loop
      file: { path: /root/ra/l2, state: directory }
    - block:
        - name: Look again
          file: { path: /root/ra, state: directory }
        - name: Make r
          file: { path: /root/ra/r, state: directory }
        - name: Fail
          command: "false"
        - name: Never
          file: { path: /root/ra/r, state: absent }
      rescue:
        - name: In the rescue
          file: { path: /root/ra/r, state: directory }
    - name: Notify
      file: { path: /root/ra/h, state: directory }
      notify: Handler
`,
  )
  const r = await deploy(['-i', lab.inventoryPath, playbook], join(dir, 'walk.json'))
  assert.is(r.code, 0, r.stdout + r.stderr)
  assert.equal(statuses(r.report, host), [
    'file=ok',
    'file=changed',
    'Look=ok',
    'Make c=changed',
    'Make c again=ok',
    'Loop=changed',
    'After the loop=ok',
    'Look again=ok',
    'Make r=changed',
    'Fail=failed',
    'In the rescue=ok',
    'Notify=changed',
    'Handler=ok',
  ])
})

test('a change by another inventory name for the same machine is seen by a read gathered before it', async () => {
  // twin_a and twin_b are one host; the first task gathers what the third reads, then twin_a writes the file.
  const inventory = parse(readFileSync(lab.inventoryPath, 'utf8'))
  const address = inventory.all.children.light.hosts[host].ansible_host
  inventory.all.children = {
    twins: { hosts: { twin_a: { ansible_host: address }, twin_b: { ansible_host: address } } },
  }
  const file = join(dir, 'twins.yml')
  writeFileSync(file, JSON.stringify(inventory))
  const playbook = join(dir, 'twins-play.yml')
  writeFileSync(
    playbook,
    `- hosts: twins
  gather_facts: false
  tasks:
    - name: Look
      file: { path: /root, state: directory }
    - name: A writes
      copy: { content: "from a\\n", dest: /root/twins }
      when: inventory_hostname == 'twin_a'
    - name: B writes unless it is there
      copy: { content: "from b\\n", dest: /root/twins, force: false }
      when: inventory_hostname == 'twin_b'
`,
  )
  assert.is((await lab.ssh(host, 'rm -f /root/twins')).code, 0)
  const r = await deploy(['-i', file, playbook, '--no-host-lock'], join(dir, 'twins.json'))
  assert.is(r.code, 0, r.stdout + r.stderr)
  assert.equal(statuses(r.report, 'twin_b'), ['Look=ok', 'A writes=skipped', 'B writes unless it is there=ok'])
  assert.is((await lab.ssh(host, 'cat /root/twins')).stdout, 'from a\n')
})

test("the benchmark's playbook with nothing to change costs the host 4 processes more than one no-op task", async () => {
  // Processes started on the light host (its own PID namespace: /proc/loadavg ends with the last PID given),
  // less what the ssh that reads it costs. The four: the gather's subshell and its FileStats subshell, one
  // `stat` and one `sha256sum` for the three tasks' paths, and `uname` (forked by the connection's shell).
  prepare(dir, 1)
  const lastPid = async () => Number((await lab.ssh(host, 'cat /proc/loadavg')).stdout.trim().split(' ').at(-1))
  const processes = async (playbook: string) => {
    const [a, b] = [await lastPid(), await lastPid()]
    const r = await deploy(['-i', lab.inventoryPath, join(dir, playbook), '--limit', host])
    assert.is(r.code, 0, r.stdout + r.stderr)
    return (await lastPid()) - b - (b - a)
  }
  await processes('site.yml')
  const noChange = await processes('site.yml')
  const noop = await processes('noop.yml')
  assert.ok(noop > 0 && noChange - noop <= 4, `no change: ${noChange} processes, one no-op task: ${noop}`)
})

test('the lab is down', async () => {
  await lab.down()
  assert.not.ok(existsSync(lab.dir))
  rmSync(dir, { recursive: true, force: true })
})

test.run()
