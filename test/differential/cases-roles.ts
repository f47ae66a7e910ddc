// The differential cases of roles and includes (issue 13 part 4): roles: with vars, params, when and tags;
// role defaults, vars and params against inventory, play and extra vars; a role's templates/ and files/; meta
// dependencies run once unless allow_duplicates; role handlers; import_tasks and include_tasks (when on each,
// loops on include_tasks, nesting); import_role and include_role (tasks_from, vars, loops); import_playbook; and
// what we refuse before connecting. The role directories are the case's files (written beside the playbook);
// they write under the play var `d` (the case's directory), as files do not get $D on Ansible's side.
import type { Case } from './oracle.ts'

const head = (extra = '') => `- hosts: all\n  gather_facts: false\n  vars:\n    d: $D\n${extra}`

/** Writes `name` with the given text (a template) into the case's directory. */
const put = (name: string, text: string, extra = '') =>
  `- copy: {dest: "{{ d }}/${name}", content: "${text}\\n"}\n${extra}`

const indent = (text: string, by: number) =>
  text
    .split('\n')
    .map((l) => (l ? ' '.repeat(by) + l : l))
    .join('\n')

// A role `app` with all its parts, a dependency `common` (no params, shared), `greet` (params, twice) and
// `dup` (allow_duplicates).
const appRole: Record<string, string> = {
  'roles/app/defaults/main.yml':
    'a: app-default\nb: app-default\nc: app-default\nd2: app-default\ne: app-default\nport: 80\n',
  'roles/app/vars/main.yml': 'c: app-vars\nf: app-vars\n',
  'roles/app/meta/main.yml':
    'galaxy_info: {author: x}\ndependencies:\n  - common\n  - role: greet\n    who: dep\n  - dup\n',
  'roles/app/tasks/main.yml':
    put('app-{{ tag }}', 'a={{ a }} b={{ b }} c={{ c }} d2={{ d2 }} e={{ e }} f={{ f }} p={{ p | default(0) }}') +
    `- template: {src: app.conf.j2, dest: "{{ d }}/app-{{ tag }}.conf"}\n  notify: restart app\n` +
    `- copy: {src: static.txt, dest: "{{ d }}/static-{{ tag }}.txt"}\n` +
    put('role-name-{{ tag }}', '{{ role_name }}'),
  'roles/app/templates/app.conf.j2': 'port={{ port }} c={{ c }}\n',
  'roles/app/files/static.txt': 'from the role\n',
  'roles/app/handlers/main.yml': `- name: restart app\n  shell: "echo restarted >> {{ d }}/handler"\n`,
  'roles/common/tasks/main.yml': `- shell: "echo common >> {{ d }}/common"\n`,
  'roles/common/defaults/main.yml': 'common_default: yes-common\n',
  'roles/greet/tasks/main.yml': `- shell: "echo {{ who }} >> {{ d }}/greet"\n`,
  'roles/dup/meta/main.yml': 'allow_duplicates: true\n',
  'roles/dup/tasks/main.yml': `- shell: "echo dup >> {{ d }}/dup"\n`,
  // A template and a file of the same names beside the playbook: the role's are found first.
  'templates/app.conf.j2': 'the playbook one\n',
  'files/static.txt': 'the playbook one\n',
}

export const roleCases: Case[] = [
  {
    // roles: a plain name, and `- role:` with vars, params and when; the same role with the same params twice
    // (runs once), a dependency shared by both (once), another with params, one that allows duplicates; role
    // defaults below inventory, role vars above play vars, params above those, -e above all; the role's
    // defaults and vars seen by the play's tasks too; templates/ and files/ of the role first; a role handler
    // notified from each instance, run once.
    name: 'roles-vars-deps-handlers',
    inventory: `all:\n  hosts:\n    h1:\n      b: inventory\n    h2:\n      b: inventory\n      skip_second: true\n`,
    args: ['-e', 'e=extra'],
    files: appRole,
    playbook:
      head(`    c: play\n    d2: play\n    tag: plain\n`) +
      `  roles:\n    - app\n    - app\n    - role: app\n      vars: {tag: second, d2: role-keyword}\n      p: 7\n      when: not (skip_second | default(false))\n` +
      `  tasks:\n` +
      indent(
        put('play', 'a={{ a }} b={{ b }} c={{ c }} d2={{ d2 }} f={{ f }} {{ common_default }} {{ p | default(0) }}'),
        4,
      ),
  },
  {
    // import_tasks (its when and vars on every task it imports) and include_tasks (when once, on the include;
    // a loop with loop_var; its vars as include params above registered vars), nested, from the playbook's
    // directory and from a subdirectory beside the including file.
    name: 'import-include-tasks',
    inventory: `all:\n  hosts:\n    h1:\n      flag: true\n    h2:\n      flag: false\n`,
    files: {
      'steps/first.yml':
        put('first-{{ n }}', '{{ x }} {{ n }}') + `- include_tasks: second.yml\n  vars: {inner: from-first}\n`,
      'steps/second.yml': put('second-{{ n }}', '{{ inner }} {{ n }}'),
      'counted.yml': `- set_fact: {counter: "{{ counter | int + 1 }}"}\n- shell: "echo {{ counter }} >> {{ d }}/counted"\n`,
      'looped.yml': put('item-{{ it.name }}', '{{ it.size }} {{ shared }}'),
    },
    playbook:
      head(`    x: play\n    counter: 0\n`) +
      `  tasks:\n` +
      `    - import_tasks: steps/first.yml\n      vars: {n: imported, x: import-var}\n      when: flag\n` +
      `    - include_tasks: steps/first.yml\n      vars: {n: included}\n      when: flag\n` +
      `    - include_tasks: counted.yml\n    - include_tasks: counted.yml\n      when: counter | int > 5\n` +
      `    - include_tasks: looped.yml\n      loop: [{name: a, size: 1}, {name: b, size: 2}, {name: c, size: 3}]\n      loop_control: {loop_var: it}\n      when: it.size != 2\n      vars: {shared: yes}\n` +
      `    - set_fact: {registered_low: fact}\n` +
      `    - include_tasks: steps/second.yml\n      vars: {inner: "{{ registered_low }}-beaten", n: prec, registered_low: param}\n`,
  },
  {
    // import_role and include_role: tasks_from, vars; include_role in a loop; an import_role'd role's
    // defaults seen by the play's earlier tasks (exported), include_role's not; when on each.
    name: 'import-include-role',
    files: {
      'roles/svc/defaults/main.yml': 'svc_port: 8080\nsvc_name: default\n',
      'roles/svc/tasks/main.yml': put('svc-{{ svc_name }}', 'port {{ svc_port }}'),
      'roles/svc/tasks/extra.yml': put('svc-extra-{{ svc_name }}', 'extra {{ svc_port }}'),
      'roles/other/defaults/main.yml': 'other_default: hidden\n',
      'roles/other/tasks/main.yml': put('other-{{ item }}', '{{ item }} {{ other_default }}'),
    },
    playbook:
      head() +
      `  tasks:\n` +
      indent(put('early', "{{ svc_port }} {{ other_default | default('none') }}"), 4) +
      `    - import_role: {name: svc}\n      vars: {svc_name: imported}\n` +
      `    - import_role: {name: svc, tasks_from: extra}\n      vars: {svc_name: imported}\n      when: inventory_hostname == 'h1'\n` +
      `    - include_role: {name: svc, tasks_from: extra.yml}\n      vars: {svc_name: included, svc_port: 9}\n` +
      `    - include_role: {name: other}\n      loop: [x, y]\n` +
      `    - include_role: {name: other}\n      when: false\n`,
  },
  {
    // import_playbook: the plays of another file (and its own roles/ beside it), in order, between ours.
    name: 'import-playbook',
    files: {
      'sub/other.yml': `- hosts: h1\n  gather_facts: false\n  roles: [mark]\n  tasks:\n    - copy: {dest: $D/other, content: "other\\n"}\n`,
      'sub/roles/mark/tasks/main.yml': `- shell: "echo mark >> $D/mark"\n`,
    },
    playbook:
      `- hosts: all\n  gather_facts: false\n  tasks:\n    - copy: {dest: $D/first, content: "1\\n"}\n` +
      `- import_playbook: sub/other.yml\n` +
      `- hosts: all\n  gather_facts: false\n  tasks:\n    - shell: "ls $D > $D/last-{{ inventory_hostname }}"\n`,
  },
  {
    // --tags: a role's tags (roles: and import_role) reach its tasks; include_tasks' tags select the include
    // only, its tasks run by their own tags.
    name: 'roles-includes-tags',
    args: ['-t', 'deploy'],
    files: {
      'roles/t/tasks/main.yml': put('t-untagged', 'x') + put('t-own', 'x', '  tags: own\n'),
      'inc.yml': put('inc-untagged', 'x') + put('inc-deploy', 'x', '  tags: deploy\n'),
      'imp.yml': put('imp-untagged', 'x'),
    },
    playbook:
      head() +
      `  roles:\n    - role: t\n      tags: deploy\n` +
      `  tasks:\n    - import_tasks: imp.yml\n      tags: deploy\n    - include_tasks: inc.yml\n      tags: deploy\n` +
      `    - include_tasks: inc.yml\n    - import_role: {name: t}\n      tags: other\n`,
  },
  {
    // roles_path from ansible.cfg (relative to it); in a role: include_tasks and import_tasks of the role's own
    // files (ROLE/tasks first), include_role of another role, a template beside the included file; the role's
    // when and become on every task of it.
    name: 'roles-path-and-role-includes',
    files: {
      'ansible.cfg': '[defaults]\nroles_path = shared\n',
      'shared/outer/defaults/main.yml': 'level: outer-default\n',
      'shared/outer/vars/main.yml': 'only_outer: outer-vars\n',
      'shared/outer/tasks/main.yml':
        `- import_tasks: part.yml\n- include_tasks: part.yml\n  vars: {level: included}\n` +
        `- include_role: {name: inner}\n- include_tasks: sub/deep.yml\n`,
      'shared/outer/tasks/part.yml': put('part-{{ level }}', '{{ only_outer }} {{ ansible_user_id | default(1) }}'),
      'shared/outer/tasks/sub/deep.yml': `- template: {src: deep.j2, dest: "{{ d }}/deep"}\n`,
      'shared/outer/templates/deep.j2': '{{ level }} {{ role_name }}\n',
      'shared/inner/tasks/main.yml': put('inner', '{{ level }} {{ only_outer }} {{ role_name }}'),
      'shared/inner/defaults/main.yml': 'level: inner-default\n',
    },
    playbook:
      head() +
      `  roles:\n    - role: outer\n      when: inventory_hostname == 'h1'\n      become: true\n` +
      `  tasks:\n` +
      indent(put('after', '{{ level }}'), 4),
  },
  {
    // pre_tasks, roles, tasks, post_tasks in Play.compile's order; handlers flushed after pre_tasks, before
    // post_tasks and at meta: flush_handlers, each time for the notifications since.
    name: 'pre-post-tasks-flush-handlers',
    files: {
      'roles/r/tasks/main.yml': `- shell: "echo role >> {{ d }}/order"\n  changed_when: true\n  notify: h\n`,
    },
    playbook:
      head() +
      `  pre_tasks:\n    - shell: "echo pre >> {{ d }}/order"\n      notify: h\n` +
      `  roles: [r]\n` +
      `  tasks:\n    - shell: "echo task >> {{ d }}/order"\n    - meta: flush_handlers\n    - shell: "echo task2 >> {{ d }}/order"\n      notify: h\n` +
      `  post_tasks:\n    - shell: "echo post >> {{ d }}/order"\n      notify: h\n` +
      `  handlers:\n    - name: h\n      shell: "echo handler >> {{ d }}/order"\n`,
  },
  {
    name: 'refuse-import-playbook-when',
    refused: /"when" on import_playbook is not supported/,
    files: { 'other.yml': '- hosts: all\n  tasks: []\n' },
    playbook: `- import_playbook: other.yml\n  when: false\n`,
  },
  {
    name: 'refuse-role-argument-specs',
    refused: /argument_specs.*is not supported/,
    files: {
      'roles/spec/meta/main.yml': 'argument_specs:\n  main:\n    options: {x: {type: str}}\n',
      'roles/spec/tasks/main.yml': '- debug: {msg: x}\n',
    },
    playbook: head() + `  roles: [spec]\n`,
  },
  {
    name: 'refuse-include-role-public',
    refused: /"public" of include_role is not supported/,
    files: { 'roles/p/tasks/main.yml': '- debug: {msg: x}\n' },
    playbook: head() + `  tasks:\n    - include_role: {name: p, public: true}\n`,
  },
  {
    // An error in a role's task file names that file and line.
    name: 'refuse-error-in-role-file',
    refused: /roles\/broken\/tasks\/main\.yml:3:\d+: .*unknown task "no_such_module"/,
    files: { 'roles/broken/tasks/main.yml': '- debug: {msg: fine}\n\n- no_such_module: {x: 1}\n' },
    playbook: head() + `  roles:\n    - broken\n`,
  },
  {
    name: 'refuse-loop-on-import-tasks',
    refused: /a loop on import_tasks is not possible/,
    files: { 'x.yml': '- debug: {msg: x}\n' },
    playbook: head() + `  tasks:\n    - import_tasks: x.yml\n      loop: [1, 2]\n`,
  },
  {
    name: 'refuse-missing-role',
    refused: /the role "nowhere" was not found/,
    playbook: head() + `  roles:\n    - nowhere\n`,
  },
  {
    name: 'refuse-templated-include',
    refused: /a templated name in include_tasks is not supported/,
    playbook: head() + `  tasks:\n    - include_tasks: "{{ which }}.yml"\n`,
  },
]
