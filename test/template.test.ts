// The Jinja subset: rendering, native values, `when` conditions, and what is refused.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { checkTemplate, evaluateCondition, pyJson, render, renderValue, TemplateError } from '../src/template.ts'
import { parseYaml } from '../src/yaml.ts'

const vars = {
  name: 'light01',
  port: 22,
  on: true,
  off_text: 'false',
  list: ['a', 'b'],
  nested: { inner: { value: 'deep' }, 'dash-key': 1 },
  base: '/srv',
  dest: '{{ base }}/app',
  loop: '{{ loop }}',
}

test('renders variables, dotted and indexed access, defaults and filters', () => {
  assert.is(render('host={{ name }} port={{port}}', vars), 'host=light01 port=22')
  assert.is(render('{{ nested.inner.value }} {{ nested["dash-key"] }} {{ list[1] }}', vars), 'deep 1 b')
  assert.is(render('{{ missing | default("x") }} {{ missing | d(3) }} {{ name | default("x") }}', vars), 'x 3 light01')
  assert.is(render('{{ "" | default("empty", true) }}', vars), 'empty')
  assert.is(
    render('{{ name | upper }} {{ list | join(",") }} {{ list | length }} {{ " a " | trim }}', vars),
    'LIGHT01 a,b 2 a',
  )
  assert.is(render(`{{ "it's a" | quote }}`, vars), `'it'\\''s a'`) // POSIX quoting, as Ansible's shlex.quote
  assert.is(render('{{ on }} {{ list }} {# a comment #}x', vars), "True ['a', 'b'] x") // Python's repr, as Jinja prints a list
  assert.is(render('{{ name ~ "-" ~ port }}', vars), 'light01-22')
})

test('vars holding templates are rendered when used', () => {
  assert.is(render('{{ dest }}/x', vars), '/srv/app/x')
  assert.throws(() => render('{{ loop }}', vars), /recursive/)
})

test('a value that is one expression keeps its type', () => {
  assert.equal(renderValue({ a: '{{ port }}', b: ['{{ list }}'], c: 'p{{ port }}', d: 5 }, vars), {
    a: 22,
    b: [['a', 'b']],
    c: 'p22',
    d: 5,
  })
})

test('undefined values are errors unless tested or defaulted', () => {
  assert.throws(
    () => render('{{ nope }}', vars),
    (e: Error) => e instanceof TemplateError && /'nope' is undefined/.test(e.message),
  )
  assert.throws(() => render('{{ nested.nope.deeper }}', vars), /undefined/)
  assert.throws(() => evaluateCondition('nope == 1', vars), /'nope' is undefined/)
  assert.is(evaluateCondition('nope is not defined', vars), true)
  assert.is(evaluateCondition('nested.inner is defined', vars), true)
})

test('conditions: comparisons, boolean logic, in, tests, Python truthiness', () => {
  assert.is(evaluateCondition('name == "light01" and port > 20', vars), true)
  assert.is(evaluateCondition('name != "light01" or not on', vars), false)
  assert.is(evaluateCondition('"a" in list and "z" not in list', vars), true)
  assert.is(evaluateCondition('(port >= 22) and (port <= 22)', vars), true)
  assert.is(evaluateCondition('off_text', vars), true) // a non-empty string is true, as in Jinja
  assert.is(evaluateCondition('off_text | bool', vars), false) // ... hence | bool, as in Ansible
  assert.is(evaluateCondition('{{ on }}', vars), true)
  assert.is(evaluateCondition(false, vars), false)
  assert.throws(() => evaluateCondition('name < 3', vars), /cannot compare/)
})

test('what is not in the subset is refused, with no code run', () => {
  assert.throws(() => checkTemplate('{% for x in y %}{% endfor %}'), /not supported/)
  assert.throws(() => checkTemplate('{{ a | system("id") }}'), /unknown filter "system"/)
  assert.throws(() => checkTemplate('{{ a.__class__() }}'), /unexpected "\("/)
  assert.throws(() => checkTemplate('{{ a + 1 }}'), /unexpected/)
  assert.throws(() => checkTemplate('{{ }}'), /empty expression/)
  assert.not.throws(() => checkTemplate('{{ a | default(b.c) }} {{ x is defined }}'))
})

test('values print as Jinja prints Python values (checked against ansible-playbook in test/differential)', () => {
  const v = parseYaml(
    `l: [a, "it's", 1, 1.0, 2.5, true, null]\nd: {k: v, n: 1}\nf: 1.0\ne: 1.5e-7\nbig: 1.0e+20\n`,
    'vars.yml',
  ).value as Record<string, unknown>
  assert.is(render('{{ l }}', v), `['a', "it's", 1, 1.0, 2.5, True, None]`)
  assert.is(render('{{ d }} {{ f }} {{ e }} {{ big }}', v), `{'k': 'v', 'n': 1} 1.0 1.5e-07 1e+20`)
  assert.is(render('[{{ none }}] {{ none | string }} {{ none ~ "" }}', v), '[] None None')
  assert.is(pyJson([1, 'a', { k: true }]), '[1, "a", {"k": true}]')
})

test('bool and int filters as Ansible and Jinja', () => {
  assert.is(
    render(
      '{{ "y" | bool }} {{ "yes" | bool }} {{ "TRUE" | bool }} {{ "1" | bool }} {{ 1 | bool }} {{ "t" | bool }}',
      {},
    ),
    'False True True True True False',
  )
  assert.is(
    render('{{ "12abc" | int }} {{ "12" | int }} {{ "1.9" | int }} {{ " 7 " | int }} {{ true | int }}', {}),
    '0 12 1 7 1',
  )
})

test("task args convert like Ansible's templar: a bare variable keeps its type, list/dict/bool text becomes one", () => {
  const v = { n: 5, b: true, l: ['a'], s: 'text' }
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
      ],
      v,
    ),
    [5, '5', '5', true, true, ['a'], 'text\n', { k: 5 }],
  )
})

test('malformed templates and what this engine lacks are refused when checked', () => {
  for (const bad of ['{{ x }', '{{ x', '{# x', 'a {{ b }} {{ c'] as const)
    assert.throws(() => checkTemplate(bad), /never closed/)
  assert.throws(() => checkTemplate('{{ hostvars[h].x }}'), /"hostvars" is not supported/)
  assert.throws(() => checkTemplate('{{ m | default(omit) }}'), /"omit" is not supported/)
  assert.not.throws(() => checkTemplate('a }} b #}'))
  assert.not.throws(() => checkTemplate('{{ level > 2 and "a" in names }}'))
})

test('an undefined attribute is named in full', () => {
  assert.throws(() => render('{{ nested.inner.nope }}', vars), /'nested\.inner\.nope' is undefined/)
})

test.run()
