// The bottom layer: Ansible's two booleans (they are different functions in Ansible too), shell words, Python regexps.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import {
  ansibleBoolean,
  fnmatchRegExp,
  jinjaBool,
  PyFloat,
  pyExpand,
  pyRegExp,
  quote,
  splitWords,
} from '../src/util.ts'

test('ansibleBoolean is convert_bool.boolean: y/t count, other numbers and strings do not', () => {
  for (const v of [true, 1, new PyFloat(1), 'y', 'YES', ' on ', '1', 'True', 't'])
    assert.is(ansibleBoolean(v), true, String(v))
  for (const v of [false, 0, 'n', 'No', 'off', '0', 'false', 'F']) assert.is(ansibleBoolean(v), false, String(v))
  for (const v of [2, 'ture', '', null, [], {}]) {
    assert.is(ansibleBoolean(v), false, String(v))
    assert.is(ansibleBoolean(v, true), undefined, String(v))
  }
})

test('jinjaBool is the bool filter: None stays None, y and t are false', () => {
  assert.is(jinjaBool(null), null)
  for (const v of [true, 1, 'yes', 'ON', '1', 'true']) assert.is(jinjaBool(v), true, String(v))
  for (const v of ['y', 't', 2, 'no', [], {}]) assert.is(jinjaBool(v), false, String(v))
})

test('quote and splitWords round-trip through sh', () => {
  const words = ['plain', 'two words', "it's", '$(touch /tmp/x)', '`id`', 'a;b', 'new\nline', '']
  assert.equal(splitWords(words.map(quote).join(' ')), words)
  assert.equal(splitWords(`a "b \\"c\\"" 'd e'\\ f`), ['a', 'b "c"', 'd e f'])
  assert.throws(() => splitWords("'open"), /unterminated '/)
})

test("pyRegExp and pyExpand: Python's named groups, inline flags and backreferences", () => {
  const m = pyRegExp('^(?P<key>\\w+)=(?P=key)?(\\d+)$').exec('port=port22')!
  assert.ok(m)
  assert.is(pyExpand('\\g<key> is \\2, \\g<2>\\t|\\1', m), 'port is 22, 22\t|port')
  assert.ok(pyRegExp('(?i)^listen').test('LISTEN 80'))
  assert.is(pyExpand('\\3', pyRegExp('(a)(b)?(c)?').exec('a')!), '', 'an unmatched group is empty, as in Python 3.5+')
  assert.throws(() => pyExpand('\\g<nope>', m), /invalid group reference/)
  assert.throws(() => pyRegExp('(unclosed'), /bad regular expression "\(unclosed"/)
})

test("fnmatchRegExp is Python's fnmatch.fnmatchcase (each expectation from Python 3.11)", () => {
  const cases: [string, string, boolean][] = [
    ['a.conf', '*.conf', true],
    ['.hidden', '*', true],
    ['b', '[!a]', true],
    ['a', '[!a]', false],
    [']', '[]]', true],
    ['x', '[!]]', true],
    [']', '[!]]', false],
    ['a[b', 'a[b', true],
    ['^', '[^]', true],
    ['1.2-3', '1.2*', true],
    ['1x2', '1.2', false],
    ['a\\b', 'a[\\]b', true],
    ['c', '[a-c]', true],
    ['ab', 'a?', true],
  ]
  for (const [text, pattern, expected] of cases)
    assert.is(fnmatchRegExp(pattern).test(text), expected, `${JSON.stringify(text)} ~ ${JSON.stringify(pattern)}`)
})

test.run()
