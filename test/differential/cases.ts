// The differential corpus: small playbooks and inventories, each run by ansible-playbook and by npx deploy
// (see oracle.ts). `$D` is the case's directory on the hosts; registered values are printed into files there
// so that they are compared too. Cases with `refused` must be refused by us before anything connects; cases
// with `deliberate` differ from Ansible on purpose (README, "Deliberate differences").
import { templateCases } from './cases-templates.ts'
import type { Case } from './oracle.ts'
import { moduleCases } from './cases-modules.ts'
import { packageCases } from './cases-packages.ts'
import { playlangCases } from './cases-playlang.ts'
import { roleCases } from './cases-roles.ts'

/** A play over all hosts with gather_facts off; `tasks` is YAML, indented by 4. $D exists already (the
 * harness makes it: hosts sharing an address would race to create it, and each task costs Ansible time). */
function play(tasks: string, head = ''): string {
  return `- hosts: all\n  gather_facts: false\n${head}  tasks:\n${tasks || '    - command: "true"\n'}`
}

/** h1..hN in `all` (N beyond 4 share the four twin addresses: files must be named per host). */
function hosts(n: number, vars = ''): string {
  return `all:\n  hosts:\n${Array.from({ length: n }, (_, i) => `    h${i + 1}:\n`).join('')}${vars}`
}

/** Hosts whose names are in `failing` fail on the command (max_fail_percentage cases). */
function failing(n: number, fail: number[], head: string): Case['playbook'] {
  return play(
    `    - command: /bin/false\n      when: inventory_hostname in [${fail.map((i) => `'h${i}'`).join(', ')}]\n` +
      `    - copy: {dest: "$D/{{ inventory_hostname }}", content: "reached\\n"}\n`,
    head,
  )
}

const vaultFiles: Record<string, string> = {
  'vault-pw': 'correct horse\n',
  'prod-pw': 'prod-pw\n',
  'group_vars/all/inline.yml':
    'db_password: !vault |\n          $ANSIBLE_VAULT;1.1;AES256\n          38616339373261353834646532626661333363313430363164333338613166646534373164386465\n          3661346466333531393733623064616338383638623366640a656338633930356532393831376433\n          30383632383632393932623938343964333131313563646166653735613736363430663466626230\n          3162303831326466350a366637643164623462323161363732373464333131393862333139363862\n          3866\n',
  'group_vars/all/vault.yml':
    '$ANSIBLE_VAULT;1.1;AES256\n63643065636134353564626137643464333136613264323232373135313466313134336537616632\n3661376633366237393038303961636630363030303331380a363936323037636333313864353532\n36326166366365383732653239373939663530383763333834653331306363373762353331323062\n3230356335633465370a303863323630336334316132643130613362353832623964353763633939\n61353232393838393666343937646536643765396337393266393263663362343666\n',
  'group_vars/all/prod.yml':
    'prod_secret: !vault |\n          $ANSIBLE_VAULT;1.2;AES256;prod\n          36393234306366333133623833653163386130363961383539333635633832323434373161343066\n          3631396465626131633639613063616463393634336361350a366330633530626337326630613366\n          65306132653064393137616661316235613636653936336565363738646335303565313535666239\n          6461636438393730620a346463343661636431383932366161353139396231373430396565313864\n          61376433313636326137373836623532373830306563326138313339643535346435\n',
}

export const cases: Case[] = [
  ...templateCases,
  // --- plays, batches, failures --------------------------------------------------------------------------
  {
    name: 'two-plays',
    playbook:
      play(`    - copy: {dest: $D/one, content: "1\\n"}\n`) +
      `- hosts: all\n  gather_facts: false\n  tasks:\n    - copy: {dest: $D/two, content: "2\\n"}\n`,
  },
  {
    name: 'three-plays-host-subsets',
    inventory: `all:\n  children:\n    web:\n      hosts:\n        h1:\n        h2:\n    db:\n      hosts:\n        h3:\n`,
    playbook:
      `- hosts: all\n  gather_facts: false\n  tasks:\n    - file: {path: $D, state: directory}\n` +
      `- hosts: web\n  gather_facts: false\n  tasks:\n    - copy: {dest: $D/web, content: "{{ group_names | join(',') }}\\n"}\n` +
      `- hosts: db\n  gather_facts: false\n  tasks:\n    - copy: {dest: $D/db, content: "{{ inventory_hostname }}\\n"}\n`,
  },
  {
    name: 'failed-host-leaves-later-plays',
    inventory: hosts(3),
    playbook:
      play(`    - command: /bin/false\n      when: inventory_hostname == 'h2'\n`) +
      `- hosts: all\n  gather_facts: false\n  tasks:\n    - copy: {dest: $D/second, content: "{{ ansible_play_hosts | join(',') }}\\n"}\n`,
  },
  {
    name: 'serial-1',
    inventory: hosts(3),
    playbook: play(
      `    - copy: {dest: $D/batch, content: "{{ ansible_play_batch | join(',') }} of {{ ansible_play_hosts_all | join(',') }}\\n"}\n`,
      '  serial: 1\n',
    ),
  },
  {
    name: 'serial-percent-list',
    inventory: hosts(4),
    playbook: play(
      `    - copy: {dest: $D/batch, content: "{{ ansible_play_batch | join(',') }}\\n"}\n`,
      '  serial: ["25%", 2, "100%"]\n',
    ),
  },
  {
    name: 'serial-failure-stops-next-batch',
    inventory: hosts(4),
    playbook: play(
      `    - command: /bin/false\n      when: inventory_hostname == 'h1'\n    - copy: {dest: $D/after, content: "x\\n"}\n`,
      '  serial: 1\n',
    ),
  },
  {
    name: 'serial-fail-whole-batch',
    inventory: hosts(4),
    playbook: play(
      `    - command: /bin/false\n      when: inventory_hostname in ['h3', 'h4']\n    - copy: {dest: $D/after, content: "x\\n"}\n`,
      '  serial: 2\n',
    ),
  },
  {
    name: 'play-hosts-exclude-failed',
    inventory: hosts(3),
    playbook: play(
      `    - command: /bin/false\n      when: inventory_hostname == 'h1'\n` +
        `    - copy: {dest: $D/hosts, content: "{{ ansible_play_hosts | join(',') }} / {{ ansible_play_batch | join(',') }} / {{ ansible_play_hosts_all | join(',') }}\\n"}\n`,
    ),
  },
  {
    name: 'unreachable-host',
    inventory: `all:\n  hosts:\n    h1:\n    h2:\n      ansible_host: DOWN\n`,
    playbook: play(`    - copy: {dest: $D/x, content: "x\\n"}\n`),
  },
  // max_fail_percentage: failed / batch > pct / 100 in floating point, as Ansible's linear strategy.
  { name: 'mfp-3-of-10-at-30', inventory: hosts(10), playbook: failing(10, [2, 5, 9], '  max_fail_percentage: 30\n') },
  {
    name: 'mfp-4-of-10-at-30',
    inventory: hosts(10),
    playbook: failing(10, [2, 5, 8, 9], '  max_fail_percentage: 30\n'),
  },
  { name: 'mfp-1-of-14-at-7', inventory: hosts(14), playbook: failing(14, [3], '  max_fail_percentage: 7\n') },
  { name: 'mfp-0-one-fails', inventory: hosts(4), playbook: failing(4, [4], '  max_fail_percentage: 0\n') },
  {
    name: 'mfp-serial-batches',
    inventory: hosts(6),
    playbook: failing(6, [2, 5], '  serial: 3\n  max_fail_percentage: 34\n'),
  },
  { name: 'mfp-string-percent', inventory: hosts(5), playbook: failing(5, [1], '  max_fail_percentage: "20%"\n') },
  // --- when, register, changed_when, failed_when, ignore_errors ------------------------------------------
  {
    name: 'register-command',
    playbook: play(
      `    - command: echo hello\n      register: r\n` +
        `    - copy: {dest: $D/r, content: "{{ r.rc }} {{ r.stdout }} {{ r.stdout_lines }} {{ r.changed }} {{ r.failed }} {{ r.stderr | length }}\\n"}\n`,
    ),
  },
  {
    name: 'register-skipped-by-when',
    playbook: play(
      `    - command: echo first\n      register: r\n    - command: echo second\n      register: r\n      when: inventory_hostname == 'h1'\n` +
        `    - copy: {dest: $D/r, content: "{{ r.skipped | default('no') }} {{ r.changed }} {{ r.stdout | default('none') }} {{ r.skip_reason | default('') }}\\n"}\n`,
    ),
  },
  {
    name: 'changed-when-false',
    playbook: play(
      `    - command: echo x\n      register: r\n      changed_when: false\n    - copy: {dest: $D/r, content: "{{ r.changed }}\\n"}\n`,
    ),
  },
  {
    name: 'changed-when-on-rc',
    inventory: hosts(3, `  vars:\n    codes: {h1: 0, h2: 3, h3: 4}\n`),
    playbook: play(
      `    - shell: "exit {{ codes[inventory_hostname] }}"\n      register: r\n      changed_when: r.rc == 0\n      failed_when: r.rc not in [0, 3]\n    - copy: {dest: $D/r, content: "{{ r.rc }} {{ r.changed }} {{ r.failed }}\\n"}\n`,
    ),
  },
  {
    name: 'failed-when-stdout',
    playbook: play(
      `    - command: echo ERROR here\n      register: r\n      failed_when: "'ERROR' in r.stdout"\n      when: inventory_hostname == 'h2'\n    - copy: {dest: $D/after, content: "x\\n"}\n`,
    ),
  },
  {
    name: 'failed-when-false-on-throwing-file',
    playbook: play(
      `    - file: {path: $D/missing, state: file}\n      failed_when: false\n      register: r\n    - copy: {dest: $D/r, content: "{{ r.failed }} {{ r.changed }}\\n"}\n`,
    ),
  },
  {
    name: 'failed-when-false-on-failing-command',
    playbook: play(
      `    - command: /bin/false\n      failed_when: false\n      register: r\n    - copy: {dest: $D/r, content: "{{ r.rc }} {{ r.failed }}\\n"}\n`,
    ),
  },
  {
    name: 'ignore-errors',
    playbook: play(
      `    - command: /bin/false\n      ignore_errors: true\n      register: r\n    - copy: {dest: $D/r, content: "{{ r.rc }} {{ r.failed }}\\n"}\n`,
    ),
  },
  {
    name: 'when-list-and-expressions',
    inventory: hosts(3, `  vars:\n    level: 3\n    name_list: [a, b]\n`),
    playbook: play(
      `    - copy: {dest: "$D/{{ item_name }}", content: "x\\n"}\n      vars: {item_name: both}\n      when:\n        - level > 2\n        - "'a' in name_list"\n        - inventory_hostname != 'h3'\n` +
        `    - copy: {dest: $D/none, content: "x\\n"}\n      when: missing is defined or level < 1\n` +
        `    - copy: {dest: $D/neg, content: "x\\n"}\n      when: not (level == 3)\n`,
    ),
  },
  {
    name: 'when-bool-filter',
    inventory: hosts(4, `  vars:\n    flags: {h1: 'yes', h2: 'y', h3: 'on', h4: 'True'}\n`),
    playbook: play(`    - copy: {dest: $D/on, content: "x\\n"}\n      when: flags[inventory_hostname] | bool\n`),
  },
  // --- check mode -----------------------------------------------------------------------------------------
  {
    name: 'check-register-conditions',
    args: ['--check'],
    playbook: play(
      `    - command: echo x\n      register: r\n      changed_when: r.rc != 0\n      failed_when: r.rc > 1\n    - command: echo y\n      register: s\n      changed_when: "'y' in s.stdout"\n`,
    ),
  },
  {
    name: 'check-copy-file',
    args: ['--check'],
    playbook: play(`    - copy: {dest: $D/x, content: "x\\n"}\n    - file: {path: $D/sub, state: directory}\n`),
  },
  {
    name: 'check-mode-false-task',
    args: ['--check'],
    playbook: play(
      `    - command: touch $D/touched\n      check_mode: false\n    - copy: {dest: $D/not, content: "x\\n"}\n`,
    ),
  },
  {
    name: 'check-creates',
    args: ['--check'],
    playbook: play(
      `    - command: touch $D/a\n      args: {creates: $D/nope}\n    - command: touch $D/b\n      args: {removes: $D/nope}\n`,
    ),
  },
  // --- creates / removes -----------------------------------------------------------------------------------
  {
    name: 'creates-injection',
    playbook: play(`    - command: touch $D/ran\n      args:\n        creates: "$D/$(touch $D/PWNED)"\n`),
  },
  {
    name: 'creates-space-and-glob',
    playbook: play(
      `    - copy: {dest: "$D/with space", content: "x\\n"}\n    - command: touch $D/not-run\n      args: {creates: "$D/with space"}\n` +
        `    - command: touch $D/not-run-glob\n      args: {creates: "$D/with*"}\n    - command: touch $D/run\n      args: {removes: "$D/nothing*"}\n`,
    ),
  },
  {
    name: 'creates-relative-to-chdir',
    playbook: play(
      `    - copy: {dest: $D/marker, content: "x\\n"}\n    - command: touch $D/ran\n      args: {chdir: $D, creates: marker}\n`,
    ),
  },
  // --- handlers and tags -------------------------------------------------------------------------------------
  {
    name: 'handlers-notified-once',
    playbook:
      play(
        `    - copy: {dest: $D/a, content: "a\\n"}\n      notify: touch\n    - copy: {dest: $D/b, content: "b\\n"}\n      notify: touch\n    - copy: {dest: $D/a, content: "a\\n"}\n      notify: other\n`,
      ) +
      `  handlers:\n    - name: touch\n      shell: echo ran >> $D/handler\n    - name: other\n      command: touch $D/other\n`,
  },
  {
    name: 'handler-not-on-failed-host',
    playbook:
      play(
        `    - copy: {dest: $D/a, content: "a\\n"}\n      notify: h\n    - command: /bin/false\n      when: inventory_hostname == 'h2'\n`,
      ) + `  handlers:\n    - name: h\n      command: touch $D/handled\n`,
  },
  {
    name: 'handler-listen',
    playbook:
      play(`    - copy: {dest: $D/a, content: "a\\n"}\n      notify: restart things\n`) +
      `  handlers:\n    - name: first\n      command: touch $D/first\n      listen: restart things\n    - name: second\n      command: touch $D/second\n      listen: restart things\n`,
  },
  {
    name: 'tags-only',
    args: ['--tags', 'b'],
    playbook: play(
      `    - copy: {dest: $D/a, content: "a\\n"}\n      tags: [a]\n    - copy: {dest: $D/b, content: "b\\n"}\n      tags: [b]\n    - copy: {dest: $D/u, content: "u\\n"}\n    - copy: {dest: $D/always, content: "x\\n"}\n      tags: [always]\n`,
    ),
  },
  {
    name: 'tags-skip',
    args: ['--skip-tags', 'a'],
    playbook: play(
      `    - copy: {dest: $D/a, content: "a\\n"}\n      tags: [a]\n    - copy: {dest: $D/b, content: "b\\n"}\n      tags: [b]\n    - copy: {dest: $D/never, content: "n\\n"}\n      tags: [never]\n`,
    ),
  },
  // --- vars and their precedence -----------------------------------------------------------------------------
  {
    name: 'vars-precedence',
    inventory: `all:\n  vars: {x: group_all, y: group_all, z: group_all}\n  children:\n    g:\n      vars: {x: group_g, y: group_g}\n      hosts:\n        h1: {x: host}\n        h2:\n`,
    args: ['-e', 'z=extra'],
    playbook: play(
      `    - copy: {dest: $D/v, content: "{{ x }} {{ y }} {{ z }} {{ w }} {{ t }}\\n"}\n      vars: {t: task}\n`,
      '  vars: {y: play, z: play, w: play}\n',
    ),
  },
  {
    name: 'extra-vars-json-and-file',
    args: ['-e', '{"n": 5, "l": [1, 2], "f": 1.0}', '-e', 's=text'],
    playbook: play(
      `    - copy: {dest: $D/v, content: "{{ n }} {{ l }} {{ f }} {{ s }} {{ n is number }} {{ s is string }}\\n"}\n`,
    ),
  },
  {
    name: 'registered-beats-play-vars',
    playbook: play(
      `    - command: echo reg\n      register: r\n    - copy: {dest: $D/v, content: "{{ r.stdout }}\\n"}\n`,
      '  vars: {r: {stdout: play}}\n',
    ),
  },
  {
    name: 'magic-vars',
    inventory: `all:\n  children:\n    web:\n      hosts:\n        h1.example:\n          ansible_host: ADDR1\n    db:\n      hosts:\n        h2:\n`,
    playbook: play(
      `    - copy: {dest: $D/m, content: "{{ inventory_hostname }} {{ inventory_hostname_short }} {{ group_names }} {{ groups.web }} {{ groups['all'] | length }} {{ ansible_check_mode }}\\n"}\n`,
    ),
  },
  {
    name: 'connection-vars-from-extra-vars',
    inventory: `all:\n  hosts:\n    h1:\n      ansible_host: DOWN\n`,
    args: ['-e', 'ansible_host=ADDR(h1)', '-e', 'ansible_port=22'],
    playbook: play(`    - copy: {dest: $D/x, content: "reached\\n"}\n`),
  },
  {
    name: 'connection-vars-from-play-vars',
    playbook: play(
      `    - command: id -un\n      register: r\n    - copy: {dest: $D/user, content: "{{ r.stdout }}\\n"}\n`,
      '  vars: {ansible_user: deployer, ansible_become: true}\n',
    ),
  },
  {
    name: 'become-non-root-user',
    inventory: `all:\n  hosts:\n    h1:\n    h2:\n  vars:\n    ansible_user: deployer\n    ansible_become: true\n`,
    playbook: play(
      `    - command: id -un\n      register: r\n    - copy: {dest: $D/user, content: "{{ r.stdout }}\\n", owner: deployer, mode: "0640"}\n`,
    ),
  },
  {
    name: 'no-become-non-root-user',
    inventory: `all:\n  hosts:\n    h1:\n  vars:\n    ansible_user: deployer\n`,
    playbook: `- hosts: all\n  gather_facts: false\n  tasks:\n    - command: id -un\n      register: r\n    - file: {path: $D, state: directory}\n`,
  },
  {
    name: 'become-password',
    inventory: `all:\n  hosts:\n    h1:\n  vars:\n    ansible_user: carol\n    ansible_become: true\n    ansible_become_password: carol-sudo-pw\n`,
    playbook: play(
      `    - command: id -un\n      register: r\n    - copy: {dest: $D/user, content: "{{ r.stdout }}\\n"}\n`,
    ),
  },
  {
    name: 'become-wrong-password',
    inventory: `all:\n  hosts:\n    h1:\n  vars:\n    ansible_user: carol\n    ansible_become: true\n    ansible_become_password: wrong\n`,
    playbook: `- hosts: all\n  gather_facts: false\n  tasks:\n    - command: id -un\n`,
  },
  // --- files ---------------------------------------------------------------------------------------------------
  {
    name: 'copy-modes-owners',
    playbook: play(
      `    - copy: {dest: $D/a, content: "a\\n", mode: "0600"}\n    - copy: {dest: $D/b, content: "b\\n", mode: "0755", owner: deployer, group: deployer}\n` +
        `    - copy: {dest: $D/a, content: "a\\n", mode: "0640"}\n    - copy: {dest: $D/c, content: "", mode: 0444}\n`,
    ),
  },
  {
    name: 'copy-idempotent',
    playbook: play(
      `    - copy: {dest: $D/a, content: "a\\n"}\n    - copy: {dest: $D/a, content: "a\\n"}\n    - copy: {dest: $D/a, content: "b\\n"}\n`,
    ),
  },
  {
    name: 'copy-src-file',
    files: { 'files/payload.txt': 'payload\nline 2\n' },
    playbook: play(
      `    - copy: {src: payload.txt, dest: $D/payload, mode: "0600"}\n    - copy: {src: payload.txt, dest: $D/}\n`,
    ),
  },
  {
    name: 'copy-content-list-and-number',
    playbook: play(
      `    - copy: {dest: $D/list, content: "{{ [1, 'a', {'k': true}] }}"}\n    - copy: {dest: $D/num, content: "{{ 5 }}"}\n`,
    ),
  },
  {
    name: 'file-states',
    playbook: play(
      `    - file: {path: $D/d1/d2, state: directory, mode: "0750"}\n    - file: {path: $D/t, state: touch, mode: "0600"}\n` +
        `    - copy: {dest: $D/gone, content: "x\\n"}\n    - file: {path: $D/gone, state: absent}\n    - file: {path: $D/never, state: absent}\n    - file: {path: $D/t, mode: "0644"}\n`,
    ),
  },
  {
    name: 'file-missing-fails',
    playbook: play(
      `    - file: {path: $D/missing, state: file}\n      when: inventory_hostname == 'h1'\n    - copy: {dest: $D/after, content: "x\\n"}\n`,
    ),
  },
  {
    name: 'shell-pipes-and-stdin',
    playbook: play(
      `    - shell: "printf 'b\\\\na\\\\n' | sort > $D/sorted; echo $((2+3))"\n      register: r\n    - copy: {dest: $D/r, content: "{{ r.stdout }}\\n"}\n    - command: cat\n      args: {stdin: "from stdin"}\n      register: s\n    - copy: {dest: $D/s, content: "{{ s.stdout }}\\n"}\n`,
    ),
  },
  {
    name: 'command-quoting',
    playbook: play(
      `    - command: printf '%s|' "a b" 'c d' e\\ f $HOME '*'\n      register: r\n    - copy: {dest: $D/r, content: "{{ r.stdout }}\\n"}\n`,
    ),
  },
  // --- templates ------------------------------------------------------------------------------------------------
  {
    name: 'template-values',
    inventory: hosts(
      2,
      `  vars:\n    l: [a, "it's", 1, 1.0, 2.5, true, null]\n    d: {k: v, n: 1}\n    f: 1.0\n    e: 1.5e-7\n    big: 1.0e+20\n    i: 12\n    s: "x'y\\"z"\n    yes_text: 'y'\n    num_text: '12abc'\n`,
    ),
    files: {
      'templates/values.j2':
        'list={{ l }}\ndict={{ d }}\nf={{ f }} e={{ e }} big={{ big }} i={{ i }}\ns={{ s }} {{ [s] }}\nbool={{ yes_text | bool }} {{ "yes" | bool }} {{ "1" | bool }} {{ 1 | bool }} {{ 0 | bool }} {{ "TRUE" | bool }}\nint={{ num_text | int }} {{ "12" | int }} {{ "1.9" | int }} {{ 3.7 | int }} {{ " 7 " | int }} {{ true | int }}\nnone=[{{ none }}] {{ none | string }}\n{# a comment #}end {{ l | length }} {{ "abc" | length }}\n',
    },
    playbook: play(`    - template: {src: values.j2, dest: $D/values}\n`),
  },
  {
    name: 'template-filters',
    inventory: hosts(2, `  vars:\n    name: Light\n    words: [b, a]\n    path: "/srv/a b"\n`),
    files: {
      'templates/f.j2':
        '{{ name | lower }} {{ name | upper }} {{ "  x " | trim }} {{ words | join("-") }} {{ words | length }}\n{{ missing | default("dflt") }} {{ "" | default("empty", true) }} {{ missing | d(3) }} {{ name | string }}\n{{ path | quote }} {{ name ~ "-" ~ 3 }} {{ words[1] }} {{ name is defined }} {{ missing is undefined }}\n{{ 3 is number }} {{ name is string }} {{ none is none }} {{ true is true }} {{ false is false }}\n',
    },
    playbook: play(`    - template: {src: f.j2, dest: $D/f, mode: "0600"}\n`),
  },
  {
    name: 'template-tests-on-types',
    inventory: hosts(
      1,
      `  vars:\n    i: 3\n    f: 2.0\n    g: 2.5\n    s: text\n    b: false\n    l: [1]\n    d: {a: 1}\n    n: null\n`,
    ),
    files: {
      'templates/t.j2':
        'i: {{ i is number }} {{ i is integer }} {{ i is float }} {{ i is string }} {{ i is boolean }}\n' +
        'f: {{ f is number }} {{ f is integer }} {{ f is float }} {{ f }} {{ f | int }} {{ f | string }} {{ [f] }}\n' +
        'g: {{ g is float }} {{ g | int }} {{ g }}\n' +
        's: {{ s is string }} {{ s is sequence }} {{ s is mapping }} {{ s | length }} {{ s | upper }}\n' +
        'b: {{ b is boolean }} {{ b is false }} {{ b | bool }} {{ b | int }} {{ b | string }}\n' +
        'l: {{ l is sequence }} {{ l is mapping }} {{ l | length }} {{ l | join("+") }}\n' +
        'd: {{ d is mapping }} {{ d is sequence }} {{ d | length }} {{ d.a }} {{ d["a"] }}\n' +
        'n: {{ n is none }} {{ n is defined }} [{{ n }}] {{ n | default("dflt") }} {{ n | default("dflt", true) }}\n',
    },
    playbook: play(`    - template: {src: t.j2, dest: $D/t}\n`),
  },
  {
    name: 'template-vars-referencing-vars',
    inventory: hosts(
      2,
      `  vars:\n    base: /srv\n    app: "{{ base }}/app"\n    url: "http://{{ inventory_hostname }}:{{ port }}"\n    port: 8080\n`,
    ),
    playbook: play(`    - copy: {dest: $D/v, content: "{{ app }} {{ url }}\\n"}\n`),
  },
  {
    name: 'template-undefined-fails',
    playbook: play(
      `    - copy: {dest: $D/v, content: "{{ nope }}\\n"}\n      when: inventory_hostname == 'h2'\n    - copy: {dest: $D/after, content: "x\\n"}\n`,
    ),
  },
  // --- limit ---------------------------------------------------------------------------------------------------
  {
    name: 'limit-host',
    inventory: hosts(3),
    args: ['-l', 'h2'],
    playbook: play(`    - copy: {dest: $D/x, content: "{{ ansible_play_hosts_all | join(',') }}\\n"}\n`),
  },
  {
    name: 'limit-last-wins',
    inventory: hosts(3),
    args: ['-l', 'h1', '-l', 'h3'],
    playbook: play(`    - copy: {dest: $D/x, content: "x\\n"}\n`),
  },
  {
    name: 'limit-exclude-group',
    inventory: `all:\n  children:\n    a:\n      hosts:\n        h1:\n        h2:\n    b:\n      hosts:\n        h3:\n`,
    args: ['-l', 'all:!a'],
    playbook: play(`    - copy: {dest: $D/x, content: "x\\n"}\n`),
  },
  // --- more rollout behaviour -----------------------------------------------------------------------------------
  {
    name: 'handlers-per-batch',
    inventory: hosts(3),
    playbook:
      play(`    - copy: {dest: $D/a, content: "a\\n"}\n      notify: h\n`, '  serial: 2\n') +
      `  handlers:\n    - name: h\n      copy: {dest: $D/handled, content: "{{ ansible_play_batch | join(',') }}\\n"}\n`,
  },
  {
    name: 'changed-when-false-no-notify',
    playbook:
      play(`    - command: echo x\n      changed_when: false\n      notify: h\n`) +
      `  handlers:\n    - name: h\n      command: touch $D/handled\n`,
  },
  {
    name: 'check-diff',
    args: ['--check', '--diff'],
    playbook: play(
      `    - copy: {dest: $D/a, content: "a\\n"}\n    - file: {path: $D/d, state: directory}\n    - file: {path: $D/gone, state: absent}\n`,
    ),
  },
  {
    name: 'gather-facts',
    inventory: hosts(1),
    playbook: `- hosts: all\n  tasks:\n    - copy: {dest: $D/facts, content: "{{ ansible_hostname | length }} {{ ansible_kernel }} {{ ansible_architecture }} {{ ansible_facts.hostname is string }}\\n"}\n`,
  },
  {
    name: 'failed-when-list',
    playbook: play(
      `    - command: echo out\n      register: r\n      failed_when:\n        - r.rc == 0\n        - inventory_hostname == 'h2'\n    - copy: {dest: $D/after, content: "x\\n"}\n`,
    ),
  },
  {
    name: 'when-on-registered',
    inventory: hosts(3, `  vars:\n    codes: {h1: 0, h2: 1, h3: 2}\n`),
    playbook: play(
      `    - shell: "exit {{ codes[inventory_hostname] }}"\n      register: r\n      ignore_errors: true\n    - copy: {dest: $D/ok, content: "{{ r.rc }}\\n"}\n      when: r.rc == 0 or r.rc is not defined\n    - copy: {dest: $D/failed, content: "{{ r.failed }}\\n"}\n      when: r is failed\n    - copy: {dest: $D/tests, content: "{{ r is succeeded }} {{ r is changed }} {{ r is skipped }} {{ r is mapping }} {{ r.rc is integer }}\\n"}\n`,
    ),
  },
  {
    name: 'extra-vars-beat-registered',
    args: ['-e', 'r=extra'],
    playbook: play(`    - command: echo reg\n      register: r\n    - copy: {dest: $D/v, content: "{{ r }}\\n"}\n`),
  },
  {
    name: 'timeout-and-stdin-free-form',
    playbook: play(
      `    - shell: cat\n      args: {stdin: "a\\nb"}\n      register: r\n      timeout: 20\n    - copy: {dest: $D/r, content: "{{ r.stdout_lines | length }} {{ r.stdout_lines }}\\n"}\n`,
    ),
  },
  {
    name: 'unreachable-counts-for-max-fail',
    inventory: `all:\n  hosts:\n    h1:\n    h2:\n    h3:\n      ansible_host: DOWN\n`,
    playbook: play(
      `    - copy: {dest: $D/x, content: "x\\n"}\n    - copy: {dest: $D/y, content: "y\\n"}\n`,
      '  max_fail_percentage: 20\n',
    ),
    deliberate:
      'unreachable hosts count towards max_fail_percentage: a host we could not update is a failed rollout step',
  },
  {
    name: 'unknown-host-key-fails',
    inventory: `all:\n  hosts:\n    h1:\n      ansible_ssh_common_args: -o ControlPath=none -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes\n    h2:\n`,
    playbook: play(`    - copy: {dest: $D/x, content: "x\\n"}\n`),
    deliberate:
      'a host key that is unknown, changed or revoked fails the host (Ansible: UNREACHABLE): it is not a host that is down',
  },
  {
    name: 'ssh-options-honoured',
    inventory: `all:\n  hosts:\n    h1:\n    h2:\n  vars:\n    ansible_user: null\n    ansible_ssh_private_key_file: null\n    ansible_ssh_common_args: -o UserKnownHostsFile=KNOWN_HOSTS -o StrictHostKeyChecking=yes -o User=deployer -o IdentityFile=LAB_KEY -o Port=22 -o ControlPath=none -o ServerAliveInterval=5\n`,
    playbook: play(
      `    - command: id -un\n      register: r\n    - shell: echo "{{ r.stdout }}" > $D/user\n      args: {creates: $D/user}\n`,
    ),
  },
  {
    name: 'ssh-host-key-alias',
    inventory: `all:\n  hosts:\n    h1:\n      ansible_ssh_common_args: -o UserKnownHostsFile=ALIAS_KNOWN_HOSTS -o HostKeyAlias=hk-h1 -o StrictHostKeyChecking=yes -o ControlPath=none\n    h2:\n      ansible_ssh_common_args: -o UserKnownHostsFile=ALIAS_KNOWN_HOSTS -o HostKeyAlias=hk-h2 -o ControlPath=none\n`,
    playbook: play(`    - copy: {dest: $D/x, content: "x\\n"}\n`),
  },
  {
    name: 'refuse-vars-files',
    refused: /"vars_files" is not supported/,
    playbook: play('', '  vars_files: [vars.yml]\n'),
  },
  // --- more conditions, registers and files ------------------------------------------------------------------
  {
    name: 'when-string-false',
    inventory: hosts(2, `  vars:\n    flag: "false"\n    empty: ""\n    zero: 0\n`),
    playbook: play(
      `    - copy: {dest: $D/flag, content: "x\\n"}\n      when: flag\n    - copy: {dest: $D/empty, content: "x\\n"}\n      when: empty\n    - copy: {dest: $D/zero, content: "x\\n"}\n      when: zero\n    - copy: {dest: $D/bool, content: "x\\n"}\n      when: flag | bool\n`,
    ),
  },
  {
    name: 'when-undefined-fails',
    playbook: play(
      `    - copy: {dest: $D/x, content: "x\\n"}\n      when: nope == 1 and inventory_hostname == 'h1'\n    - copy: {dest: $D/after, content: "x\\n"}\n`,
    ),
  },
  {
    name: 'changed-when-undefined-fails',
    playbook: play(`    - command: echo x\n      changed_when: nope\n    - copy: {dest: $D/after, content: "x\\n"}\n`),
  },
  {
    name: 'register-copy-and-file',
    playbook: play(
      `    - copy: {dest: $D/a, content: "a\\n"}\n      register: c\n    - file: {path: $D/d, state: directory}\n      register: f\n    - copy: {dest: $D/r, content: "{{ c.dest }} {{ c.changed }} {{ f.changed }} {{ c.failed }}\\n"}\n`,
    ),
  },
  {
    name: 'extra-vars-file',
    args: ['-e', '@extra.yml', '-e', 'b=cli'],
    files: { 'extra.yml': 'a: from-file\nb: from-file\nn: 3\n' },
    playbook: play(`    - copy: {dest: $D/v, content: "{{ a }} {{ b }} {{ n + 0 if false else n }}\\n"}\n`).replace(
      ' {{ n + 0 if false else n }}',
      ' {{ n }}',
    ),
  },
  {
    name: 'check-mode-true-task',
    playbook: play(
      `    - copy: {dest: $D/not, content: "x\\n"}\n      check_mode: true\n    - command: touch $D/cmd\n      check_mode: true\n      register: r\n    - copy: {dest: $D/r, content: "{{ r.skipped | default(false) }} {{ r.changed }}\\n"}\n`,
    ),
  },
  {
    name: 'check-mode-handlers',
    args: ['--check'],
    playbook:
      play(`    - copy: {dest: $D/a, content: "a\\n"}\n      notify: h\n`) +
      `  handlers:\n    - name: h\n      copy: {dest: $D/h, content: "h\\n"}\n`,
  },
  {
    name: 'copy-force-false',
    playbook: play(
      `    - copy: {dest: $D/a, content: "first\\n"}\n    - copy: {dest: $D/a, content: "second\\n", force: false}\n    - copy: {dest: $D/b, content: "new\\n", force: false}\n`,
    ),
  },
  {
    name: 'command-argv-and-shell-chdir',
    playbook: play(
      `    - command:\n        argv: [printf, "%s-", "a b", "$HOME"]\n      register: r\n    - shell: pwd > out\n      args: {chdir: $D}\n    - copy: {dest: $D/r, content: "{{ r.stdout }}\\n"}\n`,
    ),
  },
  {
    name: 'touch-always-changed',
    playbook: play(
      `    - file: {path: $D/t, state: touch}\n    - file: {path: $D/t, state: touch}\n    - file: {path: $D/t, state: file}\n`,
    ),
  },
  {
    name: 'serial-max-fail-stops-later-play',
    inventory: hosts(4),
    playbook:
      failing(4, [1], '  serial: 2\n  max_fail_percentage: 0\n') +
      `- hosts: all\n  gather_facts: false\n  tasks:\n    - copy: {dest: "$D/second-{{ inventory_hostname }}", content: "x\\n"}\n`,
  },
  {
    name: 'play-tags',
    args: ['--tags', 'p2'],
    playbook:
      play(`    - copy: {dest: $D/one, content: "1\\n"}\n`, '  tags: [p1]\n') +
      `- hosts: all\n  gather_facts: false\n  tags: [p2]\n  tasks:\n    - copy: {dest: $D/two, content: "2\\n"}\n`,
  },
  {
    name: 'limit-excludes-a-play',
    inventory: `all:\n  children:\n    a:\n      hosts:\n        h1:\n    b:\n      hosts:\n        h2:\n`,
    args: ['-l', 'a,ghost'],
    playbook:
      play(`    - copy: {dest: $D/one, content: "1\\n"}\n`) +
      `- hosts: b\n  gather_facts: false\n  tasks:\n    - copy: {dest: $D/two, content: "2\\n"}\n- hosts: nomatch\n  gather_facts: false\n  tasks:\n    - copy: {dest: $D/three, content: "3\\n"}\n`,
  },
  // --- an Ansible user's files: INI beside the YAML inventory, group_vars/ and host_vars/ (issue 12) ---------
  {
    name: 'ini-inventory-second-source',
    inventory: hosts(3),
    args: ['-i', 'hosts'],
    files: {
      hosts:
        "[web]\nh1\nh3 role=edge\n[web:vars]\nansible_user=deployer\ncolor='blue'\nsize=3\n[db]\nh2 role=primary\n[prod:children]\nweb\ndb\n",
    },
    playbook: play(
      `    - command: id -un\n      register: who\n` +
        `    - copy: {dest: "$D/{{ inventory_hostname }}", content: "{{ who.stdout }} {{ color | default('-') }} {{ size | default(0) }} {{ size is number }} {{ role | default('none') }} {{ group_names | join(',') }}\\n"}\n`,
    ),
  },
  {
    name: 'group-vars-host-vars-files',
    inventory: `all:\n  children:\n    web:\n      hosts:\n        h1:\n        h2:\n    db:\n      hosts:\n        h3:\n  vars:\n    level: inventory\n`,
    files: {
      'group_vars/all/01-base.yml': 'level: group_vars_all\ngreeting: hello\n',
      'group_vars/all/02-more': 'ports: [80, 443]\n',
      'group_vars/web.yml': 'level: group_vars_web\n',
      'group_vars/db.json': '{"level": "group_vars_db", "ansible_user": "deployer"}\n',
      'host_vars/h2.yml': 'level: host_vars_h2\nansible_user: deployer\n',
    },
    playbook: play(
      `    - command: id -un\n      register: who\n` +
        `    - copy: {dest: "$D/{{ inventory_hostname }}", content: "{{ who.stdout }} {{ level }} {{ greeting }} {{ ports | join(',') }}\\n"}\n`,
    ),
  },
  {
    name: 'ansible-cfg-remote-user-become',
    inventory: `all:\n  hosts:\n    h1:\n    h2:\n  vars:\n    ansible_user: null\n`,
    files: {
      'ansible.cfg':
        '[defaults]\nremote_user = deployer\nforks = 1\ntimeout = 20 ; seconds\n[privilege_escalation]\nbecome = True\nbecome_user = root\n',
    },
    playbook: play(
      `    - shell: echo "$(id -un) $SUDO_USER"\n      register: r\n    - copy: {dest: "$D/{{ inventory_hostname }}", content: "{{ r.stdout }}\\n"}\n`,
    ),
  },
  {
    name: 'ssh-config-hostname-user-port',
    inventory: `all:\n  hosts:\n    h1:\n      ansible_host: alias-h1\n    h2:\n  vars:\n    ansible_user: null\n    ansible_ssh_common_args: -F ssh_config -o UserKnownHostsFile=KNOWN_HOSTS -o StrictHostKeyChecking=yes\n`,
    files: {
      ssh_config:
        '# first match wins\nHost alias-h1\n  HostName ADDR(h1)\n  User deployer\n  Port 22\nHost alias-*\n  User carol\nHost *\n  User root\n  Port 22\n',
    },
    playbook: play(
      `    - command: id -un\n      register: r\n    - copy: {dest: "$D/{{ inventory_hostname }}", content: "{{ r.stdout }}\\n"}\n`,
    ),
  },
  // Made by Debian's ansible-vault (encrypt_string, encrypt, --vault-id prod@): the passwords are in vault-pw
  // and prod-pw.
  {
    name: 'vault-values-and-files',
    args: ['--vault-password-file', 'vault-pw', '--vault-id', 'prod@prod-pw', '--diff'],
    files: vaultFiles,
    playbook: play(
      `    - copy: {dest: "$D/secret", content: "{{ db_password }} {{ api_token }} {{ prod_secret }}\\n", mode: "0600"}\n` +
        `    - command: echo "{{ db_password | length }}"\n      register: r\n    - copy: {dest: $D/len, content: "{{ r.stdout }}\\n"}\n`,
    ),
  },
  {
    name: 'refuse-vault-wrong-password',
    refused: /group_vars\/all\/inline\.yml:1:\d+: !vault: no vault secret decrypts it/,
    args: ['--vault-password-file', 'prod-pw'],
    files: vaultFiles,
    playbook: play(''),
  },
  {
    name: 'refuse-vault-no-password',
    refused: /inline\.yml:1:\d+: !vault: this is vault-encrypted and no vault secret was given/,
    files: vaultFiles,
    playbook: play(''),
  },
  {
    name: 'refuse-group-vars-connection-var',
    refused: /group_vars\/all\.yml:1:\d+: .*ansible_port.*expected a port number/,
    files: { 'group_vars/all.yml': 'ansible_port: ssh\n' },
    playbook: play(''),
  },
  // --- refused before anything connects -------------------------------------------------------------------------
  {
    name: 'refuse-vault',
    refused: /!vault: this is vault-encrypted and no vault secret was given/,
    playbook: play(
      `    - copy: {dest: $D/x, content: "{{ secret }}"}\n`,
      `  vars:\n    secret: !vault |\n      $ANSIBLE_VAULT;1.1;AES256\n      6231\n`,
    ),
  },
  {
    name: 'refuse-unsafe',
    refused: /!unsafe is not supported/,
    playbook: play(
      `    - copy: {dest: $D/x, content: "{{ raw }}"}\n`,
      `  vars:\n    raw: !unsafe "{{ not a template }}"\n`,
    ),
  },
  {
    name: 'refuse-unclosed-expression',
    refused: /unexpected "}" \(expected }}\)/,
    playbook: play(`    - copy: {dest: $D/x, content: "{{ inventory_hostname }\\n"}\n`),
  },
  {
    name: 'refuse-unclosed-comment',
    refused: /never closed/,
    playbook: play(`    - copy: {dest: $D/x, content: "{# note\\n"}\n`),
  },
  {
    name: 'refuse-template-file-unclosed',
    refused: /t\.j2.*never closed/,
    files: { 'templates/t.j2': 'a {{ x\n' },
    playbook: play(`    - template: {src: t.j2, dest: $D/t}\n`),
  },
  {
    name: 'refuse-template-src-missing',
    refused: /cannot find nope\.j2/,
    playbook: play(`    - template: {src: nope.j2, dest: $D/t}\n`),
  },
  {
    name: 'refuse-copy-src-missing',
    refused: /cannot find nope\.txt/,
    playbook: play(`    - copy: {src: nope.txt, dest: $D/t}\n`),
  },
  { name: 'refuse-unclosed-quote', refused: /unterminated '/, playbook: play(`    - command: echo 'oops\n`) },
  {
    name: 'refuse-connection-local',
    refused: /ansible_connection.*"local" is not supported/,
    inventory: `all:\n  hosts:\n    h1:\n      ansible_connection: local\n`,
    playbook: play(''),
  },
  {
    name: 'refuse-ssh-option',
    refused: /ssh option Ciphers is not supported/,
    inventory: `all:\n  hosts:\n    h1:\n      ansible_ssh_extra_args: -o Ciphers=aes128-ctr\n`,
    playbook: play(''),
  },
  {
    name: 'refuse-strict-host-key-off',
    refused: /StrictHostKeyChecking=no is not supported/,
    inventory: `all:\n  hosts:\n    h1:\n      ansible_ssh_common_args: -o StrictHostKeyChecking=no\n`,
    playbook: play(''),
  },
  {
    name: 'refuse-unknown-module',
    refused: /unknown task "pip"/,
    playbook: play(`    - pip: {name: requests}\n`),
  },
  {
    name: 'refuse-task-connection-var',
    refused: /connection variables in a task's vars are not supported/,
    playbook: play(`    - command: id\n      vars: {ansible_user: deployer}\n`),
  },
  {
    name: 'refuse-json-unwritable',
    refused: /--json: cannot write the report there/,
    args: ['--json', '/proc/hbmon-nope/report.json'],
    playbook: play(''),
  },
  {
    name: 'refuse-extra-vars-vault',
    refused: /!vault: this is vault-encrypted and no vault secret was given/,
    args: ['-e', '{"x": !vault "abc"}'],
    playbook: play(''),
  },
  ...moduleCases,
  ...packageCases,
  ...playlangCases,
  ...roleCases,
]
