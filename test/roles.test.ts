// Roles and includes (src/roles.ts, src/playbook.ts): what a play becomes (the steps, the vars layered for each
// task), and every mistake in a role's files or an include refused with the file and line it is at.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  flatTasks,
  isInclude,
  loadPlaybook,
  type Include,
  type Playbook,
  type PlaybookOptions,
} from '../src/playbook.ts'
import { builtinTasks, Registry } from '../src/task.ts'
import { InputError } from '../src/util.ts'
import { tempDir } from './tmp.ts'

const registry = await Registry.load([builtinTasks])

/** A playbook directory with these files; returns the playbook's path. */
function project(files: Record<string, string>): string {
  const dir = tempDir('hbmon-roles-')
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true })
    writeFileSync(join(dir, path), text)
  }
  return join(dir, 'site.yml')
}

const load = (files: Record<string, string>, options: PlaybookOptions = {}): Promise<Playbook> =>
  loadPlaybook(project(files), registry, options)

async function error(files: Record<string, string>, options: PlaybookOptions = {}): Promise<InputError> {
  try {
    await load(files, options)
  } catch (e) {
    if (e instanceof InputError) return e
    throw e
  }
  throw new Error('expected an InputError')
}

const play = (body: string) => `- hosts: all\n  gather_facts: false\n${body}`
const debug = (msg: string) => `- debug: {msg: ${msg}}\n`

test('roles: dependencies first, each instance once, the role vars layered as Ansible does', async () => {
  const { plays } = await load({
    'site.yml': play(
      `  roles:\n    - web\n    - web\n    - role: web\n      vars: {v: kw}\n      p: 1\n      when: x\n`,
    ),
    'roles/web/tasks/main.yml': debug('web'),
    'roles/web/defaults/main.yml': 'd: web-default\n',
    'roles/web/vars/main.yml': 'v: web-vars\n',
    'roles/web/meta/main.yml': 'dependencies: [base, {role: base, q: 2}]\n',
    'roles/base/tasks/main.yml': debug('base'),
    'roles/base/defaults/main.yml': 'd: base-default\nb: base\n',
  })
  const tasks = flatTasks(plays[0]!.tasks)
  assert.equal(
    tasks.map((t) => `${t.role}:${t.args.msg}`),
    ['base:base', 'base:base', 'web:web', 'web:web'],
  )
  const last = tasks[3]!
  assert.equal(last.when, ['x'])
  assert.equal(last.params, { p: 1 })
  assert.equal(last.roleDefaults, { d: 'web-default', b: 'base' })
  assert.equal(last.roleVars, { v: 'web-vars' })
  // Every role's defaults and vars (its `vars:` keyword too) are the play's as well.
  assert.equal(plays[0]!.roleDefaults, { d: 'web-default', b: 'base' })
  assert.equal(plays[0]!.roleVars, { v: 'web-vars' })
  assert.equal(tasks[1]!.params, { q: 2 })
})

test('include_tasks is an Include with its when and loop; import_tasks inherits them', async () => {
  const { plays } = await load({
    'site.yml': play(
      `  tasks:\n    - import_tasks: a.yml\n      when: x\n      tags: t\n    - include_tasks: a.yml\n      when: y\n      loop: [1, 2]\n      vars: {z: 1}\n`,
    ),
    'a.yml': debug('a'),
  })
  const [imported, included] = plays[0]!.tasks
  assert.equal((imported as { when: unknown }).when, ['x'])
  assert.equal((imported as { tags: unknown }).tags, ['t'])
  assert.ok(isInclude(included!))
  const inc = included as Include
  assert.equal(inc.include.when, ['y'])
  assert.equal(inc.include.loop?.value, [1, 2])
  assert.equal((inc.body[0] as { when: unknown }).when, [])
  assert.equal((inc.body[0] as { params: unknown }).params, { z: 1 })
})

test('roles are found in roles_path, and a role file names itself in errors', async () => {
  const elsewhere = tempDir('hbmon-roles-path-')
  mkdirSync(join(elsewhere, 'far/tasks'), { recursive: true })
  writeFileSync(join(elsewhere, 'far/tasks/main.yml'), debug('far'))
  const { plays } = await load({ 'site.yml': play(`  roles: [far]\n`) }, { rolesPath: [elsewhere] })
  assert.is(flatTasks(plays[0]!.tasks)[0]!.role, 'far')

  const e = await error({
    'site.yml': play(`  roles: [bad]\n`),
    'roles/bad/tasks/main.yml': `${debug('ok')}- copy: {dest: /x, bogus: 1}\n`,
  })
  assert.match(e.message, /roles\/bad\/tasks\/main\.yml:2:\d+: 1\.copy/)
})

test('refused: each with its file and line', async () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ 'site.yml': play(`  roles: [nowhere]\n`) }, /site\.yml:3:11: .*the role "nowhere" was not found in/],
    [
      { 'site.yml': play(`  roles: [r]\n`), 'roles/r/defaults/main.yml': '- a\n' },
      /roles\/r\/defaults\/main\.yml:1:1: the defaults of role "r" must be a mapping/,
    ],
    [
      { 'site.yml': play(`  roles: [r]\n`), 'roles/r/meta/main.yml': 'depends: []\n' },
      /roles\/r\/meta\/main\.yml:1:1: depends: "depends" is not a key of a role's meta/,
    ],
    [
      { 'site.yml': play(`  roles: [r]\n`), 'roles/r/meta/main.yml': 'argument_specs: {}\n' },
      /meta\/main\.yml:1:1: .*"argument_specs" in a role's meta is not supported/,
    ],
    [
      { 'site.yml': play(`  roles: [r]\n`), 'roles/r/meta/argument_specs.yml': 'argument_specs: {}\n' },
      /argument_specs\.yml:1:1: role "r": argument_specs .* not supported/,
    ],
    [
      { 'site.yml': play(`  roles: [r]\n`), 'roles/r/meta/main.yml': 'dependencies: [r]\n' },
      /meta\/main\.yml:1:\d+: .*a recursion loop: role "r" depends on itself/,
    ],
    [
      { 'site.yml': play(`  roles:\n    - role: r\n      loop: [1]\n`), 'roles/r/tasks/main.yml': debug('x') },
      /site\.yml:5:7: .*"loop" on a role is not supported/,
    ],
    [
      { 'site.yml': play(`  tasks:\n    - import_role: {name: r, tasks_from: nope}\n`), 'roles/r/tasks/main.yml': '' },
      /site\.yml:4:\d+: .*the role "r" has no tasks file "nope"/,
    ],
    [
      { 'site.yml': play(`  tasks:\n    - include_role: {name: r, apply: {tags: x}}\n`) },
      /site\.yml:4:\d+: .*"apply" of include_role is not supported/,
    ],
    [
      { 'site.yml': play(`  tasks:\n    - include_tasks: {file: a.yml}\n      register: r\n`), 'a.yml': '' },
      /site\.yml:5:7: .*"register" on include_tasks is not supported/,
    ],
    [
      { 'site.yml': play(`  tasks:\n    - import_tasks: a.yml\n      loop: [1]\n`), 'a.yml': '' },
      /site\.yml:5:7: .*a loop on import_tasks is not possible/,
    ],
    [{ 'site.yml': play(`  tasks:\n    - import_tasks: none.yml\n`) }, /site\.yml:4:\d+: .*cannot find the task file/],
    [
      { 'site.yml': play(`  tasks:\n    - import_tasks: a.yml\n`), 'a.yml': '- import_tasks: a.yml\n' },
      /a\.yml:1:1: includes and roles nest more than 40 deep/,
    ],
    [
      { 'site.yml': play(`  tasks:\n    - import_tasks: a.yml\n`), 'a.yml': 'x: 1\n' },
      /a\.yml:1:1: expected a list of tasks/,
    ],
    [
      { 'site.yml': play(`  handlers:\n    - import_tasks: a.yml\n`), 'a.yml': '' },
      /site\.yml:4:\d+: .*"import_tasks" in handlers is not supported/,
    ],
    [{ 'site.yml': `- import_playbook: site.yml\n` }, /site\.yml:1:\d+: .*site\.yml imports itself/],
    [{ 'site.yml': `- import_playbook: x.yml\n  vars: {a: 1}\n` }, /site\.yml:2:3: .*"vars" on import_playbook/],
    [{ 'site.yml': play(`  roles: [ns.col.r]\n`) }, /roles from collections are not supported/],
    [
      { 'site.yml': play(`  roles: [r]\n`), 'roles/r/vars/main.yml': 'x: 1\nansible_user: bob\n' },
      /roles\/r\/vars\/main\.yml:2:1: ansible_user: connection variables in a role's vars are not supported/,
    ],
    [
      { 'site.yml': play(`  roles:\n    - role: r\n      ansible_port: 22\n`), 'roles/r/tasks/main.yml': '' },
      /site\.yml:5:7: .*connection variables as a role's params/,
    ],
    [{ 'site.yml': play(`  tasks:\n    - meta: end_play\n`) }, /site\.yml:4:\d+: .*meta: "end_play" is not supported/],
  ]
  for (const [files, pattern] of cases) {
    const e = await error(files)
    assert.match(e.message, pattern)
  }
})

test('role handlers: notify by name or "role : name"; the last of a name wins', async () => {
  const { plays } = await load({
    'site.yml': play(
      `  roles: [r]\n  tasks:\n    - debug: {msg: x}\n      notify: [h, "r : h"]\n  handlers:\n    - name: h\n      debug: {msg: play}\n`,
    ),
    'roles/r/tasks/main.yml': '',
    'roles/r/handlers/main.yml': '- name: h\n  debug: {msg: role}\n',
  })
  const [fromRole, fromPlay] = plays[0]!.handlers
  assert.equal(fromRole!.listen, ['r : h'])
  assert.equal(fromPlay!.listen, ['h'])
})

test('playbooks/deploy.yml runs the hbmon role (one task list)', async () => {
  const file = fileURLToPath(new URL('../playbooks/deploy.yml', import.meta.url))
  const deploy = await loadPlaybook(file, registry)
  const tasks = flatTasks(deploy.plays[1]!.tasks)
  assert.ok(tasks.length > 10)
  assert.ok(tasks.every((t) => t.role === 'hbmon'))
  assert.is(deploy.plays[1]!.roleDefaults.hbmon_ethertype, '0x88B5')
})

test.run()
