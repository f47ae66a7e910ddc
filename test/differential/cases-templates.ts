// Differential cases for templates and expressions (src/template.ts): Jinja blocks, Python's rendering of
// values, Ansible's filters and tests, native types of task args, omit, hostvars and groups — each case
// renders many checks into a few files, so that Ansible runs few tasks — and what we refuse before connecting
// (file, line and column). Spread into `cases` in cases.ts.
import type { Case } from './oracle.ts'

// (The harness drops an inventory var set to null: `nothing` is a play var.)
const play = (tasks: string) => `- hosts: all\n  gather_facts: false\n  vars:\n    nothing: null\n  tasks:\n${tasks}`

const inventory =
  `all:\n  hosts:\n    h1:\n      color: red\n    h2:\n      color: blue\n  children:\n    web:\n      hosts:\n        h2:\n` +
  `  vars:\n    l: [a, b, B, a]\n    nums: [3, 1, 2]\n    d: {k: 1, j: [1, 2], s: "x y"}\n` +
  `    users: [{name: ann, uid: 1001, admin: true}, {name: bob, uid: 1002, admin: false}, {name: cy, uid: 1003}]\n` +
  `    f: 1.0\n    g: 2.5\n    n: 5\n    s: "Hello World"\n    text: "yes"\n    path: /etc/app/conf.d/main.yml\n` +
  `    empty: ""\n    base: /srv\n    app: "{{ base }}/app"\n`

/** Blocks and whitespace control (trim_blocks as Ansible sets it), loops, macros, set, raw. */
const blocks = `{# a comment #}
users:
{% for u in users %}
  {{ loop.index }}/{{ loop.length }} {{ u.name }}{% if loop.first %} first{% endif %}{% if loop.last %} last{% endif %}

{% endfor %}
{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %} {% for k in d %}{{ k }}{% endfor %} {% for k, v in d | dictsort %}{{ k }}{% endfor %}

{% for x in [] %}{{ x }}{% else %}no items{% endfor %}

{% if n > 3 %}big{% elif n > 1 %}mid{% else %}small{% endif %} {% if [] %}T{% else %}F{% endif %}{% if {} %}T{% else %}F{% endif %}{% if '' %}T{% else %}F{% endif %}{% if 0.0 %}T{% else %}F{% endif %}{% if 'x' %}T{% endif %}

{% set x = 1 %}{% for i in [1, 2] %}{% set x = x + i %}{{ x }},{% endfor %}{{ x }} {% for u in [1, 2] %}{% for v in [3] %}{{ loop.index }}{{ u }}{{ v }}{% endfor %}{{ loop.index }}{% endfor %}
{% set twice = n * 2 %}{{ twice }} {{ 'x' if n > 1 else 'y' }} {{ (n > 1) | string }}
{% macro row(k, v='d') -%}
{{ k }}={{ v }}
{%- endmacro %}
{{ row('a') }} {{ row('b', 2) }}
a
{%- if true %}
  trimmed
{%- endif %}
b
  {% if true %}indented tag{% endif %}

{{ n }}   {{- n }} {{ n -}}   !
{% raw %}{{ not rendered }}{% endraw %}
{#- trimmed comment -#}
end
`

/** Python's rendering of values, operators, tests and methods. */
const values = `{{ l }} {{ d }} {{ f }} {{ g }} {{ n }} [{{ nothing }}] {{ True }} {{ [1.0, none, true, "it's"] }} {{ {'k': 'v', 'n': none} }}
{{ 'a' in l }} {{ 'll' in s }} {{ 'k' in d }} {{ 1 in d.j }} {{ l == ['a', 'b', 'B', 'a'] }} {{ 1 == 1.0 }} {{ d.k < 2 }}
{{ 3 // 2 }} {{ 7 % 3 }} {{ 2 ** 3 }} {{ 4 / 2 }} {{ 7 / 2 }} {{ 1 + 1.5 }} {{ 'ab' * 2 }} {{ l + nums }} {{ 'x' ~ 1 ~ none }}
{{ n is number }} {{ f is float }} {{ n is integer }} {{ d is mapping }} {{ l is sequence }} {{ s is string }} {{ nothing is none }}
{{ nope is defined }} {{ nope is undefined }} {{ d.k is defined }} {{ d.nope.deeper | default('deep') }} {{ nope is number }} {{ nope is string }} {{ nope is mapping }} {{ nope is none }}
{{ 'ab12' is match('ab') }} {{ 'ab12' is search('12') }} {{ 'ab12' is regex('^a.*2$') }} {{ 4 is divisibleby(2) }} {{ 3 is odd }} {{ [1] is subset([1, 2]) }}
{{ s.split() }} {{ s.lower() }} {{ s.startswith('He') }} {{ d.get('k') }} {{ d.get('z', 0) }} {{ d.keys() | list }} {{ ' x '.strip() }} {{ '{}-{}'.format(1, 'a') }}
{{ s[1:3] }} {{ s[:2] }} {{ s[::-1] }} {{ nums[1:] }} {{ nums[-2:] }} {{ l[::2] }} {{ users.0.name }} {{ [[1, 2]].0.1 }} {{ nums[3:0:-1] }}
{{ "%s=%d" | format('a', 3) }} {{ "%05.1f" % 3.14159 }} {{ s[0] }} {{ s[-1] }} {{ [1, 2][0] }} {{ app }}
{{ {'a': {'b': 1}} }} {{ 'tab\\there' }} {{ 'back\\\\slash' }}
`

/** Ansible's filters. */
const filters = `{{ l | unique }} {{ l | unique(case_sensitive=true) }} {{ nums | sort }} {{ l | sort }} {{ nums | sort(reverse=true) }}
{{ users | selectattr('admin', 'defined') | map(attribute='name') | list }} {{ users | selectattr('uid', 'gt', 1001) | map(attribute='name') | join(',') }}
{{ users | rejectattr('name', 'equalto', 'bob') | map(attribute='uid') | list }} {{ users | map(attribute='admin', default=false) | list }}
{{ users | map(attribute='name') | map('upper') | list }} {{ ['ab', 'cb'] | select('match', 'a') | list }} {{ ['ab', 'cb'] | reject('search', '^a') | list }}
{{ d | to_json }} {{ d | to_nice_json }}
{{ d | to_yaml }}{{ d | to_nice_yaml }}{{ users | to_nice_yaml(indent=2) }}{{ users | to_yaml }}{{ ['yes', '1', 'a: b', '', 'x#y', '-x'] | to_yaml }}
{{ s | b64encode }} {{ 'SGVsbG8gV29ybGQ=' | b64decode }} {{ path | basename }} {{ path | dirname }} {{ '/x' | dirname }}
{{ s | regex_replace('o', '0') }} {{ s | regex_replace('(?P<w>\\\\w+) (\\\\w+)', '\\\\g<w>-\\\\2') }} {{ s | regex_search('W\\\\w+') }} {{ s | regex_search('(\\\\w+) (\\\\w+)', '\\\\2', '\\\\1') }}
{{ s | regex_findall('o.') }} {{ 'a1b22' | regex_findall('(\\\\w)(\\\\d+)') }}
{{ text | bool }} {{ 'y' | bool }} {{ n | string }} {{ '12' | int + 1 }} {{ '3.5' | float }} {{ 2 | float }} {{ 'x' | float }} {{ g | int }} {{ g | round }} {{ 2.567 | round(2) }}
{{ true | ternary('yes', 'no') }} {{ nothing | ternary('y', 'n', 'none') }} {{ {'a': 1, 'b': {'c': 1}} | combine({'b': {'d': 2}}, recursive=true) }} {{ {'a': 1} | combine({'a': 2}, {'c': 3}) }}
{{ d | dict2items }} {{ [{'key': 'a', 'value': 1}] | items2dict }} {{ d | length }} {{ s | length }} {{ l | length }} {{ l | first }} {{ l | last }} {{ nums | min }} {{ nums | max }} {{ nums | sum }}
{{ 'abc' | hash('sha1') }} {{ 'abc' | hash('md5') }} {{ s | lower }} {{ s | upper }} {{ l | join('-') }} {{ s | split }} {{ 'a,b,,c' | split(',') }} {{ s | replace('l', 'L') }}
{{ nope | default('dflt') }} {{ empty | default('e', true) }} {{ nothing | default('x') }} {{ 'x' | mandatory }}
{{ [[1, [2]], 3] | flatten }} {{ [[1, [2]], 3] | flatten(levels=1) }} {{ [1, 2] | union([2, 3]) }} {{ [1, 2] | intersect([2, 3]) }} {{ [1, 2] | difference([2, 3]) }}
{{ 'abc' | reverse }} {{ nums | reverse | list }} {{ s | title }} {{ s | capitalize }} {{ ' x ' | trim }} {{ -3 | abs }} {{ 'a b' | quote }} {{ range(1, 4) | list }}
`

// One set of files for both clean cases: Ansible then runs them as the plays of one ansible-playbook.
const files = { 'templates/blocks.j2': blocks, 'templates/values.j2': values, 'templates/filters.j2': filters }

export const templateCases: Case[] = [
  {
    name: 'jinja-template-files',
    inventory,
    files,
    playbook: play(
      `    - template: {src: blocks.j2, dest: $D/blocks}\n` +
        `    - template: {src: values.j2, dest: $D/values}\n` +
        `    - template: {src: filters.j2, dest: $D/filters}\n`,
    ),
  },
  {
    // Task args: native types, text of to_json kept, backslashes, omit, inline if, conditions with filters and
    // tests, hostvars (another host's inventory var and registered result) and groups.
    name: 'jinja-args-hostvars-omit',
    inventory,
    files,
    playbook: play(
      `    - command: echo "{{ color }}"\n      register: r\n` +
        `    - copy:\n        dest: $D/args\n        mode: "{{ file_mode | default(omit) }}"\n        content: |\n` +
        `          {{ n + 1 }} {{ 'big' if n > 3 else 'small' }} {{ s | regex_replace('\\s', '_') }} {{ d | to_json }}\n` +
        `          {{ hostvars['h2'].color }} {{ hostvars.h1.r.stdout }} {{ hostvars[inventory_hostname].color }} {{ groups.web }} {{ groups['all'] | length }}\n` +
        `          {{ r is succeeded }} {{ r is changed }} {{ r is failed }} {{ r is skipped }} {{ r.stdout_lines | length }}\n` +
        `    - copy: {dest: $D/list, content: "{{ users | map(attribute='uid') | list }}"}\n` +
        `    - copy: {dest: $D/json, content: "{{ d | to_json }}"}\n` +
        `    - copy: {dest: $D/when, content: "x\\n"}\n      when:\n        - users | selectattr('admin', 'defined') | list | length == 2\n        - "'web' in group_names"\n        - d.j is not mapping and (n | string) is match('5')\n` +
        `    - copy: {dest: "$D/{{ 'omitted' if m is not defined else 'set' }}", content: "m\\n", mode: "{{ m | default(omit) }}"}\n`,
    ),
  },
  // --- refused before connecting, naming file, line and column -------------------------------------------------
  {
    name: 'refuse-jinja-unknown-filter-in-file',
    refused: /t\.j2:3:18: unknown filter "nope"/,
    files: { 'templates/t.j2': 'line one\n{% if x %}\n  {{ x | upper | nope }}\n{% endif %}\n' },
    playbook: play(`    - template: {src: t.j2, dest: $D/t}\n`),
  },
  {
    name: 'refuse-jinja-include',
    refused: /t\.j2:1:4: \{% include %\} is not supported/,
    files: { 'templates/t.j2': '{% include "other.j2" %}\n' },
    playbook: play(`    - template: {src: t.j2, dest: $D/t}\n`),
  },
  {
    name: 'refuse-jinja-lookup-and-syntax-in-args',
    refused: /playbook\.yml:7:\d+: .*lookup\(\) is not supported by this engine \(template line 1, column \d+\)/,
    playbook: play(
      `    - command: "true"\n    - copy: {dest: $D/x, content: "{{ lookup('file', '/etc/hostname') }}"}\n`,
    ),
  },
  {
    name: 'refuse-jinja-inventory-var',
    refused: /inventory\.yml:\d+:\d+: broken: unknown filter "nope"/,
    inventory: `all:\n  hosts:\n    h1:\n  vars:\n    broken: "{{ 'x' | nope }}"\n`,
    playbook: play(`    - command: "true"\n`),
  },
]
