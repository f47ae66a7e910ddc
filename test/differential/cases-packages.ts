// Differential cases for apt and package (issue 13 part 6), and what systemd and service refuse. On light
// hosts: each is an overlay of this machine's /, so apt-get installs from Debian's mirror into the host's
// own upper layer (its /var/lib/dpkg, /var/cache/apt, /usr), never into the machine's. Each case works on
// packages no other case touches (cases run three at a time, and Ansible's apt-get fails at once on a dpkg
// lock another case holds, so each case has a host of its own: h1 to h4). Small packages without daemons:
// hello, sl, cowsay, cmatrix, tree, pv.
import type { Case } from './oracle.ts'

const play = (tasks: string) => `- hosts: all\n  gather_facts: false\n  tasks:\n${tasks}`

// What is installed, and marked manual, after the case: dpkg's own word.
const installed = (names: string[]) =>
  `    - shell: "dpkg-query -W -f '\${Package} \${db:Status-Status}\\\\n' ${names.join(' ')} 2>/dev/null; apt-mark showmanual ${names.join(' ')}; true"
      register: dpkg
`

export const packageCases: Case[] = [
  {
    name: 'apt',
    inventory: 'all:\n  hosts:\n    h1:\n',
    seconds: 400,
    playbook: play(String.raw`    - apt: {name: hello, update_cache: true}
      register: a1
    - apt: {name: hello}
      register: a2
    - apt: {name: hello, state: latest, cache_valid_time: 86400}
      register: a3
    - apt: {name: [hello, sl]}
      register: a4
    - apt: {pkg: "hello,sl", state: absent}
      register: a5
    - apt: {name: hello, state: absent}
      register: a6
    - apt: {name: hbmon-no-such-package}
      register: a7
      ignore_errors: true
    - apt: {name: sl, state: latest}
      register: a8
    - apt: {name: "sl=0.0-nope"}
      register: a9
      ignore_errors: true
    - apt: {name: sl, state: absent, purge: true}
      register: a10
    - apt: {name: mail-transport-agent, state: absent}
      register: a11
${installed(['hello', 'sl'])}    - copy:
        dest: $D/results
        content: |
          {{ a1.changed }}|{{ a1.cache_updated is boolean }}|{{ a1.cache_update_time > 1600000000 }}|{{ 'Setting up hello' in a1.stdout }}|{{ a1.stdout_lines | length > 3 }}|{{ a1.diff }}
          {{ a2.changed }}|{{ a2.cache_updated }}|{{ a2.cache_update_time == a1.cache_update_time }}|{{ a2.stdout | default('none') }}|{{ a3.changed }}|{{ a3.cache_updated }}
          {{ a4.changed }}|{{ 'Setting up sl' in a4.stdout }}|{{ 'Setting up hello' in a4.stdout }}|{{ a5.changed }}|{{ 'Removing hello' in a5.stdout }}|{{ a5.cache_updated | default('none') }}
          {{ a6.changed }}|{{ a6.stdout | default('none') }}|{{ a7.failed }}|{{ a7.msg }}|{{ a8.changed }}|{{ a9.failed }}|{{ a9.msg }}|{{ a9.cache_updated }}
          {{ a10.changed }}|{{ 'Purging configuration files for sl' in a10.stdout or 'Removing sl' in a10.stdout }}|{{ a11.changed }}
          {{ dpkg.stdout }}
`),
  },
  {
    name: 'apt-check-mode',
    inventory: 'all:\n  hosts:\n    h2:\n',
    seconds: 400,
    playbook: play(String.raw`    - apt: {name: cowsay}
      check_mode: true
      register: c1
    - apt: {name: less, state: absent}
      check_mode: true
      register: c2
    - apt: {name: less}
      check_mode: true
      register: c3
    - apt: {update_cache: true}
      check_mode: true
      register: c4
    - apt: {update_cache: true, cache_valid_time: 315360000}
      register: c5
    - apt: {name: hbmon-no-such-package}
      check_mode: true
      register: c6
      ignore_errors: true
${installed(['cowsay', 'less'])}    - copy:
        dest: $D/results
        content: |
          {{ c1.changed }}|{{ c1.cache_updated }}|{{ c2.changed }}|{{ c3.changed }}|{{ c4.changed }}|{{ c4.cache_updated }}
          {{ c5.changed }}|{{ c5.cache_updated }}|{{ c5.cache_update_time > 1600000000 }}|{{ c6.failed }}|{{ c6.msg }}
          {{ dpkg.stdout }}
`),
  },
  {
    name: 'package',
    inventory: 'all:\n  hosts:\n    h3:\n',
    seconds: 400,
    playbook: play(String.raw`    - package: {name: cmatrix, install_recommends: false}
      register: p1
    - package: {name: cmatrix, state: present}
      register: p2
    - package: {name: [tree], state: latest}
      register: p3
    - package: {name: tree, state: absent}
      register: p4
    - package: {name: tree, state: absent}
      register: p5
${installed(['cmatrix', 'kbd', 'tree'])}    - copy:
        dest: $D/results
        content: |
          {{ p1.changed }}|{{ 'Setting up cmatrix' in p1.stdout }}|{{ p1.cache_updated }}|{{ p2.changed }}|{{ p3.changed }}|{{ p4.changed }}|{{ p5.changed }}
          {{ dpkg.stdout }}
`),
  },
  {
    name: 'apt-diff',
    inventory: 'all:\n  hosts:\n    h4:\n',
    seconds: 400,
    args: ['--diff'],
    playbook: play(String.raw`    - apt: {name: pv}
      register: d1
    - apt: {name: pv, state: absent}
      register: d2
    - copy:
        dest: $D/results
        content: |
          {{ d1.changed }}|{{ d1.diff.prepared }}
          {{ d2.changed }}|{{ d2.diff.prepared }}
`),
  },
  {
    name: 'refuse-apt-deb',
    refused: /"deb" is not supported/,
    playbook: play(`    - apt: {deb: /tmp/x.deb}\n`),
  },
  {
    name: 'refuse-apt-autoremove',
    refused: /"autoremove" is not supported/,
    playbook: play(`    - apt: {name: hello, autoremove: true}\n`),
  },
  {
    name: 'refuse-apt-build-dep',
    refused: /present, absent or latest/,
    playbook: play(`    - apt: {name: hello, state: build-dep}\n`),
  },
  {
    name: 'refuse-package-use',
    refused: /auto or apt/,
    playbook: play(`    - package: {name: hello, use: yum}\n`),
  },
  // systemd and service run against a real systemd in test/vm/services.test.ts; here, what is refused.
  {
    name: 'refuse-systemd-user-scope',
    refused: /user and global scopes are not supported/,
    playbook: play(`    - systemd: {name: app, state: started, scope: user}\n`),
  },
  {
    name: 'refuse-service-sysv-pattern',
    refused: /unknown argument "pattern" for service/,
    playbook: play(`    - service: {name: app, state: started, pattern: /usr/bin/app}\n`),
  },
  {
    name: 'refuse-systemd-nothing-to-do',
    refused: /one of the following is required: state, enabled, masked, daemon_reload, daemon_reexec/,
    playbook: play(`    - systemd: {name: app}\n`),
  },
]
