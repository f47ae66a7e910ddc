// The inventory parse against Debian's ansible-inventory (differential), and the errors of malformed inventories.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadInventory, parseInventory, toAnsibleList } from '../src/inventory.ts'
import { ansibleEnv } from './ansible.ts'
import { expandHostPattern } from '../src/host-pattern.ts'
import { InputError } from '../src/util.ts'

const dir = fileURLToPath(new URL('fixtures/inventories/', import.meta.url))
const good = readdirSync(dir)
  .filter((f) => f.endsWith('.yml') && !f.startsWith('bad-'))
  .sort()

function ansibleInventory(file: string, env: NodeJS.ProcessEnv): Promise<unknown> {
  return new Promise((resolve, reject) =>
    execFile('ansible-inventory', ['-i', file, '--list'], { env, maxBuffer: 64 << 20 }, (error, stdout, stderr) =>
      error ? reject(new Error(`ansible-inventory -i ${file} --list failed: ${stderr}`)) : resolve(JSON.parse(stdout)),
    ),
  )
}

test(`there are at least 10 inventories to compare (${good.length})`, () => {
  assert.ok(good.length >= 10, good.join(' '))
})

for (const name of good) {
  test(`${name}: toAnsibleList equals ansible-inventory --list`, async () => {
    const file = join(dir, name)
    const theirs = await ansibleInventory(file, ansibleEnv())
    const ours = toAnsibleList(await loadInventory(file))
    assert.equal(ours, theirs)
  })
}

test('ranges: strides, letters and leading zeros expand as Ansible does', async () => {
  const inv = await loadInventory(join(dir, 'ranges.yml'))
  const names = [...inv.hosts.keys()]
  assert.equal(
    names.filter((n) => n.startsWith('app')),
    ['app1', 'app3', 'app5', 'app7', 'app9', 'app10', 'app15', 'app20'],
  )
  assert.equal(
    names.filter((n) => n.startsWith('edge')),
    ['edge001', 'edge005', 'edge009'],
  )
  assert.equal(
    names.filter((n) => n.startsWith('mix')),
    ['mixx', 'mixA', 'mixD', 'mixG', 'mixJ', 'mixM', 'mixP', 'mixS', 'mixV', 'mixY'],
  )
  assert.is(inv.hosts.get('web12.example.com')?.name, 'web12.example.com')
  assert.equal(
    names.filter((n) => n.startsWith('db0-')),
    ['db0-node01', 'db0-node02', 'db0-node03'],
  )
  assert.is(inv.hosts.get('edge005')?.connection.port, 2222)
  const fail = (reason: string): never => {
    throw new Error(reason)
  }
  assert.equal(expandHostPattern('h[8:10].x:22', fail), { names: ['h8.x', 'h9.x', 'h10.x'], port: 22 })
  assert.equal(expandHostPattern('[::1]:2222', fail), { names: ['::1'], port: 2222 })
})

test('precedence: depth, then ansible_group_priority, then name; host vars last', async () => {
  const nested = await loadInventory(join(dir, 'nested.yml'))
  assert.is(nested.hosts.get('par1')!.vars.level, 'paris')
  assert.is(nested.hosts.get('par2')!.vars.level, 'par2-host')
  assert.equal(nested.hosts.get('par1')!.groups, ['all', 'europe', 'france', 'paris'])
  assert.is(nested.groups.get('paris')!.depth, 3)
  const conflicts = await loadInventory(join(dir, 'conflicts.yml'))
  assert.is(conflicts.hosts.get('shared1')!.vars.color, 'zeta') // alpha < mid < zeta, all at depth 1
  assert.is(conflicts.hosts.get('shared2')!.vars.color, 'deeper') // depth 2 beats depth 1
  const priority = await loadInventory(join(dir, 'priority.yml'))
  assert.is(priority.hosts.get('h1')!.vars.who, 'aaa') // priority 10 beats "5" and the default 1
  assert.is(priority.hosts.get('h3')!.vars.who, 'kid') // a deeper group beats any priority
  assert.not.ok('ansible_group_priority' in priority.hosts.get('h1')!.vars)
})

test('connection settings: aliases, defaults, ProxyJump and known_hosts from ansible_ssh_common_args', async () => {
  const inv = await loadInventory(join(dir, 'connection.yml'))
  const modern = inv.hosts.get('modern')!.connection
  assert.equal(modern, {
    host: '10.1.0.1',
    port: 2022,
    user: 'group-user',
    keyFile: join(homedir(), '.ssh/id_hbmon'),
    password: 'pw',
    become: true,
    becomeUser: 'admin',
    becomeMethod: 'sudo',
    becomePassword: 's3cret',
    connection: 'ssh',
    proxyJump: [{ host: 'bastion.example.com', port: 2222, user: 'jump' }],
    knownHostsFile: '/tmp/hbmon-known_hosts',
    sshOptions: {
      proxyjump: 'jump@bastion.example.com:2222',
      userknownhostsfile: '/tmp/hbmon-known_hosts',
      stricthostkeychecking: 'yes',
    },
  })
  const legacy = inv.hosts.get('legacy')!.connection
  assert.equal([legacy.host, legacy.port, legacy.user, legacy.password], ['10.1.0.2', 2023, 'legacy-user', '12345'])
  const both = inv.hosts.get('both')!.connection
  assert.equal([both.host, both.port], ['10.1.0.4', 2]) // the ansible_ssh_* alias wins, as in Ansible's PlayContext
  assert.equal(both.proxyJump, [
    { host: 'j1', port: 22, user: 'a' },
    { host: 'j2', port: 2200 },
  ])
  assert.is(both.knownHostsFile, join(homedir(), 'kh'))
  const plain = inv.hosts.get('plain')!.connection
  assert.equal([plain.host, plain.port, plain.user, plain.become, plain.proxyJump], ['plain', 22, undefined, false, []])
  assert.is(plain.knownHostsFile, join(homedir(), '.ssh/known_hosts'))
  const hostport = await loadInventory(join(dir, 'hostport.yml'))
  assert.is(hostport.hosts.get('web1')!.connection.port, 2201) // the first entry's port; `other: web1:2299` does not move it
  assert.is(hostport.hosts.get('fe80::1')!.connection.port, 2204)
  assert.ok(hostport.hosts.has('web_:22')) // not a valid host:port for Ansible, so the whole key is the name
})

// Each malformed inventory: where the error is reported, and what it says.
const errors: [string, string, RegExp][] = [
  ['bad-yaml.yml', 'bad-yaml.yml:6:17: ', /never closed/],
  [
    'bad-vars-list.yml',
    'bad-vars-list.yml:7:9: all.children.web.vars: ',
    /^expected a mapping of variables, got a list$/,
  ],
  ['bad-range.yml', 'bad-range.yml:4:5: web.hosts.app[1-3]: ', /bad host range \[1-3\]: expected \[begin:end\]/],
  [
    'bad-top-level.yml',
    'bad-top-level.yml:1:1: ',
    /^expected an inventory \(a mapping of group names to groups\), got a list$/,
  ],
  ['bad-group-type.yml', 'bad-group-type.yml:4:5: db: ', /^expected a group .*, got a list$/],
  ['bad-unknown-key.yml', 'bad-unknown-key.yml:4:7: all.children.web.host: ', /unexpected key "host"/],
  ['bad-loop.yml', 'bad-loop.yml:8:5: c.children.a: ', /group "a" would be its own ancestor: a → b → c → a/],
  ['bad-host-int.yml', 'bad-host-int.yml:4:5: web.hosts.12: ', /expected a host name \(a string\), got a number/],
  [
    'bad-port.yml',
    'bad-port.yml:3:19: web.vars.ansible_port: ',
    /^expected a port number \(1-65535\), got a string \("ssh"\)$/,
  ],
  ['bad-proxy.yml', 'bad-proxy.yml:4:32: web.hosts.web1.ansible_ssh_common_args: ', /ProxyCommand is not supported/],
]
for (const [name, prefix, reason] of errors) {
  test(`${name}: an InputError at the right file:line:column and path`, async () => {
    const file = join(dir, name)
    try {
      await loadInventory(file)
    } catch (e) {
      assert.instance(e, InputError)
      const error = e as InputError
      assert.is(error.message.slice(0, dir.length + prefix.length), dir + prefix)
      assert.match(error.reason, reason)
      assert.is(error.file, file)
      return
    }
    assert.unreachable('no error')
  })
}

function errorOf(text: string): InputError {
  try {
    parseInventory(text, 'hosts.yml')
  } catch (e) {
    assert.instance(e, InputError)
    return e as InputError
  }
  throw assert.unreachable(`no error for:\n${text}`)
}

test('more malformed inventories, inline', () => {
  const cases: [string, string][] = [
    ['', 'hosts.yml:1:1: expected an inventory (a mapping of group names to groups), got nothing'],
    ['{}', 'hosts.yml:1:1: expected an inventory (a mapping of group names to groups), got a mapping'],
    [
      'plugin: aws_ec2\n',
      'hosts.yml:1:9: plugin: this is an inventory plugin configuration (plugin: aws_ec2), not a YAML inventory',
    ],
    ['web:\n  hosts:\n    a:\n    a:\n', 'hosts.yml:4:5: web.hosts.a: duplicate key "a" (first at line 3)'],
    [
      'web:\n  hosts: [a, b]\n',
      'hosts.yml:2:10: web.hosts: expected hosts (a mapping of host names or patterns to their variables), got a list',
    ],
    [
      'web:\n  hosts:\n    a: yes\n',
      'hosts.yml:3:8: web.hosts.a: expected a mapping of variables, got a boolean (true)',
    ],
    [
      'web:\n  hosts:\n    h[5:1]:\n',
      'hosts.yml:3:5: web.hosts.h[5:1]: bad host range [5:1]: it is empty (begin after end)',
    ],
    [
      'web:\n  hosts:\n    h[01:100]:\n',
      'hosts.yml:3:5: web.hosts.h[01:100]: bad host range [01:100]: begin and end must have the same number of digits',
    ],
    [
      'web:\n  hosts:\n    h[1:3:0]:\n',
      'hosts.yml:3:5: web.hosts.h[1:3:0]: bad host range [1:3:0]: the step must be a positive integer',
    ],
    [
      'web:\n  hosts:\n    h[1:3:\n',
      'hosts.yml:3:5: web.hosts.h[1:3: unclosed host range in "h[1:3": expected [begin:end] or [begin:end:step]',
    ],
    [
      'web:\n  hosts:\n    h[z:a]:\n',
      'hosts.yml:3:5: web.hosts.h[z:a]: bad host range [z:a]: begin must not come after end',
    ],
    [
      'web:\n  children:\n    all:\n',
      'hosts.yml:3:5: web.children.all: group "all" holds every group and cannot be a child of one',
    ],
    ['web:\n  children:\n    web:\n', 'hosts.yml:3:5: web.children.web: group "web" cannot be a child of itself'],
    [
      'web:\n  vars:\n    ansible_group_priority: high\n',
      'hosts.yml:3:29: web.vars.ansible_group_priority: expected an integer group priority, got a string ("high")',
    ],
    [
      'web:\n  vars:\n    ansible_become: maybe\n',
      'hosts.yml:3:21: web.vars.ansible_become: expected a boolean (true/false, yes/no, on/off, 1/0), got a string ("maybe")',
    ],
    [
      'web:\n  hosts:\n    h:\n      ansible_port: 70000\n',
      'hosts.yml:4:21: web.hosts.h.ansible_port: expected a port number (1-65535), got a number (70000)',
    ],
    [
      'web:\n  hosts:\n    h:\n      ansible_host: "{{ x }}"\n',
      'hosts.yml:4:21: web.hosts.h.ansible_host: templates ({{ }}) are not supported in connection variables',
    ],
    [
      'web:\n  vars:\n    ansible_become: yes\n    ansible_become_method: su\n  hosts:\n    h:\n',
      'hosts.yml:4:28: web.vars.ansible_become_method: only sudo is supported, got su',
    ],
    [
      'web:\n  vars:\n    ansible_ssh_common_args: -C\n  hosts:\n    h:\n',
      'hosts.yml:3:30: web.vars.ansible_ssh_common_args: unsupported ssh argument "-C": only -o Key=Value and -J are understood',
    ],
    ['web:\n  hosts:\n    h:\n      x: &a [*a]\n', 'hosts.yml:4:14: web.hosts.h.x.0: alias *a contains itself'],
  ]
  for (const [text, message] of cases) assert.is(errorOf(text).message, message, text)
})

test('an unreadable file is an InputError naming it', async () => {
  try {
    await loadInventory(join(dir, 'missing.yml'))
    assert.unreachable()
  } catch (e) {
    assert.instance(e, InputError)
    assert.match((e as Error).message, /missing\.yml: cannot read the inventory/)
  }
})

test.run()
