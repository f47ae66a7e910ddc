// Secrets: planted passwords and vault values never appear in any output stream or in the --json report, at
// -vvv too; the become password is tried once (a sudo that keeps asking counts the attempts); a jump host is
// offered none of the target's passwords; --json is written 0600 to a path checked before the run.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Transport } from '../../src/ssh.ts'
import { deploy } from '../fleet/_fleet.ts'
import { labKeyPath } from '../../lab/images.ts'
import { Lab } from '../../lab/lab.ts'
import { tempDir } from '../tmp.ts'
import { type Connection } from '../../src/connection.ts'

const dir = tempDir('hbmon-secrets-')
const lab = new Lab({ dir: join(dir, 'lab'), net: '127.0.43' })
const secrets = {
  ssh: 'SSH-PW-4f1c9e',
  become: 'BECOME-PW-7a2d0b',
  vault: '39653162336437',
  jump: 'JUMP-PW-c0ffee',
}

// A sudo that prompts like sudo, notes each password it reads, and says it is wrong (up to sudo's 3 tries).
const fakeSudo = `#!/bin/sh
prompt='Password:'
while [ $# -gt 0 ]; do case "$1" in -p) prompt=$2; shift 2;; --) shift; break;; *) shift;; esac; done
for try in 1 2 3; do
  printf '%s' "$prompt" >&2
  IFS= read -r pw || { echo "sudo: no password was provided" >&2; exit 1; }
  echo "attempt $try" >> /var/tmp/sudo-attempts
  echo "Sorry, try again." >&2
done
echo "sudo: 3 incorrect password attempts" >&2
exit 1
`

function inventory(extra: string, user = 'root'): string {
  const file = join(dir, `inventory-${Math.random().toString(36).slice(2)}.yml`)
  writeFileSync(
    file,
    `all:\n  hosts:\n    light01:\n      ansible_host: 127.0.43.2\n  vars:\n      ansible_user: ${user}\n      ansible_ssh_private_key_file: ${labKeyPath()}\n` +
      `      ansible_ssh_common_args: -o UserKnownHostsFile=${lab.knownHostsPath}\n      ansible_password: ${secrets.ssh}\n${extra}`,
  )
  return file
}

function leaks(text: string): string[] {
  return Object.entries(secrets)
    .filter(([, s]) => text.includes(s))
    .map(([k]) => k)
}

test('setup: one light host with a sudo that counts password attempts', async () => {
  await lab.up({ light: 1 })
  const r = await lab.ssh(
    'light01',
    `useradd -m -s /bin/sh -p '*' carol && install -d -o carol -m 700 /home/carol/.ssh && install -o carol -m 600 /root/.ssh/authorized_keys /home/carol/.ssh/ && cat > /usr/local/bin/sudo && chmod 755 /usr/local/bin/sudo`,
    { input: fakeSudo },
  )
  assert.is(r.code, 0, r.stderr)
})

test('a wrong become password is tried once, fails the host, and is never printed (-vvv, --json)', async () => {
  const playbook = join(dir, 'become.yml')
  writeFileSync(playbook, '- hosts: all\n  gather_facts: false\n  tasks:\n    - command: id -un\n')
  const json = join(dir, 'out', 'report.json')
  const inv = inventory(`      ansible_become: true\n      ansible_become_password: ${secrets.become}\n`, 'carol')
  const r = await deploy(['-i', inv, playbook, '-vvv'], json)
  assert.is(r.code, 2, r.stdout + r.stderr)
  assert.match(r.stdout, /incorrect password .*tried once/)
  const attempts = (await lab.ssh('light01', 'cat /var/tmp/sudo-attempts')).stdout.trim().split('\n')
  assert.equal(attempts, ['attempt 1'])
  assert.equal(leaks(r.stdout + r.stderr), [])
  assert.equal(leaks(readFileSync(json, 'utf8')), [])
  assert.is(statSync(json).mode & 0o777, 0o600)
})

test('a run at -vvv with passwords in the inventory and -e prints none of them', async () => {
  const playbook = join(dir, 'ok.yml')
  writeFileSync(
    playbook,
    '- hosts: all\n  gather_facts: false\n  tasks:\n    - command: hostname\n      register: r\n    - copy: {dest: /var/tmp/x, content: "{{ r.stdout }}"}\n',
  )
  const json = join(dir, 'ok.json')
  const r = await deploy(
    [
      '-i',
      inventory(`      ansible_become_password: ${secrets.become}\n`),
      playbook,
      '-vvv',
      '--diff',
      '-e',
      `ansible_password=${secrets.ssh}`,
    ],
    json,
  )
  assert.is(r.code, 0, r.stdout + r.stderr)
  assert.equal(leaks(r.stdout + r.stderr + readFileSync(json, 'utf8')), [])
})

test('a vault value is refused before connecting, and its ciphertext is not printed', async () => {
  const playbook = join(dir, 'vault.yml')
  writeFileSync(
    playbook,
    `- hosts: all\n  gather_facts: false\n  vars:\n    secret: !vault |\n      $ANSIBLE_VAULT;1.1;AES256\n      ${secrets.vault}\n  tasks:\n    - command: hostname\n`,
  )
  const r = await deploy(['-i', inventory(''), playbook, '-vvv'])
  assert.is(r.code, 4)
  assert.match(r.stderr, /vault\.yml:4:\d+: !vault: this is vault-encrypted and no vault secret was given/)
  assert.equal(leaks(r.stdout + r.stderr), [])
})

test('an unwritable --json path is refused before the run', async () => {
  const playbook = join(dir, 'ok.yml')
  const r = await deploy(['-i', inventory(''), playbook, '--json', '/proc/nope/report.json'])
  assert.is(r.code, 4)
  assert.match(r.stderr, /--json: cannot write the report there/)
  assert.not.match(r.stdout, /PLAY/)
})

test("a jump host is offered its own user and key, never the target's passwords", async () => {
  const transport = new Transport()
  const opened: Connection[] = []
  // The connection attempts themselves are what is looked at: record them and let them fail.
  ;(transport as unknown as { open: (t: Connection) => Promise<never> }).open = async (t: Connection) => {
    opened.push(t)
    throw new Error('recorded')
  }
  const target: Connection = {
    host: '127.0.43.3',
    port: 22,
    user: 'root',
    keyFile: labKeyPath(),
    password: secrets.ssh,
    become: true,
    becomeUser: 'root',
    becomeMethod: 'sudo',
    becomePassword: secrets.become,
    connection: 'ssh',
    proxyJump: [{ host: '127.0.43.2', port: 22, user: 'jumper' }],
    knownHostsFile: lab.knownHostsPath,
    sshOptions: {},
  }
  await transport.session('t', target).catch(() => {})
  assert.is(opened.length, 1)
  assert.is(opened[0]!.host, '127.0.43.2')
  assert.is(opened[0]!.user, 'jumper')
  assert.is(opened[0]!.password, undefined)
  assert.is(opened[0]!.becomePassword, undefined)
  assert.is(opened[0]!.become, false)
  await transport.closeAll()
})

test('the lab is down', async () => {
  await lab.down()
  assert.not.ok(existsSync(lab.dir))
})

test.run()
