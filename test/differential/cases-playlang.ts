// The differential cases of the playbook language (issue 13 parts 1-3): loops and their registered results,
// until/retries, blocks with rescue and always, any_errors_fatal, run_once, delegate_to, no_log, and the
// become keywords. Few cases, each covering much: every case costs an ansible-playbook run.
import type { Case } from './oracle.ts'

/** A play over all hosts with gather_facts off; `tasks` is YAML, indented by 4. */
function play(tasks: string, head = ''): string {
  return `- hosts: all\n  gather_facts: false\n${head}  tasks:\n${tasks}`
}

const three = `all:\n  hosts:\n    h1:\n    h2:\n    h3:\n`

export const playlangCases: Case[] = [
  {
    // loop, with_items (one level flattened), with_dict, with_fileglob; loop_control's loop_var, index_var and
    // label; `when` per item; an empty loop; a failing item under ignore_errors; what each registers; a handler
    // notified by a looped task.
    name: 'loops-and-registered-results',
    inventory: `all:\n  hosts:\n    h1:\n    h2:\n  vars:\n    users: [{name: ann, uid: 1}, {name: bob, uid: 2}]\n    sizes: {small: 1, large: 3}\n    empty_list: []\n`,
    files: { 'files/conf/a.conf': 'a\n', 'files/conf/b.conf': 'b\n', 'files/conf/c.txt': 'c\n' },
    playbook:
      play(
        `    - copy: {dest: "$D/user-{{ u.name }}", content: "{{ u.uid }} {{ i }}\\n"}\n      loop: "{{ users }}"\n      loop_control: {loop_var: u, index_var: i, label: "{{ u.name }}"}\n      register: r\n` +
          `    - copy: {dest: $D/r, content: "{{ r.results | length }} {{ r.changed }} {{ r.msg }} {{ r.skipped }} {{ r.failed | default('absent') }} {{ r.results[1].u.name }} {{ r.results[1].i }} {{ r.results[0].ansible_loop_var }} {{ r.results[0].ansible_index_var }} {{ r.results[0].changed }} {{ r.results[0].failed }}\\n"}\n` +
          `    - command: "echo {{ item }}"\n      with_items: [[a, b], c]\n      when: item != 'b'\n      register: w\n` +
          `    - copy: {dest: $D/w, content: "{{ w.results | length }} {{ w.results[0].stdout }} {{ w.results[1].skipped }} {{ w.results[1].skip_reason }} {{ w.results[1].item }} {{ w.results[2].stdout }} {{ w.changed }}\\n"}\n` +
          `    - copy: {dest: "$D/size-{{ item.key }}", content: "{{ item.value }}\\n"}\n      with_dict: "{{ sizes }}"\n      notify: handled\n` +
          `    - copy: {src: "{{ item }}", dest: $D/}\n      with_fileglob: conf/*.conf\n` +
          `    - command: "echo never"\n      loop: "{{ empty_list }}"\n      register: e\n` +
          `    - copy: {dest: $D/e, content: "{{ e.skipped }} {{ e.results | length }} {{ e.changed }}\\n"}\n` +
          `    - shell: "exit {{ item }}"\n      loop: [0, 3]\n      ignore_errors: true\n      register: f\n` +
          `    - copy: {dest: $D/f, content: "{{ f.failed }} {{ f.msg }} {{ f.results[1].rc }} {{ f.results[1].failed }} {{ f.results[0].failed }} {{ f is failed }}\\n"}\n` +
          `    - command: "echo {{ item }}"\n      loop: [x, y]\n      when: false\n      register: s\n` +
          `    - copy: {dest: $D/s, content: "{{ s.skipped }} {{ s.msg }} {{ s.changed }}\\n"}\n`,
      ) +
      `  handlers:\n    - name: handled\n      copy: {dest: $D/handled, content: "{{ ansible_play_batch | join(',') }}\\n"}\n`,
  },
  {
    // until/retries/delay: succeeding on the third attempt, and running out of attempts (ignored).
    name: 'until-retries',
    playbook: play(
      `    - shell: "echo x >> $D/count; test $(wc -l < $D/count) -ge 3"\n      register: r\n      until: r.rc == 0\n      retries: 5\n      delay: 0\n` +
        `    - shell: "echo y >> $D/tries; exit 1"\n      register: n\n      until: n.rc == 0\n      retries: 2\n      delay: 0\n      ignore_errors: true\n` +
        `    - copy: {dest: $D/r, content: "{{ r.attempts }} {{ r.rc }} {{ r.failed }} {{ n.attempts }} {{ n.failed }} {{ n.rc }}\\n"}\n`,
    ),
  },
  {
    // block/rescue/always: h2 fails in a block and is rescued (sees ansible_failed_*); h1 fails in an inner block
    // that only has always, and the outer block rescues it; h3 fails in a block and again in its rescue (its
    // always runs without it in ansible_play_hosts, then it is out); inherited when and vars.
    name: 'blocks-rescue-always',
    inventory: three,
    playbook: play(
      `    - name: outer\n      vars: {where: block}\n      block:\n` +
        `        - copy: {dest: "$D/a", content: "{{ where }}\\n"}\n` +
        `        - name: fail here\n          command: /bin/false\n          when: inventory_hostname == 'h2'\n` +
        `        - copy: {dest: $D/b, content: "b\\n"}\n` +
        `      rescue:\n        - copy: {dest: $D/rescued, content: "{{ ansible_failed_task.name }} {{ ansible_failed_result.rc }} {{ where }}\\n"}\n` +
        `      always:\n        - copy: {dest: $D/always, content: "x\\n"}\n` +
        `    - block:\n        - block:\n            - command: /bin/false\n              when: inventory_hostname == 'h1'\n          always:\n            - copy: {dest: $D/inner-always, content: "x\\n"}\n` +
        `      rescue:\n        - copy: {dest: $D/outer-rescue, content: "x\\n"}\n` +
        `    - block:\n        - command: /bin/false\n      rescue:\n        - command: /bin/false\n      when: inventory_hostname == 'h3'\n` +
        `      always:\n        - copy: {dest: $D/last-always, content: "{{ ansible_play_hosts | join(',') }}\\n"}\n` +
        `    - copy: {dest: $D/after, content: "{{ ansible_play_hosts | join(',') }}\\n"}\n` +
        `    - block:\n        - copy: {dest: $D/skipped, content: "x\\n"}\n      when: inventory_hostname == 'h9'\n`,
    ),
  },
  {
    // A rescued failure in a run where no host fails: run in one ansible-playbook with until-retries, whose
    // recap must then be split by play with `rescued` counted as the strategy counts it (hbmon_stats.py).
    name: 'block-rescued-clean-run',
    playbook: play(
      `    - block:\n        - command: /bin/false\n          when: inventory_hostname == 'h1'\n` +
        `      rescue:\n        - copy: {dest: $D/rescued, content: "{{ ansible_failed_result.rc }}\\n"}\n` +
        `      always:\n        - copy: {dest: $D/always, content: "x\\n"}\n`,
    ),
  },
  {
    // run_once registers for every host; delegate_to (literal, and templated per item) runs on another host with
    // this host's vars; no_log hides
    // a result from the output; any_errors_fatal stops every host (and the later play) at h2's failure.
    name: 'run-once-delegate-no-log-fatal',
    inventory: three,
    notPrinted: ['hbmon-secret-7f3a'],
    args: ['-vv'], // the result's data is printed at -vv: no_log must hide it there too
    playbook:
      play(
        `    - command: "echo {{ inventory_hostname }}"\n      run_once: true\n      register: once\n` +
          `    - copy: {dest: "$D/once-{{ inventory_hostname }}", content: "{{ once.stdout }}\\n"}\n      delegate_to: h1\n` +
          `    - copy: {dest: "$D/via-{{ item }}-from-{{ inventory_hostname }}", content: "x\\n"}\n      delegate_to: "{{ item }}"\n      loop: [h1, h2]\n` +
          `    - shell: echo hbmon-secret-7f3a; echo hbmon-secret-7f3a >&2; exit 3\n      no_log: true\n      ignore_errors: true\n      register: secret\n` +
          `    - copy: {dest: $D/secret, content: "{{ secret.stdout | length }} {{ secret.rc }}\\n"}\n` +
          `    - block:\n        - command: /bin/false\n          when: inventory_hostname == 'h2'\n      any_errors_fatal: true\n` +
          `    - copy: {dest: $D/not-reached, content: "x\\n"}\n`,
      ) + `- hosts: all\n  gather_facts: false\n  tasks:\n    - copy: {dest: $D/second-play, content: "x\\n"}\n`,
  },
  {
    // become at play, block and task level; become_user; a host's ansible_become_user wins over the keyword.
    name: 'become-keywords',
    inventory: `all:\n  hosts:\n    h1:\n    h2:\n      ansible_become_user: carol\n  vars:\n    ansible_user: deployer\n`,
    playbook: play(
      `    - command: id -un\n      register: play_level\n` +
        `    - command: id -un\n      become: false\n      register: task_off\n` +
        `    - block:\n        - command: id -un\n          register: block_user\n        - command: id -un\n          become_user: root\n          register: task_user\n      become_user: carol\n` +
        `    - copy: {dest: "$D/who", content: "{{ play_level.stdout }} {{ task_off.stdout }} {{ block_user.stdout }} {{ task_user.stdout }}\\n"}\n      become: false\n` +
        `    - file: {path: $D/by-root, state: touch, mode: "0600"}\n      when: inventory_hostname == 'h1'\n`,
      '  become: true\n',
    ),
  },
  {
    // --check and --diff through loops and blocks: a looped copy would change, a looped command cannot tell
    // (skipped), a failure in check mode is rescued, and nothing is written.
    name: 'loops-blocks-check-mode',
    args: ['--check', '--diff'],
    playbook: play(
      `    - copy: {dest: "$D/{{ item }}", content: "{{ item }}\\n"}\n      loop: [a, b]\n      register: c\n` +
        `    - command: "touch $D/{{ item }}"\n      loop: [x, y]\n      register: t\n` +
        `    - block:\n        - file: {path: $D/missing, state: file}\n      rescue:\n        - copy: {dest: $D/rescued, content: "{{ c.changed }} {{ t.skipped }}\\n"}\n`,
    ),
  },
  {
    name: 'refuse-with-nested',
    refused: /"with_nested" is not supported/,
    playbook: play(`    - command: "echo {{ item }}"\n      with_nested: [[a], [b]]\n`),
  },
  {
    name: 'refuse-loop-control-extended',
    refused: /loop_control's "extended" is not supported/,
    playbook: play(`    - command: "echo {{ item }}"\n      loop: [a]\n      loop_control: {extended: true}\n`),
  },
  {
    name: 'refuse-delegate-to-unknown-host',
    refused: /delegate_to: "elsewhere" is not a host of the inventory/,
    playbook: play(`    - command: "true"\n      delegate_to: elsewhere\n`),
  },
]
