// ssh client config and ansible.cfg below the inventory vars: what the ssh-config package computes is what
// OpenSSH's own `ssh -G` computes (it prints the config for a host without connecting), and vars beat
// ansible.cfg, which beats the ssh config.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { completeConnection } from '../src/connection-defaults.ts'
import { parseInventory } from '../src/inventory.ts'
import { InputError } from '../src/util.ts'
import { tempDir } from './tmp.ts'

const dir = tempDir('hbmon-ssh-config-')
const config = join(dir, 'ssh_config')
writeFileSync(
  config,
  [
    '# first obtained value wins, in file order',
    'Host web1',
    '  HostName 10.0.0.1',
    '  Port 2201',
    'Host web*',
    '  User deploy',
    '  Port 2299',
    '  IdentityFile ~/.ssh/web_key',
    '  ProxyJump jump@bastion:2222',
    'Host *.internal !db.internal',
    '  UserKnownHostsFile /etc/hbmon/known_hosts',
    'Match host db*',
    '  User dbadmin',
    'Host *',
    '  User fallback',
    '  StrictHostKeyChecking accept-new',
    '',
  ].join('\n'),
)

function openssh(host: string): Record<string, string> {
  const out = execFileSync('ssh', ['-G', '-F', config, host], {
    env: { HOME: homedir(), PATH: process.env.PATH },
    stdio: ['ignore', 'pipe', 'ignore'],
  })
  const values: Record<string, string> = {}
  for (const line of out.toString().split('\n')) {
    const [k, ...v] = line.split(' ')
    if (k && !(k in values)) values[k] = v.join(' ')
  }
  return values
}

function ours(host: string, vars = '', settings = {}) {
  const inv = parseInventory(
    `all:\n  hosts:\n    ${host}:\n${vars}  vars:\n    ansible_ssh_common_args: -F ${config}\n`,
  )
  const h = inv.hosts.get(host)!
  const provenance = completeConnection(h.name, h.connection, (v) => (v in h.vars ? 'inventory' : undefined), settings)
  return { c: h.connection, provenance }
}

for (const host of ['web1', 'web2', 'app.internal', 'db.internal', 'db7', 'other'])
  test(`${host}: HostName, User, Port, IdentityFile, ProxyJump, known_hosts, StrictHostKeyChecking as ssh -G`, () => {
    const g = openssh(host)
    const { c } = ours(host)
    assert.is(c.host, g.hostname)
    assert.is(c.user, g.user)
    assert.is(String(c.port), g.port)
    if (c.keyFile) assert.is(c.keyFile, g.identityfile!.replace(/^~/, homedir()))
    assert.is(c.proxyJump.map((j) => `${j.user}@${j.host}:${j.port}`).join(','), g.proxyjump ?? '')
    assert.is(c.knownHostsFile, g.userknownhostsfile!.split(' ')[0]!.replace(/^~/, homedir()))
    assert.is(c.acceptNewHostKey === true, g.stricthostkeychecking === 'accept-new')
  })

test('inventory vars beat ansible.cfg, which beats the ssh config; each with its origin', () => {
  const cfg = { remoteUser: { value: 'cfg-user', origin: 'ansible.cfg:2' } }
  const byVar = ours('web2', '      ansible_user: var-user\n      ansible_port: 2022\n', cfg)
  assert.equal([byVar.c.user, byVar.c.port], ['var-user', 2022])
  assert.equal([byVar.provenance.user, byVar.provenance.port], ['inventory', 'inventory'])
  const byCfg = ours('web2', '', cfg)
  assert.equal([byCfg.c.user, byCfg.provenance.user], ['cfg-user', 'ansible.cfg:2'])
  assert.equal([byCfg.c.port, byCfg.provenance.port], [2299, `${config} (Port)`])
})

test('refused: ProxyCommand, Include, Match exec, StrictHostKeyChecking no', () => {
  const cases: [string, RegExp][] = [
    ['Host *\n  ProxyCommand nc %h %p\n', /:2:1: ProxyCommand is not supported/],
    ['Include other\n', /:1:1: Include is not followed/],
    ['Match exec "true"\n  User x\n', /:1:1: Match exec is not supported/],
    ['Host *\n  StrictHostKeyChecking no\n', /StrictHostKeyChecking no is not supported/],
  ]
  cases.forEach(([text, reason], i) => {
    const file = join(dir, `bad${i}`)
    writeFileSync(file, text)
    const inv = parseInventory(`all:\n  hosts:\n    h:\n  vars:\n    ansible_ssh_common_args: -F ${file}\n`)
    const h = inv.hosts.get('h')!
    assert.throws(
      () => completeConnection('h', h.connection, () => undefined, {}),
      (e: Error) => e instanceof InputError && reason.test(e.message),
      text,
    )
  })
})

test.run()
