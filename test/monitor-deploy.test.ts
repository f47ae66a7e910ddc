// How deploy.yml points frames at the health monitor: chooseDest (hbmon_dest_mac, the monitor's facts from
// this run, several monitors, a limited-out monitor), the modprobe.d parser, planPlays skipping the monitor's
// play under a --limit that leaves it no host, and both playbooks passing the engine's load-time checks.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { fileURLToPath } from 'node:url'
import { parseInventory } from '../src/inventory.ts'
import { loadPlaybook, parsePlaybook } from '../src/playbook.ts'
import { planPlays } from '../src/rollout.ts'
import { builtinTasks, Registry } from '../src/task.ts'
import { broadcast, chooseDest, currentDest } from '../tasks/_monitor.ts'

const mac = '52:54:00:4c:00:02'
const facts = (known: Record<string, unknown>) => (host: string) => known[host] as Record<string, unknown> | undefined
const monitorFacts = facts({ mon: { hbmon_monitor: { iface: 'eth1', mac } } })

test('hbmon_dest_mac wins; it must be a MAC', () => {
  assert.equal(
    chooseDest({ hbmon_dest_mac: '02:00:00:00:00:AA', groups: { monitor: ['mon'] } }, monitorFacts, undefined),
    { mac: '02:00:00:00:00:aa', reason: 'hbmon_dest_mac' },
  )
  assert.throws(() => chooseDest({ hbmon_dest_mac: 'monitor' }, monitorFacts, undefined), /expected a MAC address/)
})

test("the one monitor's MAC from its facts in this run", () => {
  const choice = chooseDest({ groups: { monitor: ['mon'] } }, monitorFacts, 'ff:ff:ff:ff:ff:ff')
  assert.equal(choice, { mac, reason: "the monitor mon's eth1" })
  assert.equal(chooseDest({ hbmon_dest_mac: '', groups: { monitor: ['mon'] } }, monitorFacts, undefined).mac, mac)
})

test('no monitor group, several monitors: broadcast', () => {
  assert.is(chooseDest({ groups: { all: ['a'] } }, monitorFacts, undefined).mac, broadcast)
  assert.match(chooseDest({ groups: { monitor: ['mon', 'mon2'] } }, monitorFacts, undefined).reason, /2 monitors/)
})

test("a monitor whose facts are unknown (limited out, unreachable): the host's current destination, else broadcast", () => {
  assert.equal(chooseDest({ groups: { monitor: ['mon'] } }, facts({}), '52:54:00:aa:bb:cc').mac, '52:54:00:aa:bb:cc')
  assert.match(chooseDest({ groups: { monitor: ['mon'] } }, facts({}), '52:54:00:aa:bb:cc').reason, /^unchanged/)
  assert.is(chooseDest({ groups: { monitor: ['mon'] } }, facts({}), undefined).mac, broadcast)
})

test('currentDest reads the options line of modprobe.d', () => {
  assert.is(
    currentDest('# managed\noptions hbmon iface=eth1 dest_mac=52:54:00:4c:00:02 ethertype=0x88B5\n'),
    '52:54:00:4c:00:02',
  )
  assert.is(currentDest('# dest_mac=00:00:00:00:00:01\n'), undefined)
})

const inventory = parseInventory(`all:
  children:
    monitor: { hosts: { mon: {} } }
    web: { hosts: { web1: {}, web2: {} } }
`)

test("planPlays: a play the --limit leaves without hosts is skipped when another play has some (Ansible's 'no hosts matched')", async () => {
  const registry = await Registry.load([builtinTasks])
  const playbook = parsePlaybook(
    `- hosts: monitor\n  tasks: [{ command: 'true' }]\n- hosts: all\n  tasks: [{ command: 'true' }]\n`,
    'p.yml',
    registry,
  )
  assert.equal(
    planPlays(inventory, playbook, 'web1').map((p) => p.hosts.map((h) => h.name)),
    [[], ['web1']],
  )
  assert.equal(
    planPlays(inventory, playbook, 'mon,web2').map((p) => p.hosts.map((h) => h.name)),
    [['mon'], ['mon', 'web2']],
  )
  assert.throws(() => planPlays(inventory, playbook, 'nothere'), /leave no host/)
  // As ansible-playbook: the limit matches hosts of the inventory, so even a lone play it empties is skipped.
  const single = parsePlaybook(`- hosts: monitor\n  tasks: [{ command: 'true' }]\n`, 'q.yml', registry)
  assert.equal(
    planPlays(inventory, single, 'web1').map((p) => p.hosts.map((h) => h.name)),
    [[]],
  )
})

test('deploy.yml and monitor.yml load (schemas, templates, task names)', async () => {
  const registry = await Registry.load([builtinTasks])
  for (const name of ['deploy.yml', 'monitor.yml']) {
    const playbook = await loadPlaybook(fileURLToPath(new URL(`../playbooks/${name}`, import.meta.url)), registry)
    assert.ok(playbook.plays.length > 0)
  }
  const deploy = await loadPlaybook(fileURLToPath(new URL('../playbooks/deploy.yml', import.meta.url)), registry)
  assert.equal(
    deploy.plays.map((p) => p.hosts),
    [['monitor'], ['all']],
  )
})

test.run()
