// ansible.cfg: which file is read (checked against `ansible-config dump --only-changed`), its configparser
// syntax, the settings we honour and the ones we refuse or warn about.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFileSync } from 'node:child_process'
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { findConfigFile, loadAnsibleConfig, parseConfig } from '../src/ansible-config.ts'
import { InputError } from '../src/util.ts'
import { tempDir } from './tmp.ts'

const dir = tempDir('hbmon-ansible-config-')
const home = join(dir, 'home')
const cwd = join(dir, 'project')
const elsewhere = join(dir, 'elsewhere')
for (const d of [home, cwd, elsewhere]) mkdirSync(d, { recursive: true })
writeFileSync(join(home, '.ansible.cfg'), '[defaults]\nforks = 11\n')
writeFileSync(join(cwd, 'ansible.cfg'), '[defaults]\nforks = 12\n')
writeFileSync(join(elsewhere, 'ansible.cfg'), '[defaults]\nforks = 13\n')

/** The file Ansible itself reads, from `ansible-config dump`. */
function ansibleReads(env: NodeJS.ProcessEnv, at: string): string | undefined {
  const out = execFileSync('ansible-config', ['dump', '--only-changed'], {
    cwd: at,
    stdio: ['ignore', 'pipe', 'ignore'],
    env: { PATH: process.env.PATH, HOME: home, LANG: 'C.UTF-8', ANSIBLE_NOCOLOR: '1', ...env },
  }).toString()
  return /DEFAULT_FORKS\([^)]*?([^()\s]+\.cfg)\) = (\d+)/.exec(out)?.[1]
}

test('the first of ANSIBLE_CONFIG, ./ansible.cfg, ~/.ansible.cfg is read, as by ansible-config', () => {
  const cases: [NodeJS.ProcessEnv, string][] = [
    [{ ANSIBLE_CONFIG: join(elsewhere, 'ansible.cfg') }, cwd],
    [{ ANSIBLE_CONFIG: elsewhere }, cwd], // a directory: its ansible.cfg
    [{}, cwd],
    [{}, dir], // no ./ansible.cfg: ~/.ansible.cfg
  ]
  for (const [env, at] of cases)
    assert.is(findConfigFile({ HOME: home, ...env }, at), ansibleReads(env, at), JSON.stringify(env))
  chmodSync(cwd, 0o777) // world-writable: skipped, by both
  try {
    assert.is(findConfigFile({ HOME: home }, cwd), join(home, '.ansible.cfg'))
    const warnings: string[] = []
    loadAnsibleConfig((m) => warnings.push(m), { HOME: home }, cwd)
    assert.equal(warnings, [`${join(cwd, 'ansible.cfg')}: not read, the directory is world-writable (as Ansible)`])
    assert.is(ansibleReads({}, cwd), join(home, '.ansible.cfg'))
  } finally {
    chmodSync(cwd, 0o755)
  }
})

test('configparser syntax: = and :, comments, continuation lines, %%', () => {
  const parsed = parseConfig(
    '# top\n[defaults]\nForks = 3 ; inline\nremote_user: deploy\n  ; indented comment\ninventory = a,\n   b\npct = 50%%\n',
    'ansible.cfg',
  )
  const d = parsed.get('defaults')!
  assert.equal(d.get('forks'), ['3', 3])
  assert.equal(d.get('remote_user'), ['deploy', 4])
  assert.equal(d.get('inventory'), ['a,\nb', 6])
  assert.equal(d.get('pct'), ['50%', 8])
})

const bad: [string, RegExp][] = [
  ['forks = 3\n', /ansible\.cfg:1:1: expected a \[section\] header/],
  ['[defaults]\nforks = 3\nforks = 4\n', /ansible\.cfg:3:1: forks is set twice/],
  ['[defaults]\n[defaults]\n', /ansible\.cfg:2:1: section \[defaults\] appears twice/],
  ['[defaults]\nx = %(y)s\n', /ansible\.cfg:2:1: x: %-interpolation is not supported/],
  ['[defaults]\njustakey\n', /ansible\.cfg:2:1: expected key = value/],
]
for (const [text, reason] of bad)
  test(`refused: ${JSON.stringify(text)}`, () => {
    assert.throws(
      () => parseConfig(text, 'ansible.cfg'),
      (e: Error) => e instanceof InputError && reason.test(e.message),
    )
  })

test('honoured settings with their origin; environment beats file; the rest is warned about', () => {
  const at = join(dir, 'settings')
  mkdirSync(at)
  writeFileSync(
    join(at, 'ansible.cfg'),
    '[defaults]\ninventory = hosts, ../other\nremote_user = cfg\nforks = 4\nstdout_callback = yaml\n[privilege_escalation]\nbecome = yes\n',
  )
  const warnings: string[] = []
  const s = loadAnsibleConfig(
    (m) => warnings.push(m),
    { HOME: home, ANSIBLE_REMOTE_USER: 'env', ANSIBLE_PIPELINING: '1' },
    at,
  )
  assert.equal(s.inventory, { value: [join(at, 'hosts'), join(dir, 'other')], origin: `${join(at, 'ansible.cfg')}:2` })
  assert.equal(s.remoteUser, { value: 'env', origin: 'ANSIBLE_REMOTE_USER' })
  assert.equal(s.forks, { value: 4, origin: `${join(at, 'ansible.cfg')}:4` })
  assert.equal(s.become, { value: true, origin: `${join(at, 'ansible.cfg')}:7` })
  assert.equal(warnings, [
    `${join(at, 'ansible.cfg')}: not used by this engine, so without effect: [defaults] stdout_callback (line 5)`,
    'not used by this engine, so without effect: ANSIBLE_PIPELINING',
  ])
})

test('refused: host_key_checking off, prompts, a become method other than sudo, a bad number', () => {
  const refuse = (env: NodeJS.ProcessEnv, reason: RegExp) =>
    assert.throws(
      () => loadAnsibleConfig(() => {}, { HOME: home, ANSIBLE_CONFIG: join(dir, 'none.cfg'), ...env }, dir),
      (e: Error) => e instanceof InputError && reason.test(e.message),
    )
  refuse(
    { ANSIBLE_HOST_KEY_CHECKING: 'False' },
    /ANSIBLE_HOST_KEY_CHECKING: host_key_checking: host keys are always checked/,
  )
  refuse({ ANSIBLE_BECOME_ASK_PASS: 'true' }, /does not prompt/)
  refuse({ ANSIBLE_BECOME_METHOD: 'su' }, /only sudo is supported/)
  refuse({ ANSIBLE_FORKS: 'many' }, /ANSIBLE_FORKS: expected an integer, got "many"/)
})

test.run()
