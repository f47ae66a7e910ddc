// Vault secrets made by Debian's ansible-vault (a fresh salt each run) are decrypted and used on the host, and
// never appear in stdout, stderr (-vvv, --diff, a failing task's output) or the --json report; a wrong
// password is exit 4 before any connection; --ask-vault-pass reads stdin when it is not a terminal.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFileSync, spawn } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { labKeyPath } from '../../lab/images.ts'
import { Lab } from '../../lab/lab.ts'
import { ansibleEnv } from '../ansible.ts'
import { connections, root } from '../fleet/_fleet.ts'
import { tempDir } from '../tmp.ts'

const dir = tempDir('hbmon-vault-')
const net = process.env.HBMON_VAULT_NET ?? '127.0.101'
const lab = new Lab({ dir: join(dir, 'lab'), net })
const password = 'vault pass phrase 7'
const inline = 'Inline-Secret-5d1e'
const fromFile = 'File-Secret-a93b'
const multiline = 'PEM-LINE-ONE-1111\nPEM-LINE-TWO-2222\nPEM-LINE-THREE-3333'
const planted = [inline, fromFile, ...multiline.split('\n')]
const project = join(dir, 'project')

function ansibleVault(args: string[], input?: string): string {
  return execFileSync('ansible-vault', args, {
    cwd: project,
    env: ansibleEnv(),
    input,
    stdio: ['pipe', 'pipe', 'ignore'],
  }).toString()
}

function run(args: string[], stdin?: string) {
  return new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn(process.execPath, [join(root, 'bin/deploy.js'), ...args], {
      cwd: project,
      env: { ...process.env, CI: '1', SSH_AUTH_SOCK: '' },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout.on('data', (c: Buffer) => (out += c))
    child.stderr.on('data', (c: Buffer) => (out += c))
    child.stdin.end(stdin ?? '')
    child.on('close', (code) => resolve({ code, out }))
  })
}

const leaks = (text: string) => planted.filter((s) => text.includes(s))

test('setup: one light host; vars encrypted by ansible-vault beside the inventory', async () => {
  await lab.up({ light: 1 })
  mkdirSync(join(project, 'group_vars/all'), { recursive: true })
  writeFileSync(join(project, 'pw'), `${password}\n`)
  writeFileSync(join(project, 'wrong-pw'), 'not it\n')
  writeFileSync(
    join(project, 'group_vars/all/inline.yml'),
    ansibleVault(['encrypt_string', '--vault-password-file', 'pw', '--name', 'inline_secret', inline]),
  )
  writeFileSync(
    join(project, 'group_vars/all/vault.yml'),
    `file_secret: ${fromFile}\npem: |\n  ${multiline.replaceAll('\n', '\n  ')}\n`,
  )
  ansibleVault(['encrypt', '--vault-password-file', 'pw', 'group_vars/all/vault.yml'])
  assert.match(readFileSync(join(project, 'group_vars/all/vault.yml'), 'utf8'), /^\$ANSIBLE_VAULT;1\.1;AES256\n/)
  const host = lab.host('light01') as { address: string }
  writeFileSync(
    join(project, 'hosts'),
    `[web]\nlight01 ansible_host=${host.address} ansible_user=root ansible_ssh_private_key_file=${labKeyPath()} ` +
      `ansible_ssh_common_args='-o UserKnownHostsFile=${lab.knownHostsPath}'\n`,
  )
  writeFileSync(join(project, 'secret.j2'), 'pem:\n{{ pem }}\n')
  writeFileSync(
    join(project, 'play.yml'),
    [
      '- hosts: all',
      '  gather_facts: false',
      '  tasks:',
      '    - copy: {dest: /var/tmp/vault-secret, content: "{{ inline_secret }} {{ file_secret }}\\n", mode: "0600"}',
      '    - template: {src: secret.j2, dest: /var/tmp/vault-pem, mode: "0600"}',
      '    - command: echo "{{ inline_secret }}"',
      '      register: r',
      '    - copy: {dest: /var/tmp/vault-echo, content: "{{ r.stdout }}\\n", mode: "0600"}',
      '    - shell: echo "{{ file_secret }}" >&2; exit 3',
      '      ignore_errors: true',
      '',
    ].join('\n'),
  )
})

test('decrypted, used on the host, and in no output: -vvv, --diff, a failing task, --json', async () => {
  const json = join(dir, 'report.json')
  const r = await run(['-i', 'hosts', 'play.yml', '--vault-password-file', 'pw', '-vvv', '--diff', '--json', json])
  assert.is(r.code, 0, r.out)
  const on = (cmd: string) => lab.ssh('light01', cmd).then((x) => x.stdout)
  assert.is(await on('cat /var/tmp/vault-secret'), `${inline} ${fromFile}\n`)
  // The value ends in a newline and so does the template: Ansible's templar adds back only the newlines the
  // rendering lost (data_newlines - res_newlines), so one, not two.
  assert.is(await on('cat /var/tmp/vault-pem'), `pem:\n${multiline}\n`)
  assert.is(await on('cat /var/tmp/vault-echo'), `${inline}\n`)
  assert.match(r.out, /\*{8}/) // the diff and the failing task's stderr were there, masked
  assert.equal(leaks(r.out), [])
  assert.equal(leaks(readFileSync(json, 'utf8')), [])
  const listed = await run(['-i', 'hosts', '--list-inventory', '--vault-password-file', 'pw', '-vvv'])
  assert.is(listed.code, 0, listed.out)
  assert.equal(leaks(listed.out), [])
})

test('--ask-vault-pass reads the password from stdin when it is not a terminal', async () => {
  const r = await run(['-i', 'hosts', '--list-inventory', '--ask-vault-pass'], `${password}\n`)
  assert.is(r.code, 0, r.out)
  assert.match(r.out, /Vault password: /)
  assert.equal(leaks(r.out), [])
})

test('a wrong password: exit 4 naming the file and line, and no connection', async () => {
  const before = connections(lab, 'light01')
  const r = await run(['-i', 'hosts', 'play.yml', '--vault-password-file', 'wrong-pw'])
  assert.is(r.code, 4, r.out)
  assert.match(
    r.out,
    /group_vars\/all\/inline\.yml:1:\d+: !vault: no vault secret decrypts it \(tried wrong-pw\): wrong password\?/,
  )
  assert.is(connections(lab, 'light01'), before)
})

test('the lab is down', async () => {
  await lab.down()
})

test.run()
