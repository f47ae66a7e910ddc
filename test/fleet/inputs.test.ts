// Host keys and bad input against real sshd: an unknown key is refused (and accepted, then written, with
// --accept-new-host-keys); a changed key fails that host; malformed input exits 4 before any host is contacted
// (the light hosts' sshd logs show no new connection).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { existsSync, rmSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Lab, lightName } from '../../lab/lab.ts'
import { connections, deploy } from './_fleet.ts'

const dir = mkdtempSync(join(tmpdir(), 'hbmon-fleet-inputs-'))
const lab = new Lab({ dir: join(dir, 'lab'), net: '127.0.23' })
const names = [1, 2, 3].map(lightName)
test.after(() => lab.down())

const playbook = join(dir, 'ok.yml')
writeFileSync(playbook, '- hosts: all\n  tasks:\n    - command: hostname\n      changed_when: false\n')

/** The lab's inventory with another known_hosts file. */
function inventoryWith(knownHosts: string): string {
  const file = join(dir, `inventory-${Math.random().toString(36).slice(2)}.yml`)
  writeFileSync(file, readFileSync(lab.inventoryPath, 'utf8').replace(lab.knownHostsPath, knownHosts))
  return file
}
const allConnections = () => names.map((n) => connections(lab, n)).reduce((a, b) => a + b, 0)

test('an unknown host key is refused, with a clear message', async () => {
  await lab.up({ light: 3 })
  const empty = join(dir, 'known_hosts_empty')
  writeFileSync(empty, '')
  const r = await deploy(['-i', inventoryWith(empty), playbook], join(dir, 'unknown.json'))
  assert.is(r.code, 2, r.stdout + r.stderr)
  for (const n of names) {
    assert.is(r.report.hosts[n].stats.failed, 1)
    assert.match(
      r.report.hosts[n].tasks[0].msg,
      new RegExp(
        `host key for 127\\.0\\.23\\.\\d+ is not in ${empty} \\(ssh-ed25519 SHA256:.+\\): verify it and add it, or run with --accept-new-host-keys`,
      ),
    )
  }
  assert.is(readFileSync(empty, 'utf8'), '')
})

test('--accept-new-host-keys adds the keys to known_hosts; the next run needs no flag', async () => {
  const file = join(dir, 'known_hosts_new')
  const r = await deploy(['-i', inventoryWith(file), playbook, '--accept-new-host-keys'], join(dir, 'accept.json'))
  assert.is(r.code, 0, r.stdout + r.stderr)
  const written = readFileSync(file, 'utf8').trim().split('\n').sort()
  const expected = readFileSync(lab.knownHostsPath, 'utf8').trim().split('\n').sort()
  assert.equal(written, expected) // the same keys OpenSSH checks against
  const again = await deploy(['-i', inventoryWith(file), playbook])
  assert.is(again.code, 0, again.stdout + again.stderr)
})

test('a changed host key fails that host only, even with --accept-new-host-keys', async () => {
  const lines = readFileSync(lab.knownHostsPath, 'utf8').trim().split('\n')
  const key1 = lines[0]!.split(' ').slice(1).join(' ')
  const forged = lines.map((l) => (l.startsWith('127.0.23.3 ') ? `127.0.23.3 ${key1}` : l)).join('\n') + '\n'
  const file = join(dir, 'known_hosts_changed')
  writeFileSync(file, forged)
  const r = await deploy(['-i', inventoryWith(file), playbook, '--accept-new-host-keys'], join(dir, 'changed.json'))
  assert.is(r.code, 2)
  assert.match(
    r.report.hosts.light02.tasks[0].msg,
    new RegExp(`HOST KEY CHANGED for 127\\.0\\.23\\.3: .*does not match ${file}:2; refusing`),
  )
  assert.is(r.report.hosts.light01.stats.failed + r.report.hosts.light03.stats.failed, 0)
  assert.is(readFileSync(file, 'utf8'), forged)
})

const bad: [string, string, () => string[], RegExp][] = [
  [
    'a malformed inventory',
    'inv',
    () => {
      const f = join(dir, 'bad-inventory.yml')
      writeFileSync(
        f,
        readFileSync(lab.inventoryPath, 'utf8').replace(
          'ansible_host: 127.0.23.3',
          'ansible_host: 127.0.23.3\n          ansible_port: 99999',
        ),
      )
      return ['-i', f, playbook]
    },
    /bad-inventory\.yml:\d+:\d+: .*ansible_port: expected a port number \(1-65535\), got a number \(99999\)/,
  ],
  [
    'a YAML error in the playbook',
    'yaml',
    () => {
      const f = join(dir, 'bad-yaml.yml')
      writeFileSync(f, '- hosts: all\n  tasks:\n    - command: hostname\n     bad indent: 1\n')
      return ['-i', lab.inventoryPath, f]
    },
    /bad-yaml\.yml:4:\d+: /,
  ],
  [
    'an unknown task',
    'task',
    () => {
      const f = join(dir, 'bad-task.yml')
      writeFileSync(f, '- hosts: all\n  tasks:\n    - command: hostname\n    - comand: hostname\n')
      return ['-i', lab.inventoryPath, f]
    },
    /bad-task\.yml:4:7: 0\.tasks\.1\.comand: unknown task "comand"/,
  ],
  [
    'bad task args',
    'args',
    () => {
      const f = join(dir, 'bad-args.yml')
      writeFileSync(f, '- hosts: all\n  tasks:\n    - file: { path: /x, state: gone }\n')
      return ['-i', lab.inventoryPath, f]
    },
    /bad-args\.yml:3:\d+: 0\.tasks\.0\.file\.state: expected one of file, directory, absent, touch/,
  ],
  [
    'an unknown handler',
    'notify',
    () => {
      const f = join(dir, 'bad-notify.yml')
      writeFileSync(f, '- hosts: all\n  tasks:\n    - command: hostname\n      notify: restart\n')
      return ['-i', lab.inventoryPath, f]
    },
    /bad-notify\.yml:4:\d+: 0\.tasks\.0\.notify: no handler named "restart"/,
  ],
  [
    'a bad -e file',
    'extra',
    () => {
      const f = join(dir, 'bad-extra.yml')
      writeFileSync(f, 'a: 1\nb: [\n')
      return ['-i', lab.inventoryPath, playbook, '-e', `@${f}`]
    },
    /bad-extra\.yml:\d+/,
  ],
  [
    'a --limit that matches nothing',
    'limit',
    () => ['-i', lab.inventoryPath, playbook, '--limit', 'nosuchhost'],
    /--limit: "nosuchhost" .*leave no host/,
  ],
]
for (const [what, name, args, message] of bad)
  test(`${what}: exit 4, file:line, no host contacted`, async () => {
    const before = allConnections()
    const r = await deploy(args(), join(dir, `${name}.json`))
    assert.is(r.code, 4, r.stdout + r.stderr)
    assert.match(r.stderr, message)
    assert.is(r.report, undefined)
    assert.is(allConnections(), before, 'the sshd logs show a new connection')
  })

test('the sshd logs do record our connections (so the checks above can fail)', async () => {
  const before = allConnections()
  const r = await deploy(['-i', lab.inventoryPath, playbook])
  assert.is(r.code, 0)
  assert.is(allConnections(), before + 3)
})

test('the lab is down', async () => {
  await lab.down()
  assert.not.ok(existsSync(lab.dir))
  rmSync(dir, { recursive: true, force: true })
})

test.run()
