// The SSH transport against real sshd: sshd's MaxSessions (10) is respected by a task that opens 40 channels
// at once; ProxyJump goes through one shared jump connection; a non-root login user, and become via sudo.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { existsSync, rmSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { NodeSSH } from 'node-ssh'
import { labKeyPath } from '../../lab/images.ts'
import { Lab } from '../../lab/lab.ts'
import { connections, deploy, root } from './_fleet.ts'

const dir = mkdtempSync(join(tmpdir(), 'hbmon-fleet-transport-'))
const lab = new Lab({ dir: join(dir, 'lab'), net: '127.0.24' })
test.after(() => lab.down())

const fixtures = join(root, 'test/fleet/fixtures/tasks')
const connectionVars = () => {
  const inventory = readFileSync(lab.inventoryPath, 'utf8')
  return {
    key: /ansible_ssh_private_key_file: (.+)/.exec(inventory)![1]!,
    args: /ansible_ssh_common_args: (.+)/.exec(inventory)![1]!,
  }
}

test('sshd refuses an 11th session channel on one connection (the limit the transport must respect)', async () => {
  await lab.up({ light: 3 })
  const ssh = await new NodeSSH().connect({
    host: '127.0.24.2',
    username: 'root',
    privateKeyPath: labKeyPath(),
    hostVerifier: () => true,
  } as never)
  ssh.connection!.setMaxListeners(50)
  const results = await Promise.allSettled(Array.from({ length: 20 }, () => ssh.execCommand('sleep 1')))
  ssh.dispose()
  const refused = results.filter((r) => r.status === 'rejected' && /open failed/.test(String(r.reason)))
  assert.ok(refused.length >= 10 - 1, `expected ~10 refused channels, got ${refused.length}`)
})

test('a task opening 40 channels at once works: at most 10 are open at a time', async () => {
  const playbook = join(dir, 'channels.yml')
  writeFileSync(
    playbook,
    '- hosts: light01\n  gather_facts: false\n  tasks:\n    - many_channels: { count: 40, seconds: 0.5 }\n',
  )
  const r = await deploy(['-i', lab.inventoryPath, playbook, '-M', fixtures], join(dir, 'channels.json'))
  assert.is(r.code, 0, r.stdout + r.stderr)
  const task = r.report.hosts.light01.tasks[0]
  assert.is(task.data.answered, 40)
  // 40 commands of 0.5 s, 10 at a time: at least 4 rounds.
  assert.ok(task.ms >= 2000, `took ${task.ms} ms: more than 10 channels were open at once`)
})

test('ProxyJump: two hosts through one connection to the jump host', async () => {
  const { key, args } = connectionVars()
  const inventory = join(dir, 'jump.yml')
  writeFileSync(
    inventory,
    `all:
  vars:
    ansible_user: root
    ansible_ssh_private_key_file: ${key}
    ansible_ssh_common_args: ${args} -o ProxyJump=root@127.0.24.2
  hosts:
    light02: { ansible_host: 127.0.24.3 }
    light03: { ansible_host: 127.0.24.4 }
`,
  )
  const playbook = join(dir, 'hostname.yml')
  writeFileSync(
    playbook,
    '- hosts: all\n  gather_facts: false\n  tasks:\n    - command: hostname\n      changed_when: false\n',
  )
  const jump = connections(lab, 'light01')
  const r = await deploy(['-i', inventory, playbook], join(dir, 'jump.json'))
  assert.is(r.code, 0, r.stdout + r.stderr)
  assert.is(r.report.hosts.light02.tasks[0].data.stdout, 'light02')
  assert.is(r.report.hosts.light03.tasks[0].data.stdout, 'light03')
  assert.is(connections(lab, 'light01'), jump + 1, 'one shared connection to the jump host')
})

test('a non-root login user; become via sudo', async () => {
  const setup = await lab.ssh(
    'light02',
    'useradd -m -s /bin/sh -p "*" deployer && install -d -o deployer -m 700 /home/deployer/.ssh && install -o deployer -m 600 /root/.ssh/authorized_keys /home/deployer/.ssh/ && echo "deployer ALL=(ALL) NOPASSWD: ALL" > /etc/sudoers.d/deployer && command -v sudo',
  )
  // setup.sh installs sudo; the sudoers line lives in this host's overlay only.
  assert.is(setup.code, 0, setup.stderr)
  const { key, args } = connectionVars()
  const inventory = (become: boolean) => {
    const file = join(dir, `user-${become}.yml`)
    writeFileSync(
      file,
      `all:\n  hosts:\n    light02:\n      ansible_host: 127.0.24.3\n      ansible_user: deployer\n      ansible_ssh_private_key_file: ${key}\n      ansible_ssh_common_args: ${args}\n      ansible_become: ${become}\n`,
    )
    return file
  }
  const playbook = join(dir, 'whoami.yml')
  writeFileSync(
    playbook,
    '- hosts: all\n  gather_facts: false\n  tasks:\n    - command: id -un\n      changed_when: false\n    - copy: { content: "hi\\n", dest: /tmp/by-deployer }\n',
  )
  const plain = await deploy(['-i', inventory(false), playbook], join(dir, 'user.json'))
  assert.is(plain.code, 0, plain.stdout + plain.stderr)
  assert.is(plain.report.hosts.light02.tasks[0].data.stdout, 'deployer')
  assert.match((await lab.ssh('light02', 'stat -c %U /tmp/by-deployer')).stdout, /^deployer$/m)

  await lab.ssh('light02', 'rm /tmp/by-deployer')
  const become = await deploy(['-i', inventory(true), playbook], join(dir, 'become.json'))
  assert.is(become.code, 0, become.stdout)
  assert.is(become.report.hosts.light02.tasks[0].data.stdout, 'root')
  assert.match((await lab.ssh('light02', 'stat -c %U /tmp/by-deployer')).stdout, /^root$/m)
})

test('a host that dies during a file transfer is unreachable, exit 3: the run neither hangs nor vanishes', async () => {
  // An SFTP request whose host is gone never gets its answer; the run must still end with an honest recap
  // (it once exited with Node's code 13, an await that nothing would ever settle, and no recap at all).
  const big = join(dir, 'big.bin')
  writeFileSync(big, Buffer.alloc(256 * 1024 * 1024, 1))
  const play = join(dir, 'big.yml')
  writeFileSync(
    play,
    `- hosts: light03\n  gather_facts: false\n  tasks:\n    - copy: {src: ${big}, dest: /tmp/big.bin}\n`,
  )
  const run = deploy(['-i', lab.inventoryPath, play], join(dir, 'big.json'))
  let seen = false
  for (let i = 0; i < 600 && !seen; i++) {
    seen = (await lab.ssh('light03', 'ls /tmp/.big.bin.hbmon-*.tmp >/dev/null 2>&1')).code === 0
    if (!seen) await new Promise((r) => setTimeout(r, 100))
  }
  assert.ok(seen, 'the transfer started')
  await lab.kill('light03')
  const result = await run
  rmSync(big)
  assert.is(result.code, 3, result.stdout + result.stderr)
  assert.is(result.report.hosts.light03.stats.unreachable, 1)
  assert.match(result.stdout, /light03 +: ok=0 +changed=0 +unreachable=1/)
})

test('the lab is down', async () => {
  await lab.down()
  assert.not.ok(existsSync(lab.dir))
  rmSync(dir, { recursive: true, force: true })
})

test.run()
