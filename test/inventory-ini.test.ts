// The INI inventory parser on strings: value typing and shlex against Python itself (the functions Ansible's
// ini plugin calls), and the errors of malformed files with their file:line.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFileSync } from 'node:child_process'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Builder, finishInventory, toAnsibleList } from '../src/inventory.ts'
import { parseIni, parseValue, shlexSplit } from '../src/inventory-ini.ts'
import { loadSources } from '../src/inventory-sources.ts'
import { InputError, plain } from '../src/util.ts'

const values = [
  '1',
  '-1',
  '+1',
  '--1',
  '-True',
  '1.5',
  '2.0',
  '1e3',
  '1E-2',
  '.5',
  '5.',
  '1.e2',
  '0x1F',
  '0o17',
  '0b101',
  '1_000',
  '1__0',
  '007',
  '00',
  '0_0',
  '1abc',
  '1.2.3',
  'True',
  'False',
  'None',
  'true',
  'yes',
  'no',
  'null',
  "'x'",
  '"x"',
  "'it''s'",
  '\'a\' "b"',
  "'a\\nb'",
  "'\\x41\\u00e9'",
  "r'\\n'",
  "b'raw'",
  "u'uni'",
  "'\\q'",
  "f'x'",
  '[1, 2]',
  '[1, 2,]',
  '[,]',
  '[]',
  '()',
  '(1)',
  '(1,)',
  '(1, 2)',
  '1, 2',
  '1,',
  '{}',
  "{'a': 1}",
  '{"a": [1, {"b": None}]}',
  '{1: 2, 2.5: 3}',
  "{'a': 1,}",
  '{1: 2',
  "'unclosed",
  '"unclosed',
  'hello world',
  'a=b',
  '/etc/hbmon',
  '1.2.3.4',
  '10.0.0.1',
  '1 # comment',
  'x # comment',
  '1 2',
  '1 + 2',
  '[1] + [2]',
  'not True',
  '~1',
  '1 if 1 else 2',
  'lambda: 1',
  'abs(1)',
  '[1][0]',
  '"a".upper',
  '1 < 2',
  '(1 ,  2 )',
  '  1',
  '\t[1]',
  "'café'",
  'café',
  '{"k": "v", 1: 2}',
  '0755',
  '08',
  '1.0e+3',
  '9007199254740993',
  "'''triple'''",
  '"""a"b"""',
  '',
  ' ',
  '#',
  "'a' # c",
  '[1, # c\n 2]',
  "'\\101'",
  '-0',
  '-0.0',
  '- 1',
  '+ 1.5',
  'x=1',
  '$HOME',
  '{{ var }}',
  "'{{ var }}'",
]

test('parseValue: what Python 3.11 ast.literal_eval makes of each value (else the string)', () => {
  const script = `
import ast, json, sys
out = []
for v in json.load(sys.stdin):
    try:
        r = ast.literal_eval(v)
        if isinstance(r, bytes): r = r.decode()
        out.append(['ok', r])
    except (ValueError, SyntaxError):
        out.append(['str', v])
print(json.dumps(out))`
  const python = JSON.parse(execFileSync('python3', ['-c', script], { input: JSON.stringify(values) }).toString()) as [
    string,
    unknown,
  ][]
  const fail = (reason: string): never => {
    throw new Error(reason)
  }
  values.forEach((v, i) => {
    const [kind, expected] = python[i]!
    const ours = plain(parseValue(v, fail))
    assert.equal(
      ours,
      kind === 'str' ? v : expected,
      `${JSON.stringify(v)}: python ${kind} ${JSON.stringify(expected)}`,
    )
  })
})

test('parseValue: literals JSON cannot hold are errors, not strings', () => {
  const fail = (reason: string): never => {
    throw new Error(reason)
  }
  for (const v of ['{1, 2}', '1j', '1+2j', '{[1]: 2}'])
    assert.throws(() => parseValue(v, fail), /Python reads the value .* as a (set|complex number|dict with)/, v)
})

const lines = [
  'a b c',
  'h1 x=1 y="a b"',
  "h1 x='a # b' # comment",
  'h1 x=a#b',
  'h1 x=\\"q\\" y=a\\ b',
  'h1 x="a\\"b\\\\c\\n"',
  "h1 x=''",
  'h1 x="" y',
  "h1 x='it'\"'\"'s'",
  'h1\tx=1',
  'web[01:03]:2222 a=1',
]

test('shlexSplit: as Python shlex.split(s, comments=True)', () => {
  const python = JSON.parse(
    execFileSync(
      'python3',
      ['-c', 'import json,shlex,sys; print(json.dumps([shlex.split(l, comments=True) for l in json.load(sys.stdin)]))'],
      {
        input: JSON.stringify(lines),
      },
    ).toString(),
  ) as string[][]
  lines.forEach((l, i) => assert.equal(shlexSplit(l), python[i], l))
  assert.throws(() => shlexSplit('h1 x="open'), /no closing quotation/)
  assert.throws(() => shlexSplit('h1 x=\\'), /no escaped character/)
})

function parse(text: string) {
  const builder = new Builder()
  parseIni(text, 'hosts', builder)
  return finishInventory(builder, 'hosts')
}

test('a small INI inventory: groups, children declared later, vars, ports, ranges', () => {
  const inv = parse(
    'lone:2200\n[web]\nw[1:2] role=web\n[prod:children]\nweb\nlate\n[late]\nl1\n[prod:vars]\nenv=prod\n',
  )
  const list = toAnsibleList(inv)
  assert.equal(list.all, { children: ['ungrouped', 'prod'] })
  assert.equal(list.prod, { children: ['web', 'late'] })
  assert.equal(list.ungrouped, { hosts: ['lone'] })
  assert.equal(inv.hosts.get('w1')!.vars, { env: 'prod', role: 'web' })
  assert.is(inv.hosts.get('lone')!.connection.port, 2200)
  assert.equal(inv.locate?.('w2', 'role'), { file: 'hosts', line: 3, column: 8 })
})

const errors: [string, string, RegExp][] = [
  ['[web]\nw1\n[db:vars]\nx=1\n', 'hosts:3:1: ', /\[db:vars\] is for a group that is never declared/],
  ['[p:children]\nweb\n', 'hosts:2:1: ', /\[p:children\] names a group that is never declared: web/],
  ['[web:hostz]\n', 'hosts:1:1: ', /unknown type "hostz"/],
  ['[web]\nw1 user deploy\n', 'hosts:2:1: ', /expected key=value after the host name, got "user"/],
  ['[web]\nw1 =x\n', 'hosts:2:1: ', /the name is empty/],
  ['[web:vars]\njustaname\n', 'hosts:2:1: ', /expected key=value, got "justaname"/],
  ['[web:children]\na b\n', 'hosts:2:1: ', /expected a group name, got "a b"/],
  ['[web]\n\n\nw1 x="open\n', 'hosts:4:1: ', /no closing quotation/],
  ['[web]\nw[3:1]\n', 'hosts:2:1: ', /empty \(begin after end\)/],
  ['[web]\nw1:\n', 'hosts:2:1: ', /a trailing ":" is reserved for a port/],
  ['---\nall:\n', 'hosts:1:1: ', /"---" starts a YAML document/],
  ['[a:children]\nb\n[b:children]\na\n[b]\n', 'hosts:4:1: ', /group "a" would be its own ancestor: a → b → a/],
  ['[web]\nw1 s={1,2}\n', 'hosts:2:1: ', /as a set/],
  ['[web]\nw1 ansible_port=ssh\n', 'hosts:2:4: ', /ansible_port: expected a port number|expected a port number/],
  ['[web servers]\n', 'hosts:1:1: ', /invalid section/],
]
for (const [text, prefix, reason] of errors) {
  test(`error: ${JSON.stringify(text)}`, () => {
    try {
      parse(text)
      assert.unreachable('parsed')
    } catch (e) {
      if (!(e instanceof InputError)) throw e
      assert.ok(e.message.startsWith(prefix), e.message)
      assert.match(e.message, reason)
    }
  })
}

test('sources: a script inventory is refused, not run; a file neither YAML nor INI names both errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hbmon-sources-'))
  try {
    writeFileSync(join(dir, 'script'), '#!/bin/sh\necho {}\n')
    assert.throws(() => loadSources([join(dir, 'script')]), /script inventory, which this engine does not run/)
    writeFileSync(join(dir, 'exec.yml'), 'all:\n  hosts:\n    h1:\n')
    chmodSync(join(dir, 'exec.yml'), 0o755)
    assert.throws(() => loadSources([join(dir, 'exec.yml')]), /an executable file is a script inventory/)
    writeFileSync(join(dir, 'broken'), '[web\nw1 "open\n')
    assert.throws(
      () => loadSources([join(dir, 'broken')]),
      (e: Error) =>
        e instanceof InputError &&
        /neither a YAML inventory \(.*broken:\d+:\d+: .*\) nor an INI one \(.*broken:1:1: /.test(e.message),
    )
    assert.throws(() => loadSources([join(dir, 'missing')]), /missing: no such inventory file or directory/)
    const inv = loadSources(['h1,h2:2222,,10.0.0.1'])
    assert.equal([...inv.hosts.keys()], ['h1', 'h2', '10.0.0.1'])
    assert.is(inv.hosts.get('h2')!.connection.port, 2222)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test.run()
