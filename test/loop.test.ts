// Loops as Ansible's TaskExecutor makes them: the items of each loop kind, an item's vars and label, the one
// result a looped task registers, and how many attempts `until` gets.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { attemptsOf, fileglob, itemFields, itemLabel, itemVars, loopItems, loopResult, noItems } from '../src/loop.ts'
import type { Loop } from '../src/playbook.ts'
import { tempDir } from './tmp.ts'

const loop = (kind: Loop['kind'], value: unknown, more: Partial<Loop> = {}): Loop => ({
  kind,
  value,
  loopVar: 'item',
  ...more,
})

test('loop: a list, or a template that gives one; anything else is an error', () => {
  const vars = { users: ['a', 'b'], text: 'abc' }
  assert.equal(loopItems(loop('loop', [1, { a: 2 }]), vars, '/'), [1, { a: 2 }])
  assert.equal(loopItems(loop('loop', '{{ users }}'), vars, '/'), ['a', 'b'])
  assert.throws(() => loopItems(loop('loop', '{{ text }}'), vars, '/'), /requires a list, got this instead/)
  assert.throws(() => loopItems(loop('loop', '{{ nope }}'), vars, '/'), /nope/)
})

test('with_items flattens one level; with_dict gives key/value items in order', () => {
  assert.equal(loopItems(loop('items', [['a', ['b']], 'c']), {}, '/'), ['a', ['b'], 'c'])
  assert.equal(loopItems(loop('items', 'one'), {}, '/'), ['one'])
  assert.equal(loopItems(loop('items', '{{ l }}'), { l: [[1, 2], 3] }, '/'), [1, 2, 3])
  assert.equal(loopItems(loop('dict', { b: 1, a: { x: 2 } }), {}, '/'), [
    { key: 'b', value: 1 },
    { key: 'a', value: { x: 2 } },
  ])
  assert.throws(() => loopItems(loop('dict', '{{ l }}'), { l: [1] }, '/'), /with_dict expects a dict, got a list/)
})

test('with_fileglob: files under files/DIR first, then DIR; absolute patterns as they are; no directories', () => {
  const base = tempDir('hbmon-glob-')
  mkdirSync(join(base, 'files/conf/sub'), { recursive: true })
  mkdirSync(join(base, 'other'))
  for (const f of ['files/conf/b.conf', 'files/conf/a.conf', 'files/conf/c.txt', 'files/conf/.h.conf', 'other/x.conf'])
    writeFileSync(join(base, f), 'x')
  assert.equal(fileglob('conf/*.conf', base), [join(base, 'files/conf/a.conf'), join(base, 'files/conf/b.conf')])
  assert.equal(fileglob('conf/[ab].c?nf', base), [join(base, 'files/conf/a.conf'), join(base, 'files/conf/b.conf')])
  assert.equal(fileglob('conf/[!a]*', base), [join(base, 'files/conf/b.conf'), join(base, 'files/conf/c.txt')])
  assert.equal(fileglob('other/*', base), [join(base, 'other/x.conf')])
  assert.equal(fileglob(join(base, 'files/conf/*.txt'), base), [join(base, 'files/conf/c.txt')])
  assert.equal(fileglob('missing/*', base), [])
  assert.equal(loopItems(loop('fileglob', ['conf/a*', 'other/*']), {}, base), [
    join(base, 'files/conf/a.conf'),
    join(base, 'other/x.conf'),
  ])
})

test("an item's vars, registered fields and label", () => {
  const l = loop('loop', [], { loopVar: 'u', indexVar: 'i', label: '{{ u.name }}' })
  const vars = itemVars(l, { x: 1 }, { name: 'ann' }, 2)
  assert.equal(vars, { x: 1, ansible_loop_var: 'u', u: { name: 'ann' }, ansible_index_var: 'i', i: 2 })
  assert.equal(itemFields(l, 'a', 0), { u: 'a', ansible_loop_var: 'u', i: 0, ansible_index_var: 'i' })
  assert.is(itemLabel(l, vars), 'ann')
  assert.is(itemLabel(loop('loop', []), { item: ['a', 1] }), "['a', 1]")
})

test('the looped result: changed if one changed, failed if one failed, skipped if all were', () => {
  const item = (changed: boolean, failed: boolean, skipped: boolean) => ({
    changed,
    failed,
    skipped,
    registered: { changed },
  })
  let r = loopResult([item(true, false, false), item(false, false, true)])
  assert.equal([r.changed, r.failed, r.skipped, r.msg], [true, false, false, 'All items completed'])
  assert.equal(r.registered, {
    results: [{ changed: true }, { changed: false }],
    changed: true,
    msg: 'All items completed',
    skipped: false,
  })
  r = loopResult([item(true, false, false), item(false, true, false)])
  assert.equal([r.failed, r.msg, r.registered.failed], [true, 'One or more items failed', true])
  r = loopResult([item(false, false, true), item(false, false, true)])
  assert.equal([r.skipped, r.msg], [true, 'All items skipped'])
  assert.equal(noItems, { changed: false, skipped: true, skipped_reason: 'No items in the list', results: [] })
})

test('until: retries + 1 attempts (retries 3 by default), 1 for retries <= 0 or without until', () => {
  assert.is(attemptsOf({ retries: 3 }), 1)
  assert.is(attemptsOf({ until: ['x'], retries: 3 }), 4)
  assert.is(attemptsOf({ until: ['x'], retries: 1 }), 2)
  assert.is(attemptsOf({ until: ['x'], retries: 0 }), 1)
  assert.is(attemptsOf({ until: ['x'], retries: -2 }), 1)
})

test.run()
