// Playbooks: parsed into typed plays; every mistake is an InputError naming file:line and the path.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { flatTasks, isBlock, parseExtraVars, parsePlaybook, type Block, type PlayTask } from '../src/playbook.ts'
import { builtinTasks, Registry } from '../src/task.ts'
import { tempDir } from './tmp.ts'
import { InputError } from '../src/util.ts'

const registry = await Registry.load([builtinTasks])

function error(text: string): InputError {
  try {
    parsePlaybook(text, 'site.yml', registry)
  } catch (e) {
    if (e instanceof InputError) return e
    throw e
  }
  throw new Error('expected an InputError')
}

test('the built-in tasks are registered from tasks/', () => {
  const hbmon = [
    'access',
    'build',
    'facts',
    'frames_dest',
    'install',
    'load',
    'monitor_address',
    'release',
    'rollback',
    'status',
    'uninstall',
    'verify',
  ].map((t) => `hbmon_${t}`)
  assert.equal(registry.names(), [
    'apt',
    'assert',
    'blockinfile',
    'command',
    'copy',
    'deb_packages',
    'debug',
    'facts',
    'fail',
    'fetch',
    'file',
    'group',
    ...hbmon,
    'lineinfile',
    'package',
    'pause',
    'service',
    'set_fact',
    'shell',
    'stat',
    'systemd',
    'template',
    'user',
    'wait_for',
  ])
})

test('a play with tasks, handlers and keywords becomes typed data', () => {
  const { plays } = parsePlaybook(
    `- name: Web
  hosts: web:&prod
  serial: [1, "25%", 100%]
  max_fail_percentage: 30
  gather_facts: no
  vars: { port: 80 }
  tasks:
    - name: Config
      ansible.builtin.copy: { content: "x", dest: /etc/x, mode: "0644" }
      notify: restart
      tags: [config]
      when: port == 80
    - command: echo hi
      register: out
      changed_when: false
      args: { chdir: /tmp }
  handlers:
    - name: restart
      shell: "true"
`,
    'site.yml',
    registry,
  )
  const play = plays[0]!
  assert.is(play.name, 'Web')
  assert.equal(play.hosts, ['web:&prod'])
  assert.equal(play.serial, [1, '25%', '100%'])
  assert.is(play.maxFailPercentage, 30)
  assert.is(play.gatherFacts, false)
  assert.equal(play.vars, { port: 80 })
  const [copy, command] = flatTasks(play.tasks)
  assert.is(copy!.action, 'copy')
  assert.equal(copy!.notify, ['restart'])
  assert.equal(copy!.when, ['port == 80'])
  assert.is(copy!.line, 8)
  assert.equal(command!.args, { cmd: 'echo hi', chdir: '/tmp' })
  assert.is(command!.name, 'command')
  assert.is(command!.register, 'out')
  assert.equal(command!.changedWhen, [false])
  assert.equal(play.handlers[0]!.listen, ['restart'])
})

test('unknown task, with file:line and the list of tasks', () => {
  const e = error(`- hosts: all\n  tasks:\n    - name: x\n      cpoy: { dest: /x }\n`)
  assert.is(e.file, 'site.yml')
  assert.is(e.line, 4)
  assert.match(
    e.message,
    /site\.yml:4:7: 0\.tasks\.0\.cpoy: unknown task "cpoy" \(known: apt, assert, blockinfile, command, copy/,
  )
})

test('bad task args are checked with the task schema', () => {
  let e = error(
    `- hosts: all\n  gather_facts: false\n  tasks:\n    - copy:\n        dest: /x\n        content: y\n        mode: rwx\n`,
  )
  assert.is(e.line, 7)
  assert.match(e.message, /0\.tasks\.0\.copy\.mode: expected an octal mode/)
  e = error(`- hosts: all\n  tasks:\n    - file: { path: /x, stat: directory }\n`)
  assert.match(e.message, /:3:.*unknown argument "stat" for file \(it takes: path, state, mode, owner, group\)/)
  e = error(`- hosts: all\n  tasks:\n    - copy: { content: x }\n`)
  assert.match(e.message, /:3:.*copy needs "dest"/)
  e = error(`- hosts: all\n  tasks:\n    - file: /tmp/x\n`)
  assert.match(e.message, /file takes a mapping of arguments, not a string/)
})

test('a templated arg is checked per host once rendered, but its syntax now', () => {
  assert.not.throws(() =>
    parsePlaybook(`- hosts: all\n  tasks:\n    - copy: { content: x, dest: /x, mode: "{{ m }}" }\n`, 'p.yml', registry),
  )
  const e = error(`- hosts: all\n  tasks:\n    - copy: { content: x, dest: "{{ a b }}" }\n`)
  assert.is(e.line, 3)
  assert.match(e.message, /unexpected "b"/)
  assert.match(
    error(`- hosts: all\n  tasks:\n    - command: "true"\n      when: x ==\n`).message,
    /:4:.*when: unexpected end/,
  )
})

test('notify must name a handler of the play', () => {
  const e = error(
    `- hosts: all\n  tasks:\n    - command: "true"\n      notify: [restart, reload]\n  handlers:\n    - name: restart\n      command: "true"\n`,
  )
  assert.is(e.line, 4)
  assert.match(e.message, /no handler named "reload" in this play \(handlers: restart\)/)
})

test('play keywords: unknown, unsupported, wrong types, missing hosts', () => {
  assert.match(
    error(`- hosts: all\n  seriall: 2\n`).message,
    /site\.yml:2:3: 0\.seriall: unknown play keyword "seriall"/,
  )
  assert.match(
    error(`- hosts: all\n  roles: [x]\n`).message,
    /site\.yml:2:11: 0\.roles\.0: the role "x" was not found in/,
  )
  assert.match(error(`- hosts: all\n  serial: "a lot"\n`).message, /:2:.*serial: expected a number of hosts/)
  assert.match(
    error(`- hosts: all\n  max_fail_percentage: 150\n`).message,
    /:2:.*max_fail_percentage: expected a percentage between 0 and 100/,
  )
  assert.match(error(`- name: x\n  tasks: []\n`).message, /site\.yml:1:3: 0: a play needs "hosts"/)
  assert.match(
    error(`- hosts: all\n  tasks:\n    - command: a\n      shell: b\n`).message,
    /:4:.*one task per entry, found "command" and "shell"/,
  )
  assert.match(error(`- hosts: all\n  tasks:\n    - name: nothing\n`).message, /:3:.*no task given/)
  assert.match(
    error(`- hosts: all\n  tasks:\n    - command: a\n      with_nested: [[1]]\n`).message,
    /:4:.*"with_nested" is not supported/,
  )
})

test('blocks: a tree of steps; each task settles what its blocks and play say (own value first)', () => {
  const { plays } = parsePlaybook(
    `- hosts: all
  become: true
  any_errors_fatal: true
  tasks:
    - name: outer
      when: a == 1
      tags: [t1]
      vars: { x: 1, y: 1 }
      become_user: carol
      ignore_errors: true
      block:
        - command: one
          when: b == 2
          vars: { y: 2 }
          tags: t2
        - name: inner
          no_log: true
          delegate_to: "{{ groups.db[0] }}"
          block:
            - command: two
              ignore_errors: false
              become: false
          rescue:
            - command: three
      always:
        - command: four
          run_once: true
    - command: five
`,
    'site.yml',
    registry,
  )
  const steps = plays[0]!.tasks
  assert.is(steps.length, 2)
  const outer = steps[0] as Block
  assert.ok(isBlock(outer))
  assert.is(outer.name, 'outer')
  assert.is(outer.line, 5)
  const one = outer.block[0] as PlayTask
  assert.equal(one.when, ['a == 1', 'b == 2'])
  assert.equal(one.tags, ['t1', 't2'])
  assert.equal(one.vars, { x: 1, y: 2 })
  assert.is(one.become, true)
  assert.is(one.becomeUser, 'carol')
  assert.is(one.ignoreErrors, true)
  assert.is(one.anyErrorsFatal, true)
  const inner = outer.block[1] as Block
  const two = inner.block[0] as PlayTask
  assert.is(two.become, false)
  assert.is(two.ignoreErrors, false)
  assert.is(two.noLog, true)
  assert.is(two.delegateTo, '{{ groups.db[0] }}')
  assert.is((inner.rescue[0] as PlayTask).args.cmd, 'three')
  const four = outer.always[0] as PlayTask
  assert.is(four.runOnce, true)
  assert.equal(four.when, ['a == 1'])
  const five = steps[1] as PlayTask
  assert.equal(five.when, [])
  assert.is(five.becomeUser, undefined)
  assert.is(five.become, true)
  assert.equal(
    flatTasks(steps).map((t) => t.args.cmd),
    ['one', 'two', 'three', 'four', 'five'],
  )
})

test('loops and until: the loop kinds, loop_control, retries and delay with Ansible defaults', () => {
  const { plays } = parsePlaybook(
    `- hosts: all
  gather_facts: false
  tasks:
    - command: "echo {{ u }}"
      loop: "{{ users }}"
      loop_control: { loop_var: u, index_var: i, label: "{{ u.name }}" }
    - command: "echo {{ item }}"
      with_items: [a, [b]]
    - command: "echo {{ item.key }}"
      with_dict: { a: 1 }
    - copy: { src: "{{ item }}", dest: /tmp/ }
      with_fileglob: "*.conf"
    - command: "true"
      register: r
      until: r.rc == 0
    - command: "true"
      until: [true]
      retries: 0
      delay: 1
`,
    'site.yml',
    registry,
  )
  const [a, b, c, d, e, f] = flatTasks(plays[0]!.tasks)
  assert.equal(a!.loop, { kind: 'loop', value: '{{ users }}', loopVar: 'u', indexVar: 'i', label: '{{ u.name }}' })
  assert.equal(b!.loop, { kind: 'items', value: ['a', ['b']], loopVar: 'item' })
  assert.equal(c!.loop, { kind: 'dict', value: { a: 1 }, loopVar: 'item' })
  assert.equal(d!.loop, { kind: 'fileglob', value: '*.conf', loopVar: 'item' })
  assert.equal([e!.until, e!.retries, e!.delay, e!.loop], [['r.rc == 0'], 3, 5, undefined])
  assert.equal([f!.until, f!.retries, f!.delay], [[true], 0, 1])
})

test('blocks and loops: what is refused, with file:line', () => {
  const cases: [string, RegExp][] = [
    [`    - command: a\n      loop: not-a-list\n`, /:4:.*loop: expected a list or a template that gives one/],
    [`    - command: a\n      loop: [1]\n      with_items: [2]\n`, /:5:.*one loop per task, found loop and with_items/],
    [`    - command: a\n      loop_control: { loop_var: x }\n`, /:4:.*loop_control without a loop/],
    [
      `    - command: a\n      loop: [1]\n      loop_control: { pause: 1 }\n`,
      /loop_control's "pause" is not supported/,
    ],
    [`    - command: a\n      rescue: []\n`, /:4:.*"rescue" belongs to a block/],
    [`    - block: []\n      loop: [1]\n`, /:4:.*"loop" is not a keyword of a block/],
    [`    - block: []\n      environment: {}\n`, /:4:.*"environment" is not supported/],
    [`    - block: []\n      vars: { ansible_user: x }\n`, /:4:.*connection variables in a block's vars/],
    [`    - hbmon_build: {}\n      loop: [1]\n`, /:3:.*a loop over "hbmon_build" is not supported .*batch phase/],
    [`    - command: a\n      become_method: su\n`, /:4:.*"become_method" is not supported/],
    [`    - command: a\n      become: "yes please"\n`, /:4:.*become: expected a boolean/],
    [`    - command: a\n      delegate_to: "{{ x"\n`, /:4:.*delegate_to: .*never closed/],
    [`    - block:\n        - command: a\n          notify: nope\n`, /:5:.*no handler named "nope"/],
  ]
  for (const [tasks, want] of cases) assert.match(error(`- hosts: all\n  tasks:\n${tasks}`).message, want, tasks)
  assert.match(
    error(`- hosts: all\n  tasks: []\n  handlers:\n    - block: []\n`).message,
    /:4:.*blocks in handlers are not supported/,
  )
})

test('YAML errors and non-lists keep their line', () => {
  const e = error(`- hosts: all\n  tasks:\n    - command: "unclosed\n`)
  assert.ok(e.line >= 3, e.message)
  assert.match(error(`hosts: all\n`).message, /expected a list of plays \(put "- " before "hosts:"\)/)
  assert.match(error(``).message, /the playbook is empty/)
  assert.match(error(`- hosts: all\n  vars: { a: 1, a: 2 }\n`).message, /:2:.*duplicate key "a"/)
})

test('-e: key=value strings, JSON/YAML, @file; later wins', () => {
  const dir = tempDir('hbmon-ev-')
  writeFileSync(join(dir, 'vars.yml'), 'count: 3\nlist: [a, b]\nname: from-file\n')
  const vars = parseExtraVars(['name=one other="two words"', '@vars.yml', '{"json": true}', "last='x y'"], dir)
  assert.equal(vars, { name: 'from-file', other: 'two words', count: 3, list: ['a', 'b'], json: true, last: 'x y' })
  assert.equal(parseExtraVars(['n=5']), { n: '5' }) // strings, as in Ansible
  writeFileSync(join(dir, 'bad.yml'), 'ok: 1\nbad: [\n')
  assert.throws(
    () => parseExtraVars(['@bad.yml'], dir),
    (e: Error) => e instanceof InputError && /bad\.yml:\d+/.test(e.message),
  )
  assert.throws(() => parseExtraVars(['novalue']), /expected key=value/)
  assert.throws(() => parseExtraVars(['@missing.yml'], dir), /cannot read the extra vars file/)
})

test.run()
