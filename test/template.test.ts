// Templates and expressions: Jinja2 as Ansible runs it (rendering, native values, `when`), the filters and
// tests, and what is refused before anything connects. test/differential/cases-templates.ts checks the same
// against ansible-playbook.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import {
  checkTemplate,
  evaluateCondition,
  hostvarsOf,
  pyJson,
  render,
  renderValue,
  TemplateError,
} from '../src/template.ts'
import { parseYaml } from '../src/yaml.ts'

const vars = {
  name: 'light01',
  port: 22,
  on: true,
  off_text: 'false',
  list: ['a', 'b'],
  nested: { inner: { value: 'deep' }, 'dash-key': 1 },
  users: [
    { name: 'ann', uid: 1001, admin: true },
    { name: 'bob', uid: 1002 },
  ],
  base: '/srv',
  dest: '{{ base }}/app',
  loop: '{{ loop }}',
}

/** The TemplateError a call throws. */
function error(f: () => unknown): TemplateError {
  try {
    f()
  } catch (e) {
    if (e instanceof TemplateError) return e
    throw e
  }
  throw new Error('no error thrown')
}

test('renders variables, dotted and indexed access, defaults and filters', () => {
  assert.is(render('host={{ name }} port={{port}}', vars), 'host=light01 port=22')
  assert.is(
    render('{{ nested.inner.value }} {{ nested["dash-key"] }} {{ list[1] }} {{ list[-1] }}', vars),
    'deep 1 b b',
  )
  assert.is(render('{{ missing | default("x") }} {{ missing | d(3) }} {{ name | default("x") }}', vars), 'x 3 light01')
  assert.is(render('{{ "" | default("empty", true) }} {{ missing.a.b | default("chained") }}', vars), 'empty chained')
  assert.is(
    render('{{ name | upper }} {{ list | join(",") }} {{ list | length }} {{ " a " | trim }}', vars),
    'LIGHT01 a,b 2 a',
  )
  assert.is(render(`{{ "it's a" | quote }}`, vars), `'it'\\''s a'`) // POSIX quoting, as Ansible's shlex.quote
  assert.is(render('{{ on }} {{ list }} {# a comment #}x', vars), "True ['a', 'b'] x") // Python's repr
  assert.is(render('{{ name ~ "-" ~ port }}', vars), 'light01-22')
})

test('blocks: if/elif/else, for with loop.*, set, macros, raw, whitespace control as Ansible (trim_blocks)', () => {
  assert.is(
    render(
      '{% for u in users %}{{ loop.index }}/{{ loop.length }}:{{ u.name }}{% if loop.last %}.{% else %},{% endif %}{% endfor %}',
      vars,
    ),
    '1/2:ann,2/2:bob.',
  )
  assert.is(render('{% if port > 100 %}high{% elif port > 20 %}mid{% else %}low{% endif %}', vars), 'mid')
  assert.is(render('{% for x in [] %}{{ x }}{% else %}none{% endfor %}', vars), 'none')
  assert.is(
    render('{% for k, v in nested.items() %}{{ k }};{% endfor %} {% for k in nested %}{{ k }};{% endfor %}', vars),
    'inner;dash-key; inner;dash-key;',
  )
  assert.is(render('{% set n = port * 2 %}{{ n }}', vars), '44')
  // Jinja's scopes: a set inside a loop (each iteration) or a macro stays there.
  assert.is(render('{% set x = 1 %}{% for i in [1, 2] %}{% set x = x + i %}{{ x }},{% endfor %}{{ x }}', vars), '2,3,1')
  assert.is(
    render("{% macro kv(k, v='d') %}{{ k }}={{ v }}{% endmacro %}{{ kv('a') }} {{ kv('b', 2) ~ '!' }}", vars),
    'a=d b=2!',
  )
  assert.is(render('{% raw %}{{ kept }}{% endraw %}', vars), '{{ kept }}')
  // trim_blocks: the newline after a tag goes; the template's last newline is kept (Ansible gives it back).
  assert.is(render('{% if on %}\nyes\n{% endif %}\n', vars), 'yes\n')
  assert.is(render('a\n{%- if on %}\n  b\n{%- endif %}\nc', vars), 'a  bc')
  assert.is(render('{{ port }}   {{- port }}\n\n', vars), '2222\n\n')
})

test("Python's semantics where JavaScript differs: truthiness, ==, in, +, /, *, undefined", () => {
  assert.is(
    render('{% if [] %}T{% else %}F{% endif %}{% if {} %}T{% else %}F{% endif %}{% if "0" %}T{% endif %}', vars),
    'FFT',
  )
  assert.is(
    render('{{ [1, 2] == [1, 2] }} {{ 1 == 1.0 }} {{ "1" == 1 }} {{ {"a": 1} == {"a": 1} }}', vars),
    'True True False True',
  )
  assert.is(render('{{ "gh" in name }} {{ "inner" in nested }} {{ "c" in list }}', vars), 'True True False')
  assert.is(
    render('{{ list + ["c"] }} {{ 4 / 2 }} {{ 7 // 2 }} {{ -7 % 3 }} {{ "-" * 3 }} {{ 1.5 * 2 }}', vars),
    "['a', 'b', 'c'] 2.0 3 2 --- 3.0",
  )
  assert.is(
    render('{{ none }}|{{ none | string }}|{{ none ~ "" }}|{{ 1.0 }}|{{ (1, "a") }}', vars),
    "|None|None|1.0|(1, 'a')",
  )
  assert.is(render('{{ name[1:3] }} {{ name[::-1] }} {{ list[-1:] }} {{ users.0.name }}', vars), "ig 10thgil ['b'] ann")
  assert.is(render('{{ nested.items() | list }}', vars), "[('inner', {'value': 'deep'}), ('dash-key', 1)]")
  assert.throws(() => render('{{ name < 3 }}', vars), /cannot compare/)
  assert.throws(() => render('{{ name + 1 }}', vars), /unsupported operand/)
  assert.throws(() => render('{% for x in nope %}{% endfor %}', vars), /'nope' is undefined/)
  assert.throws(() => render('{% if nope %}{% endif %}', vars), /'nope' is undefined/)
  assert.throws(() => render('{{ nope == 1 }}', vars), /'nope' is undefined/)
})

test('string literals read backslashes as Python; task args keep them literal (escape_backslashes)', () => {
  assert.is(render(String.raw`{{ 'a\tb' }}|{{ 'x\d' }}|{{ 'it\'s' }}|{{ "\x41" }}`, vars), "a\tb|x\\d|it's|A")
  assert.is(renderValue(String.raw`{{ 'a1b2' | regex_replace('\d', 'N') }}`, vars), 'aNbN')
  assert.is(render(String.raw`{{ 'a1b2' | regex_replace('\\d', '') }}`, vars), 'ab')
  assert.is(render("{{ {'a': {'b': 1}} }} a }} b #}", vars), "{'a': {'b': 1}} a }} b #}")
})

test('vars holding templates are rendered when used, hostvars with their own host', () => {
  assert.is(render('{{ dest }}/x', vars), '/srv/app/x')
  assert.throws(() => render('{{ loop }}', vars), /recursive/)
  const hostvars = hostvarsOf(['h1', 'h2'], (h) => ({ inventory_hostname: h, url: 'http://{{ inventory_hostname }}' }))
  assert.is(
    render("{{ hostvars['h2'].url }} {{ hostvars.h1.inventory_hostname }} {{ hostvars | length }}", { hostvars }),
    'http://h2 h1 2',
  )
  assert.is(render("{{ hostvars.h3.x | default('none') }}", { hostvars }), 'none')
})

test('a value that is one expression keeps its type; omit drops an argument', () => {
  assert.equal(renderValue({ a: '{{ port }}', b: ['{{ list }}'], c: 'p{{ port }}', d: 5 }, vars), {
    a: 22,
    b: [['a', 'b']],
    c: 'p22',
    d: 5,
  })
  const omit = render('{{ omit }}', vars)
  assert.equal(
    renderValue({ mode: '{{ nope | default(omit) }}', path: '/x', l: ['{{ omit }}', 1], m: { n: '{{ omit }}' } }, vars),
    { path: '/x', l: [omit, 1], m: {} }, // in lists it stays, as Ansible's remove_omit
  )
})

test('undefined values are errors unless tested or defaulted, named in full', () => {
  const e = error(() => render('line\n  {{ nope }}', vars))
  assert.is(e.reason, "'nope' is undefined")
  assert.equal([e.line, e.column], [2, 6])
  assert.throws(() => render('{{ nested.inner.nope }}', vars), /'nested\.inner\.nope' is undefined/)
  assert.throws(() => evaluateCondition('nope == 1', vars), /'nope' is undefined/)
  assert.is(evaluateCondition('nope is not defined', vars), true)
  assert.is(evaluateCondition('nested.inner is defined', vars), true)
  assert.is(render('{{ nope is number }} {{ nope is string }} {{ nope is none }}', vars), 'False False False') // isinstance
  assert.throws(() => render('{{ nope is odd }}', vars), /'nope' is undefined/)
  assert.throws(() => render('{{ nope | mandatory }}', vars), /Mandatory variable 'nope' not defined/)
  assert.throws(() => render('{{ nope | upper }}', vars), /'nope' is undefined/)
})

test('conditions: comparisons, boolean logic, in, tests, Python truthiness', () => {
  assert.is(evaluateCondition('name == "light01" and port > 20', vars), true)
  assert.is(evaluateCondition('name != "light01" or not on', vars), false)
  assert.is(evaluateCondition('"a" in list and "z" not in list', vars), true)
  assert.is(evaluateCondition('(port >= 22) and (port <= 22)', vars), true)
  assert.is(evaluateCondition('off_text', vars), true) // a non-empty string is true, as in Jinja
  assert.is(evaluateCondition('off_text | bool', vars), false) // ... hence | bool, as in Ansible
  assert.is(evaluateCondition('{{ on }}', vars), true)
  assert.is(evaluateCondition('[]', vars), false)
  assert.is(evaluateCondition(false, vars), false)
  assert.is(evaluateCondition("users | selectattr('admin', 'defined') | list | length == 1", vars), true)
  assert.throws(() => evaluateCondition('name < 3', vars), /cannot compare/)
})

test("Ansible's filters", () => {
  const v = { ...vars, d: { k: 1, j: [1, 2] }, s: 'Hello World', path: '/etc/app/main.yml' }
  const cases: [string, string][] = [
    ["{{ users | selectattr('admin', 'defined') | map(attribute='name') | list }}", "['ann']"],
    ["{{ users | rejectattr('uid', 'lt', 1002) | map(attribute='uid') | join(',') }}", '1002'],
    ["{{ users | map(attribute='admin', default=false) | list }}", '[True, False]'],
    ['{{ d | to_json }}', '{"k": 1, "j": [1, 2]}'],
    ['{{ d | to_nice_json }}', '{\n    "j": [\n        1,\n        2\n    ],\n    "k": 1\n}'],
    ['{{ d | to_yaml }}', 'j: [1, 2]\nk: 1\n'],
    ['{{ d | to_nice_yaml }}', 'j:\n- 1\n- 2\nk: 1\n'],
    ['{{ users | to_nice_yaml(indent=2) }}', '- admin: true\n  name: ann\n  uid: 1001\n- name: bob\n  uid: 1002\n'],
    ["{{ ['yes', '1', 'a: b', '', '-x'] | to_yaml }}", "['yes', '1', 'a: b', '', -x]\n"],
    [
      '{{ s | b64encode }} {{ "SGk=" | b64decode }} {{ path | basename }} {{ path | dirname }}',
      'SGVsbG8gV29ybGQ= Hi main.yml /etc/app',
    ],
    [
      "{{ s | regex_replace('(?P<a>\\\\w+) (\\\\w+)', '\\\\2 \\\\g<a>') }} {{ s | regex_search('W\\\\w+') }}",
      'World Hello World',
    ],
    [
      "{{ s | regex_search('(\\\\w+) (\\\\w+)', '\\\\2') }} {{ s | regex_search('zz') }} {{ 'a1b22' | regex_findall('\\\\d+') }}",
      "['World']  ['1', '22']",
    ],
    [
      '{{ "yes" | bool }} {{ "y" | bool }} {{ "12" | int + 1 }} {{ "3.5" | float }} {{ 2 | float }} {{ 2.5 | round }} {{ 2.567 | round(2) }}',
      'True False 13 3.5 2.0 2.0 2.57',
    ],
    ["{{ true | ternary('y', 'n') }} {{ none | ternary('y', 'n', 'null') }}", 'y null'],
    ["{{ {'a': 1, 'b': {'c': 1}} | combine({'b': {'d': 2}}, recursive=true) }}", "{'a': 1, 'b': {'c': 1, 'd': 2}}"],
    [
      "{{ d | dict2items }} {{ [{'key': 'a', 'value': 1}] | items2dict }}",
      "[{'key': 'k', 'value': 1}, {'key': 'j', 'value': [1, 2]}] {'a': 1}",
    ],
    [
      "{{ ['a', 'B', 'b', 'a'] | unique }} {{ [3, 1, 2] | sort }} {{ ['b', 'A'] | sort }} {{ [3, 1] | sort(reverse=true) }}",
      "['a', 'B'] [1, 2, 3] ['A', 'b'] [3, 1]",
    ],
    [
      "{{ 'abc' | hash('sha1') }} {{ 'abc' | hash('md5') }}",
      'a9993e364706816aba3e25717850c26c9cd0d89d 900150983cd24fb0d6963f7d28e17f72',
    ],
    [
      "{{ s | split }} {{ 'a,b' | split(',') }} {{ s.split()[1] }} {{ '{}-{}'.format(1, 'a') }} {{ '%s=%03d' | format('x', 7) }}",
      "['Hello', 'World'] ['a', 'b'] World 1-a x=007",
    ],
    [
      '{{ d | length }} {{ s | length }} {{ [[1, [2]], 3] | flatten }} {{ [1, 2] | union([2, 3]) }} {{ [1, 2] | difference([2]) }}',
      '2 11 [1, 2, 3] [1, 2, 3] [1]',
    ],
  ]
  for (const [template, want] of cases) assert.is(render(template, v), want, template)
})

test("tests: Jinja's and Ansible's (registered results)", () => {
  const r = {
    ok: { changed: true, failed: false },
    bad: { changed: false, failed: true },
    skip: { changed: false, skipped: true },
  }
  assert.is(
    render(
      '{{ ok is changed }} {{ ok is succeeded }} {{ bad is failed }} {{ skip is skipped }} {{ ok is skipped }}',
      r,
    ),
    'True True True True False',
  )
  assert.is(
    render(
      "{{ 'ab12' is match('ab') }} {{ 'ab12' is search('12') }} {{ 4 is divisibleby(2) }} {{ 3 is odd }} {{ [1] is subset([1, 2]) }} {{ 1.0 is float }} {{ 1 is integer }}",
      {},
    ),
    'True True True True True True True',
  )
  assert.throws(() => render('{{ 3 is failed }}', {}), /registered result/)
})

test('values print as Jinja prints Python values (checked against ansible-playbook in test/differential)', () => {
  const v = parseYaml(
    `l: [a, "it's", 1, 1.0, 2.5, true, null]\nd: {k: v, n: 1}\nf: 1.0\ne: 1.5e-7\nbig: 1.0e+20\n`,
    'vars.yml',
  ).value as Record<string, unknown>
  assert.is(render('{{ l }}', v), `['a', "it's", 1, 1.0, 2.5, True, None]`)
  assert.is(render('{{ d }} {{ f }} {{ e }} {{ big }}', v), `{'k': 'v', 'n': 1} 1.0 1.5e-07 1e+20`)
  assert.is(pyJson([1, 'a', { k: true }]), '[1, "a", {"k": true}]')
})

test("task args convert like Ansible's templar: a bare variable keeps its type, list/dict/bool text becomes one", () => {
  const v = { n: 5, b: true, l: ['a'], s: 'text', z: null }
  assert.equal(
    renderValue(
      [
        '{{ n }}',
        '{{ n | string }}',
        '{{ 5 }}',
        '{{ b }}',
        '{{ n == 5 }}\n',
        '{{ l }}\n',
        '{{ s }}\n',
        '{{ {"k": n} }}',
        '{{ {"k": n} | to_json }}',
        '{{ z }}',
      ],
      v,
    ),
    [5, '5', '5', true, true, ['a'], 'text\n', { k: 5 }, '{"k": 5}', null],
  )
})

test('checked before anything connects: syntax, unknown filters, tests, functions; line and column', () => {
  const at = (text: string) => {
    const e = error(() => checkTemplate(text))
    return `${e.line}:${e.column} ${e.reason}`
  }
  assert.match(at('a\n  {{ x | nope }}'), /^2:10 unknown filter "nope"/)
  assert.match(at('{{ x is nope }}'), /^1:\d+ unknown test "nope"/)
  assert.match(at('{{ lookup("file", "x") }}'), /lookup\(\) is not supported/)
  assert.match(at('{{ x.__class__() }}'), /the method x\.__class__\(\) is not supported/)
  assert.match(at('{% include "x.j2" %}'), /^1:4 \{% include %\} is not supported/)
  assert.match(at('{% for x in y if x %}{% endfor %}'), /loop filter/)
  assert.match(at('{{ loop.cycle }}'), /loop\.cycle is not supported/)
  assert.match(at('{% set a, b = [1, 2] %}'), /unpacking\) is not supported/)
  assert.match(at('{% with x = 1 %}{% endwith %}'), /unknown block tag: with/)
  for (const bad of ['{{ x', 'a {{ b }} {{ c']) assert.match(at(bad), /\{\{ is never closed/)
  assert.match(at('{{ x }'), /^1:6 unexpected "}" \(expected }}\)/)
  assert.match(at('{{ a b }}'), /^1:6 unexpected "b" \(expected }}\)/)
  assert.match(at('{# x'), /comment opened with \{# is never closed/)
  assert.match(at('{% if x %}a'), /expected elif, else, or endif/)
  assert.match(at('{{ }}'), /unexpected end of the expression/)
  assert.not.throws(() =>
    checkTemplate('{{ a | default(b.c) }} {{ x is defined }} {{ hostvars[h].x }} {{ m | default(omit) }}'),
  )
  assert.not.throws(() => checkTemplate('{{ level > 2 and "a" in names }} {{ 1 if x else 2 }} a }} b #}'))
})

test('no way out of the template: own properties only, no prototype, no JavaScript functions', () => {
  assert.throws(() => render("{{ ''.constructor }}", vars), /undefined/)
  assert.throws(() => render('{{ list.__proto__ }}', vars), /undefined/)
  assert.throws(() => render('{{ constructor }}', vars), /'constructor' is undefined/)
  assert.throws(() => checkTemplate("{{ ''.constructor.constructor('return process')() }}"), /not supported/)
  assert.is(render('{{ nested.toString | default("none") }}', vars), 'none')
  assert.throws(() => checkTemplate('{{ a\\");process.exit(3);// }}'), /unexpected|is not a valid name/)
  assert.throws(() => checkTemplate('{% for x\\ in y %}{% endfor %}'), /is not a valid name/)
})

test.run()
