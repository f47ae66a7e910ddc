// Differential cases for the everyday modules (issue 13 part 6): lineinfile, blockinfile, set_fact, debug,
// assert, fail, group, stat, user, wait_for, pause. Each case edits
// files the way an SRE's playbook does, repeats tasks to show idempotence, and prints registered results into
// files, so that content, modes and the recap are compared with ansible-playbook's.
import type { Case } from './oracle.ts'

const play = (tasks: string) => `- hosts: all\n  gather_facts: false\n  tasks:\n${tasks}`

export const moduleCases: Case[] = [
  {
    name: 'lineinfile',
    playbook:
      play(String.raw`    - copy: {dest: $D/conf, content: "# comment\nPort 22\n#PermitRootLogin yes\nListen 1\nListen 2\nlast"}
    - lineinfile: {path: $D/conf, regexp: '^#?PermitRootLogin', line: PermitRootLogin no}
      register: r1
    - lineinfile: {path: $D/conf, regexp: '^#?PermitRootLogin', line: PermitRootLogin no}
      register: r1again
    - lineinfile: {path: $D/conf, regexp: '^Port ', line: Port 2222}
    - lineinfile: {path: $D/conf, line: Port 2222}
    - lineinfile: {path: $D/conf, line: added at the end}
      register: r3
    - lineinfile: {path: $D/conf, line: after the last Listen, insertafter: '^Listen'}
    - lineinfile: {path: $D/conf, line: before the first Listen, insertbefore: '^Listen', firstmatch: true}
    - lineinfile: {path: $D/conf, line: top, insertbefore: BOF}
    - lineinfile: {path: $D/conf, line: top, insertbefore: BOF}
    - lineinfile: {path: $D/conf, line: after nothing, insertafter: '^NoSuchLine'}
    - lineinfile: {path: $D/conf, regexp: '^Listen (\d+)$', line: 'Listen 127.0.0.1:\1', backrefs: true}
    - lineinfile: {path: $D/conf, regexp: '^(?P<key>nomatch)', line: 'x \g<key>', backrefs: true}
      register: r4
    - lineinfile: {dest: $D/conf, search_string: '# comm', line: '# replaced comment'}
    - lineinfile: {path: $D/conf, regexp: '^Listen', state: absent}
      register: r5
    - lineinfile: {path: $D/conf, line: zzz, state: absent}
      register: r6
    - lineinfile: {path: $D/new/created, line: hello, create: true, mode: "0600"}
      register: r10
    - lineinfile: {path: $D/new/plain, line: hello, create: true, mode: "0644"}
      register: r11
    - lineinfile: {path: $D/new/created, line: hello, mode: "0640"}
      register: r7
    - lineinfile: {path: $D/missing, line: x}
      register: r8
      ignore_errors: true
    - lineinfile: {path: $D/missing, line: x, state: absent}
      register: r9
    - copy:
        dest: $D/results
        content: |
          {{ r1.msg }}|{{ r1.changed }}|{{ r1again.msg }}|{{ r1again.changed }}|{{ r3.msg }}
          {{ r4.changed }}|{{ r4.msg }}|{{ r5.found }}|{{ r5.msg }}|{{ r6.found }}|{{ r6.changed }}
          {{ r7.msg }}|{{ r8.failed }}|{{ r8.msg }}|{{ r9.msg }}|{{ r9.changed }}
          {{ r10.msg }}|{{ r11.msg }}
`),
  },
  {
    name: 'blockinfile',
    playbook:
      play(String.raw`    - copy: {dest: $D/hosts, content: "127.0.0.1 localhost\n# app hosts below\n::1 ip6\nno newline"}
    - blockinfile: {path: $D/hosts, block: "10.0.0.1 app1\n10.0.0.2 app2"}
      register: b1
    - blockinfile: {path: $D/hosts, block: "10.0.0.1 app1\n10.0.0.2 app2"}
      register: b2
    - blockinfile: {path: $D/hosts, block: "10.0.0.3 app3", marker: "# {mark} apps"}
    - blockinfile: {path: $D/hosts, content: "10.0.0.9 app9\n", marker: "# {mark} apps", insertafter: '^# app hosts'}
    - blockinfile: {path: $D/hosts, block: "first", marker: "## {mark} top", insertbefore: BOF}
    - blockinfile: {path: $D/hosts, block: "before localhost", marker: "// {mark}", marker_begin: open, marker_end: close, insertbefore: 'localhost$'}
    - blockinfile: {path: $D/hosts, state: absent}
      register: b3
    - blockinfile: {path: $D/hosts, state: absent}
      register: b4
    - blockinfile: {path: $D/hosts, marker: "// {mark}", marker_begin: open, marker_end: close, block: ""}
    - blockinfile: {dest: $D/made/conf, block: "key = value", create: true, mode: "0640"}
      register: b5
    - blockinfile: {path: $D/made/conf, block: "key = value", mode: "0600"}
      register: b6
    - blockinfile: {path: $D/nothere, block: x}
      register: b7
      ignore_errors: true
    - copy:
        dest: $D/results
        content: |
          {{ b1.msg }}|{{ b1.changed }}|{{ b2.msg }}|{{ b2.changed }}|{{ b3.msg }}|{{ b4.msg }}|{{ b4.changed }}
          {{ b5.msg }}|{{ b6.msg }}|{{ b7.failed }}|{{ b7.msg }}
`),
  },
  {
    name: 'set-fact-debug-assert-fail',
    playbook: `- hosts: all
  gather_facts: false
  vars: {a: 0, c: from play}
  tasks:
    - set_fact: {a: 1, b: "{{ [1, 2] }}", up: "{{ inventory_hostname | upper }}", c: from set_fact}
      register: s1
    - debug: {msg: "a is {{ a }}"}
      register: d1
    - debug: {var: b}
      register: d2
    - debug: {var: nope}
      register: d3
    - debug: {msg: hidden, verbosity: 3}
      register: d4
    - assert: {that: ["a == 1", "b | length == 2"], success_msg: fine}
      register: a1
    - assert: {that: ["a == 1", "a == 2"], fail_msg: "a is {{ a }}"}
      register: a2
      ignore_errors: true
    - copy:
        dest: $D/results
        content: |
          {{ a }}|{{ b }}|{{ up }}|{{ c }}|{{ s1.ansible_facts.a }}|{{ d1.msg }}|{{ d2.b }}|{{ d3.nope }}|{{ d4.skipped }}
          {{ a1.msg }}|{{ a2.msg }}|{{ a2.failed }}|{{ a2.assertion }}|{{ a2.evaluated_to }}
    - fail: {msg: "stop at {{ inventory_hostname }}"}
      when: inventory_hostname == 'h2'
    - copy: {dest: $D/reached, content: "yes\\n"}
`,
  },
  {
    name: 'group',
    // Hosts of its own: its gids (2345, 2346) raise the next gid groupadd picks, so the user case's uid == gid
    // would depend on which of the two ran first on each side (Ansible runs them in one playbook, in order;
    // deploy runs cases three at a time).
    inventory: 'all:\n  hosts:\n    h3:\n    h4:\n',
    playbook: play(String.raw`    - group: {name: hbdiff, gid: 2345}
      register: g1
    - group: {name: hbdiff, gid: 2345}
      register: g2
    - group: {name: hbdiff, gid: 2346}
      register: g3
    - group: {name: hbdiffsys, system: true}
      register: g4
    - group: {name: hbdiff-never, state: absent}
      register: g5
    - group: {name: hbdiff, state: absent}
      register: g6
    - group: {name: hbdiff-taken, gid: 2346}
    - group: {name: hbdiff-clash, gid: 2346}
      register: g7
      ignore_errors: true
    - copy:
        dest: $D/results
        content: |
          {{ g1.gid }}|{{ g1.changed }}|{{ g1.name }}|{{ g1.state }}|{{ g2.changed }}|{{ g3.gid }}|{{ g3.changed }}
          {{ g4.system }}|{{ g4.gid < 1000 }}|{{ g5.changed }}|{{ g5.gid | default('none') }}|{{ g6.changed }}|{{ g7.failed }}
`),
  },
  {
    name: 'stat',
    playbook: play(String.raw`    - copy: {dest: $D/f, content: "hello\n", mode: "0640"}
    - file: {path: $D/d, state: directory, mode: "0751"}
    - command: ln -sfn f $D/l
    - stat: {path: $D/f}
      register: s1
    - stat: {path: $D/d}
      register: s2
    - stat: {path: $D/l}
      register: s3
    - stat: {path: $D/l, follow: true, checksum_algorithm: sha256}
      register: s4
    - stat: {path: $D/none}
      register: s5
    - stat: {path: /dev/null, get_checksum: false, get_mime: false}
      register: s6
    - copy:
        dest: $D/results
        content: |
          {{ s1.changed }}|{{ s1.stat.exists }}|{{ s1.stat.mode }}|{{ s1.stat.isreg }}|{{ s1.stat.isdir }}|{{ s1.stat.size }}|{{ s1.stat.checksum }}
          {{ s1.stat.pw_name }}|{{ s1.stat.gr_name }}|{{ s1.stat.uid }}|{{ s1.stat.readable }}|{{ s1.stat.writeable }}|{{ s1.stat.executable }}
          {{ s1.stat.xusr }}|{{ s1.stat.rgrp }}|{{ s1.stat.roth }}|{{ s1.stat.mimetype }}|{{ s1.stat.charset }}|{{ s1.stat.attributes }}|{{ s1.stat.nlink }}
          {{ s1.stat.path }}|{{ s1.stat.mtime > 1700000000 }}|{{ s1.stat.isuid }}|{{ s1.stat.islnk }}
          {{ s2.stat.isdir }}|{{ s2.stat.mode }}|{{ s2.stat.xoth }}|{{ s2.stat.woth }}|{{ s2.stat.executable }}|{{ s2.stat.checksum | default('none') }}
          {{ s3.stat.islnk }}|{{ s3.stat.lnk_target }}|{{ s3.stat.lnk_source }}|{{ s3.stat.checksum | default('none') }}|{{ s3.stat.mimetype }}
          {{ s4.stat.isreg }}|{{ s4.stat.islnk }}|{{ s4.stat.checksum }}|{{ s4.stat.mode }}
          {{ s5.stat.exists }}|{{ s5.stat }}
          {{ s6.stat.ischr }}|{{ s6.stat.device_type }}|{{ s6.stat.mode }}|{{ s6.stat.checksum | default('none') }}|{{ s6.stat.mimetype | default('none') }}
`),
  },
  {
    name: 'user',
    playbook: play(String.raw`    - group: {name: hbsvc-extra}
    - group: {name: hbsvc-more}
    - user: {name: hbsvc, comment: hb service, shell: /bin/sh, groups: [hbsvc-extra]}
      register: u1
    - user: {name: hbsvc, comment: hb service, shell: /bin/sh, groups: [hbsvc-extra]}
      register: u2
    - user: {name: hbsvc, groups: hbsvc-more, append: true}
      register: u3
    - user: {name: hbsvc, groups: hbsvc-more, append: true}
      register: u3again
    - user: {name: hbsvc, shell: /bin/bash, comment: changed}
      register: u4
    - user: {name: hbsys, system: true, create_home: false, shell: /usr/sbin/nologin}
      register: u5
    - user: {name: hbsvc, group: hbsvc-extra}
      register: u6
    - user: {name: hbsvc, groups: []}
      register: u7
    - user: {name: hbuid, uid: 4321, password: "$6$diffsalt$notarealhash", home: /srv/hbuid}
      register: u8
    - user: {name: hbuid, password: "!$6$diffsalt$notarealhash"}
      register: u8again
    - user: {name: hbnone, groups: [no-such-group]}
      register: u9
      ignore_errors: true
    - user: {name: hbgone, state: absent}
      register: u10
    - shell: "id -Gn hbsvc | tr ' ' '\\n' | sort | tr '\\n' ' '; getent passwd hbsys | cut -d: -f5-; getent passwd hbuid | cut -d: -f3,6; getent shadow hbuid | cut -d: -f2; test -d /srv/hbuid && echo home"
      register: ids
    - user: {name: hbuid, state: absent, remove: true}
      register: u11
    - copy:
        dest: $D/results
        content: |
          {{ u1.changed }}|{{ u1.name }}|{{ u1.state }}|{{ u1.uid > 999 }}|{{ u1.group == u1.uid }}|{{ u1.comment }}|{{ u1.home }}|{{ u1.shell }}|{{ u1.groups }}|{{ u1.system }}|{{ u1.create_home }}
          {{ u2.changed }}|{{ u2.append }}|{{ u2.move_home }}|{{ u3.changed }}|{{ u3.groups }}|{{ u3again.changed }}|{{ u4.changed }}|{{ u4.shell }}|{{ u4.comment }}
          {{ u5.changed }}|{{ u5.uid < 1000 }}|{{ u5.home }}|{{ u6.changed }}|{{ u6.group == u6.uid }}|{{ u7.changed }}|{{ u7.groups }}
          {{ u8.changed }}|{{ u8.uid }}|{{ u8.home }}|{{ u8.password }}|{{ u8again.changed }}|{{ u9.failed }}|{{ u9.msg }}|{{ u10.changed }}|{{ u11.changed }}|{{ u11.remove }}
          {{ ids.stdout }}
`),
  },
  {
    name: 'wait-for',
    playbook: play(String.raw`    - wait_for: {host: "{{ ansible_host }}", port: 22, timeout: 10}
      register: w1
    - wait_for: {host: "{{ ansible_host }}", port: 1, state: stopped, timeout: 10}
      register: w2
    - wait_for: {host: "{{ ansible_host }}", port: 1, timeout: 2, msg: "nothing on port 1"}
      register: w3
      ignore_errors: true
    - copy: {dest: $D/ready, content: "version 2.5 ready\n"}
    - wait_for: {path: $D/ready, search_regex: 'version (?P<v>[0-9.]+) ready', timeout: 10}
      register: w4
    - wait_for: {path: $D/never, timeout: 2}
      register: w5
      ignore_errors: true
    - wait_for: {path: $D/never, state: absent, timeout: 5}
      register: w6
    - copy:
        dest: $D/results
        content: |
          {{ w1.state }}|{{ w1.port }}|{{ w1.elapsed < 3 }}|{{ w1.changed }}|{{ w2.state }}|{{ w3.failed }}|{{ w3.msg }}
          {{ w4.state }}|{{ w4.path }}|{{ w4.match_groupdict }}|{{ w4.match_groups | length }}|{{ w5.msg }}|{{ w5.elapsed >= 2 }}|{{ w6.state }}
          {{ w4.mode }}|{{ w4.size }}|{{ w4.owner }}|{{ w6.mode | default('none') }}
`),
  },
  {
    name: 'pause',
    deliberate: 'pause runs on every host (at once: the same wait) and counts and registers on each',
    playbook: play(String.raw`    - pause: {seconds: 1}
      register: p1
    - copy:
        dest: $D/paused
        content: "{{ p1.delta }}|{{ p1.rc }}|{{ 'Paused for 1' in p1.stdout }}|{{ p1.user_input }}|{{ p1.echo }}\n"
      when: inventory_hostname == 'h1'
`),
  },
]
