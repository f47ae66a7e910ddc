// Jinja's and Ansible's filters, tests and functions for src/template.ts, as ansible-core 2.14 and Jinja 3.1
// define them (names, arguments, keyword arguments), on the values of python.ts. README's "Coming from
// Ansible" lists them; test/differential/cases-templates.ts renders them with both tools.

import { createHash } from 'node:crypto'
import {
  binary,
  compare,
  contains,
  isFloat,
  keywordsOf,
  list,
  num,
  numberResult,
  printf,
  pyDirname,
  pyBasename,
  pyEqual,
  pyJson,
  pyOrder,
  pyRepr,
  pySplit,
  pyStrip,
  pyTitle,
  pyYaml,
  regex,
  replacement,
  str,
  TemplateError,
  toFloat,
  toInt,
  truthy,
  tuple,
  typeName,
  Undefined,
} from './python.ts'
import { define, jinjaBool, PyFloat, quote } from './util.ts'
import { parseYaml } from './yaml.ts'

/** What a filter or test gets as `this`: how the template reads an attribute (hostvars' values are rendered). */
export interface Scope {
  member(obj: unknown, key: unknown, what: string): unknown
}

type Fn = (this: Scope, value: unknown, ...args: unknown[]) => unknown

/** Binds positional and keyword arguments (nunjucks passes keywords last, marked __keywords) to names. */
function bind(args: unknown[], names: string[], defaults: unknown[] = []): unknown[] {
  const last = args.at(-1) as Record<string, unknown> | undefined
  const keywords = last && typeof last === 'object' && (last as { __keywords?: boolean }).__keywords ? last : undefined
  const positional = keywords ? args.slice(0, -1) : args
  if (positional.length > names.length)
    throw new TemplateError(`takes at most ${names.length} arguments (${positional.length} given)`)
  const out = names.map((_, i) => positional[i])
  for (const [k, v] of Object.entries(keywords ?? {})) {
    if (k === '__keywords') continue
    const i = names.indexOf(k)
    if (i < 0) throw new TemplateError(`unexpected keyword argument '${k}'`)
    out[i] = v
  }
  return out.map((v, i) => (v === undefined ? defaults[i] : v))
}

function mapping(value: unknown, what: string): Record<string, unknown> {
  if (value instanceof Undefined) value.fail()
  if (value && typeof value === 'object' && !Array.isArray(value) && !(value instanceof PyFloat))
    return value as Record<string, unknown>
  throw new TemplateError(`${what} expects a dictionary, got ${pyRepr(value)}`)
}

/** An attribute path (`a.b`, `0`) of each item, as Jinja's make_attrgetter. */
function attribute(scope: Scope, item: unknown, path: unknown): unknown {
  let value = item
  for (const part of String(path).split('.'))
    value = scope.member(value, /^\d+$/.test(part) ? Number(part) : part, 'item')
  return value
}

function sortKey(scope: Scope, caseSensitive: unknown, attr: unknown): (v: unknown) => unknown {
  return (v) => {
    const x = attr === undefined || attr === null ? v : attribute(scope, v, attr)
    if (x instanceof Undefined) x.fail()
    return typeof x === 'string' && !truthy(caseSensitive ?? false) ? x.toLowerCase() : x
  }
}

function sorted(items: unknown[], key: (v: unknown) => unknown, reverse: unknown): unknown[] {
  const keyed = items.map((v) => [key(v), v] as const)
  keyed.sort((a, b) => pyOrder(a[0], b[0]))
  if (truthy(reverse ?? false)) keyed.reverse()
  return keyed.map(([, v]) => v)
}

function uniqueBy(items: unknown[], key: (v: unknown) => unknown): unknown[] {
  const seen: unknown[] = []
  const out: unknown[] = []
  for (const item of items) {
    const k = key(item)
    if (seen.some((s) => pyEqual(s, k))) continue
    seen.push(k)
    out.push(item)
  }
  return out
}

function merge(a: Record<string, unknown>, b: Record<string, unknown>, recursive: boolean, listMerge: string) {
  const out: Record<string, unknown> = { ...a }
  for (const [k, v] of Object.entries(b)) {
    const old = out[k]
    const isMap = (x: unknown) => !!x && typeof x === 'object' && !Array.isArray(x) && !(x instanceof PyFloat)
    if (recursive && isMap(old) && isMap(v))
      define(out, k, merge(old as Record<string, unknown>, v as Record<string, unknown>, recursive, listMerge))
    else if (Array.isArray(old) && Array.isArray(v) && listMerge !== 'replace')
      define(
        out,
        k,
        listMerge === 'keep'
          ? old
          : listMerge === 'append'
            ? [...old, ...v]
            : listMerge === 'prepend'
              ? [...v, ...old]
              : listMerge === 'append_rp'
                ? [...old.filter((x) => !v.some((y) => pyEqual(x, y))), ...v]
                : [...v, ...old.filter((x) => !v.some((y) => pyEqual(x, y)))],
      )
    else define(out, k, v)
  }
  return out
}

function flatten(items: unknown[], levels: number | undefined, skipNulls: boolean): unknown[] {
  const out: unknown[] = []
  for (const item of items) {
    if (skipNulls && (item === null || item === 'None')) continue
    if (Array.isArray(item) && (levels === undefined || levels > 0))
      out.push(...flatten(item, levels === undefined ? undefined : levels - 1, skipNulls))
    else out.push(item)
  }
  return out
}

function selectOrReject(select: boolean, byAttribute: boolean): Fn {
  return function (this: Scope, value, ...args) {
    const items = list(value, select ? 'select' : 'reject')
    const [attr, testName, ...testArgs] = byAttribute ? args : [undefined, ...args]
    const test = testName === undefined ? undefined : tests[str(testName)]
    if (testName !== undefined && !test) throw new TemplateError(`no test named ${pyRepr(testName)}`)
    return items.filter((item) => {
      const v = byAttribute ? attribute(this, item, attr) : item
      return (test ? test.call(this, v, ...testArgs) === true : truthy(v)) === select
    })
  }
}

function hashOf(data: unknown, algorithm: unknown): string {
  const name = str(algorithm ?? 'sha1')
  try {
    return createHash(name).update(str(data), 'utf8').digest('hex')
  } catch {
    throw new TemplateError(`unknown hash type ${pyRepr(name)}`)
  }
}

export const filters: Record<string, Fn> = Object.assign(Object.create(null) as Record<string, Fn>, {
  default(value: unknown, ...args: unknown[]) {
    const [fallback, boolean] = bind(args, ['default_value', 'boolean'], ['', false])
    return value instanceof Undefined || (truthy(boolean) && !truthy(value)) ? fallback : value
  },
  mandatory(value: unknown, ...args: unknown[]) {
    const [msg] = bind(args, ['msg'], [null])
    if (value instanceof Undefined)
      throw new TemplateError(msg === null ? `Mandatory variable '${value.what}' not defined.` : str(msg))
    return value
  },
  bool: (value: unknown) => jinjaBool(value),
  int(value: unknown, ...args: unknown[]) {
    const [fallback, base] = bind(args, ['default', 'base'], [0, 10])
    return toInt(value, fallback, Number(base))
  },
  float(value: unknown, ...args: unknown[]) {
    const [fallback] = bind(args, ['default'], [new PyFloat(0)])
    const f = toFloat(value)
    return f === undefined ? fallback : numberResult(f, true)
  },
  string: (value: unknown) => str(value),
  lower: (value: unknown) => str(value).toLowerCase(),
  upper: (value: unknown) => str(value).toUpperCase(),
  capitalize: (value: unknown) => {
    const s = str(value)
    return s.charAt(0).toUpperCase() + s.slice(1).toLowerCase()
  },
  title: (value: unknown) => pyTitle(str(value)),
  trim(value: unknown, ...args: unknown[]) {
    const [chars] = bind(args, ['chars'], [null])
    return pyStrip(str(value), chars, 'both')
  },
  replace(value: unknown, ...args: unknown[]) {
    const [old, replacement, count] = bind(args, ['old', 'new', 'count'], ['', '', null])
    const parts = str(value).split(str(old))
    const n = count === null ? parts.length : Number(count) + 1
    return parts.slice(0, n).join(str(replacement)) + (n < parts.length ? str(old) + parts.slice(n).join(str(old)) : '')
  },
  join(this: Scope, value: unknown, ...args: unknown[]) {
    const [sep, attr] = bind(args, ['d', 'attribute'], ['', null])
    return list(value, 'join')
      .map((v) => str(attr === null ? v : attribute(this, v, attr)))
      .join(str(sep))
  },
  split(value: unknown, ...args: unknown[]) {
    const [sep, maxsplit] = bind(args, ['sep', 'maxsplit'], [null, -1])
    return pySplit(str(value), sep, maxsplit)
  },
  regex_replace(value: unknown, ...args: unknown[]) {
    const [pattern, repl, ignorecase, multiline, count] = bind(
      args,
      ['pattern', 'replacement', 'ignorecase', 'multiline', 'count'],
      ['', '', false, false, 0],
    )
    const re = regex(pattern, { ignorecase, multiline }, true)
    let n = 0
    const limit = Number(count)
    const r = replacement(str(repl))
    return str(value).replace(re, (...m: unknown[]) =>
      limit > 0 && n++ >= limit ? String(m[0]) : r(...(m as [string])),
    )
  },
  regex_search(value: unknown, pattern: unknown, ...rest: unknown[]) {
    const [groups, keywords] = keywordsOf(rest)
    const m = regex(pattern, keywords).exec(str(value))
    if (!m) return null
    if (groups.length === 0) return m[0]
    return groups.map((g) => {
      const spec = /^\\(?:g<(\w+)>|(\d+))$/.exec(str(g))
      if (!spec) throw new TemplateError(`regex_search: unknown argument ${pyRepr(g)}`)
      return spec[2] !== undefined ? (m[Number(spec[2])] ?? null) : (m.groups?.[spec[1]!] ?? null)
    })
  },
  regex_findall(value: unknown, ...args: unknown[]) {
    const [pattern, multiline, ignorecase] = bind(args, ['regex', 'multiline', 'ignorecase'], ['', false, false])
    return [...str(value).matchAll(regex(pattern, { multiline, ignorecase }, true))].map((m) =>
      m.length === 1 ? m[0] : m.length === 2 ? (m[1] ?? '') : tuple(...m.slice(1).map((g) => g ?? '')),
    )
  },
  regex_escape: (value: unknown) => str(value).replace(/[^A-Za-z0-9_]/g, (c) => `\\${c}`),
  to_json(value: unknown, ...args: unknown[]) {
    const [, kw] = keywordsOf(args)
    return pyJson(
      value,
      kw.indent === undefined || kw.indent === null ? undefined : Number(kw.indent),
      truthy(kw.sort_keys ?? false),
    )
  },
  to_nice_json(value: unknown, ...args: unknown[]) {
    const [indent] = bind(args, ['indent'], [4])
    return pyJson(value, Number(indent), true)
  },
  to_yaml(value: unknown, ...args: unknown[]) {
    const [, kw] = keywordsOf(args)
    return pyYaml(value, kw.default_flow_style === false ? 'block' : 'auto', Number(kw.indent ?? 2))
  },
  to_nice_yaml(value: unknown, ...args: unknown[]) {
    const [indent] = bind(args, ['indent'], [4])
    return pyYaml(value, 'block', Number(indent))
  },
  from_json(value: unknown) {
    try {
      return JSON.parse(str(value))
    } catch (e) {
      throw new TemplateError(`from_json: ${(e as Error).message}`)
    }
  },
  from_yaml: (value: unknown) => (typeof value === 'string' ? parseYaml(value, 'from_yaml').value : value),
  b64encode: (value: unknown) => Buffer.from(str(value), 'utf8').toString('base64'),
  b64decode: (value: unknown) => Buffer.from(str(value), 'base64').toString('utf8'),
  basename: (value: unknown) => pyBasename(str(value)),
  dirname: (value: unknown) => pyDirname(str(value)),
  quote: (value: unknown) => quote(str(value)),
  ternary(value: unknown, ...args: unknown[]) {
    const [yes, no, none] = bind(args, ['true_val', 'false_val', 'none_val'], [undefined, undefined, null])
    if (value === null && none !== null) return none
    return truthy(value) ? yes : no
  },
  combine(value: unknown, ...args: unknown[]) {
    const [terms, kw] = keywordsOf(args)
    const all = [value, ...terms].flatMap((t) => (Array.isArray(t) ? t : [t])).map((t) => mapping(t, 'combine'))
    return all.reduce((a, b) => merge(a, b, truthy(kw.recursive ?? false), str(kw.list_merge ?? 'replace')), {})
  },
  dict2items(value: unknown, ...args: unknown[]) {
    const [k, v] = bind(args, ['key_name', 'value_name'], ['key', 'value'])
    return Object.entries(mapping(value, 'dict2items')).map(([key, val]) => {
      const item: Record<string, unknown> = {}
      define(item, str(k), key)
      define(item, str(v), val)
      return item
    })
  },
  items2dict(value: unknown, ...args: unknown[]) {
    const [k, v] = bind(args, ['key_name', 'value_name'], ['key', 'value'])
    const out: Record<string, unknown> = {}
    for (const item of list(value, 'items2dict')) {
      const m = mapping(item, 'items2dict')
      define(out, str(m[str(k)]), m[str(v)])
    }
    return out
  },
  items: (value: unknown) =>
    value instanceof Undefined ? [] : Object.entries(mapping(value, 'items')).map(([k, v]) => tuple(k, v)),
  dictsort(this: Scope, value: unknown, ...args: unknown[]) {
    const [caseSensitive, by, reverse] = bind(args, ['case_sensitive', 'by', 'reverse'], [false, 'key', false])
    const i = by === 'value' ? 1 : 0
    return sorted(
      Object.entries(mapping(value, 'dictsort')).map(([k, v]) => tuple(k, v)),
      (e) => sortKey(this, caseSensitive, null)((e as unknown[])[i]),
      reverse,
    )
  },
  selectattr: selectOrReject(true, true),
  rejectattr: selectOrReject(false, true),
  select: selectOrReject(true, false),
  reject: selectOrReject(false, false),
  map(this: Scope, value: unknown, ...args: unknown[]) {
    const items = list(value, 'map')
    const [positional, kw] = keywordsOf(args)
    if (positional.length === 0 && kw.attribute !== undefined)
      return items.map((item) => {
        const v = attribute(this, item, kw.attribute)
        return v instanceof Undefined && 'default' in kw ? kw.default : v
      })
    const [name, ...rest] = positional
    const filter = filters[str(name)]
    if (!filter) throw new TemplateError(`map: no filter named ${pyRepr(name)}`)
    return items.map((item) =>
      filter.call(this, item, ...rest, ...(Object.keys(kw).length ? [{ ...kw, __keywords: true }] : [])),
    )
  },
  unique(this: Scope, value: unknown, ...args: unknown[]) {
    const [caseSensitive, attr] = bind(args, ['case_sensitive', 'attribute'], [false, null])
    return uniqueBy(list(value, 'unique'), sortKey(this, caseSensitive, attr))
  },
  sort(this: Scope, value: unknown, ...args: unknown[]) {
    const [reverse, caseSensitive, attr] = bind(args, ['reverse', 'case_sensitive', 'attribute'], [false, false, null])
    return sorted(list(value, 'sort'), sortKey(this, caseSensitive, attr), reverse)
  },
  length(value: unknown) {
    if (value instanceof Undefined) value.fail()
    if (typeof value === 'string') return [...value].length
    if (Array.isArray(value)) return value.length
    if (value && typeof value === 'object' && !(value instanceof PyFloat)) return Object.keys(value).length
    throw new TemplateError(`object of type '${typeName(value)}' has no len()`)
  },
  first: (value: unknown) => list(value, 'first')[0] ?? new Undefined('first item'),
  last: (value: unknown) => list(value, 'last').at(-1) ?? new Undefined('last item'),
  min(this: Scope, value: unknown, ...args: unknown[]) {
    const [caseSensitive, attr] = bind(args, ['case_sensitive', 'attribute'], [false, null])
    return sorted(list(value, 'min'), sortKey(this, caseSensitive, attr), false)[0] ?? new Undefined('min of nothing')
  },
  max(this: Scope, value: unknown, ...args: unknown[]) {
    const [caseSensitive, attr] = bind(args, ['case_sensitive', 'attribute'], [false, null])
    return sorted(list(value, 'max'), sortKey(this, caseSensitive, attr), true)[0] ?? new Undefined('max of nothing')
  },
  sum(this: Scope, value: unknown, ...args: unknown[]) {
    const [attr, start] = bind(args, ['attribute', 'start'], [null, 0])
    return list(value, 'sum').reduce((a, v) => binary('Add', a, attr === null ? v : attribute(this, v, attr)), start)
  },
  reverse: (value: unknown) =>
    typeof value === 'string' ? [...value].reverse().join('') : [...list(value, 'reverse')].reverse(),
  list: (value: unknown) => [...list(value, 'list')],
  flatten(value: unknown, ...args: unknown[]) {
    const [levels, skipNulls] = bind(args, ['levels', 'skip_nulls'], [null, true])
    return flatten(list(value, 'flatten'), levels === null ? undefined : Number(levels), truthy(skipNulls))
  },
  union: (a: unknown, b: unknown) => uniqueBy([...list(a, 'union'), ...list(b, 'union')], (v) => v),
  intersect: (a: unknown, b: unknown) =>
    uniqueBy(
      list(a, 'intersect').filter((x) => list(b, 'intersect').some((y) => pyEqual(x, y))),
      (v) => v,
    ),
  difference: (a: unknown, b: unknown) =>
    uniqueBy(
      list(a, 'difference').filter((x) => !list(b, 'difference').some((y) => pyEqual(x, y))),
      (v) => v,
    ),
  abs(value: unknown) {
    const n = num(value)
    if (n === undefined) throw new TemplateError(`bad operand type for abs(): '${typeName(value)}'`)
    return numberResult(Math.abs(n), isFloat(value))
  },
  round(value: unknown, ...args: unknown[]) {
    const [precision, method] = bind(args, ['precision', 'method'], [0, 'common'])
    const f = 10 ** Number(precision)
    const x = Number(value) * f
    // Python's round(): half to even.
    const even = Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : Math.sign(x) * Math.round(Math.abs(x))
    const r = method === 'ceil' ? Math.ceil(x) : method === 'floor' ? Math.floor(x) : even
    return numberResult(r / f, true)
  },
  hash(value: unknown, ...args: unknown[]) {
    const [algorithm] = bind(args, ['hashtype'], ['sha1'])
    return hashOf(value, algorithm)
  },
  checksum: (value: unknown) => hashOf(value, 'sha1'),
  sha1: (value: unknown) => hashOf(value, 'sha1'),
  md5: (value: unknown) => hashOf(value, 'md5'),
  indent(value: unknown, ...args: unknown[]) {
    const [width, first, blank] = bind(args, ['width', 'first', 'blank'], [4, false, false])
    const pad = typeof width === 'string' ? width : ' '.repeat(Number(width))
    const lines = str(value).split('\n')
    return lines
      .map((line, i) => ((i === 0 && !truthy(first)) || (!truthy(blank) && !line.trim()) ? line : pad + line))
      .join('\n')
  },
  format(value: unknown, ...args: unknown[]) {
    // Jinja's: value % (kwargs or args).
    const [positional, keywords] = keywordsOf(args)
    return printf(str(value), Object.keys(keywords).length ? [keywords] : positional, Object.keys(keywords).length > 0)
  },
  extract(this: Scope, value: unknown, ...args: unknown[]) {
    const [container, morekeys] = bind(args, ['container', 'morekeys'], [undefined, null])
    let v = this.member(container, value, 'container')
    for (const k of morekeys === null ? [] : Array.isArray(morekeys) ? morekeys : [morekeys])
      v = this.member(v, k, 'container')
    return v
  },
  attr(this: Scope, value: unknown, name: unknown) {
    return this.member(value, str(name), 'value')
  },
  safe: (value: unknown) => value,
})
filters.d = filters.default!
filters.count = filters.length!
// Filters see an undefined value only where that is their point (default, mandatory): elsewhere it is an error.
for (const [name, filter] of Object.entries(filters))
  if (!['default', 'd', 'mandatory', 'items'].includes(name))
    filters[name] = function (this: Scope, value: unknown, ...args: unknown[]) {
      if (value instanceof Undefined) value.fail()
      try {
        return filter.call(this, value, ...args)
      } catch (e) {
        if (e instanceof TemplateError && !/^(the filter|'.*' is undefined)/.test(e.reason) && !e.line)
          throw new TemplateError(`the filter ${name}: ${e.reason}`)
        throw e
      }
    }

type Test = (this: Scope, value: unknown, ...args: unknown[]) => boolean

function result(v: unknown, test: string): Record<string, unknown> {
  if (v instanceof Undefined) v.fail()
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw new TemplateError(`the "${test}" test expects a registered result (a mapping), got ${pyRepr(v)}`)
  return v as Record<string, unknown>
}

function defined(v: unknown): unknown {
  if (v instanceof Undefined) v.fail()
  return v
}

export const tests: Record<string, Test> = Object.assign(Object.create(null) as Record<string, Test>, {
  defined: (v: unknown) => !(v instanceof Undefined),
  undefined: (v: unknown) => v instanceof Undefined,
  // Type tests are false on an undefined value (isinstance), as in Jinja; the others use it and fail.
  none: (v: unknown) => v === null,
  true: (v: unknown) => v === true,
  false: (v: unknown) => v === false,
  boolean: (v: unknown) => typeof v === 'boolean',
  string: (v: unknown) => typeof v === 'string',
  number: (v: unknown) => typeof v === 'number' || v instanceof PyFloat,
  integer: (v: unknown) => typeof v === 'number' && Number.isInteger(v),
  float: (v: unknown) => isFloat(v),
  mapping: (v: unknown) => !(v instanceof Undefined) && typeName(v) === 'dict',
  sequence: (v: unknown) => !(v instanceof Undefined) && ['str', 'list', 'dict'].includes(typeName(v)),
  iterable: (v: unknown) => ['str', 'list', 'dict'].includes(typeName(v)),
  callable: (v: unknown) => typeof defined(v) === 'function',
  odd: (v: unknown) => Math.abs(Number(defined(v))) % 2 === 1,
  even: (v: unknown) => Number(defined(v)) % 2 === 0,
  divisibleby: (v: unknown, n: unknown) => Number(defined(v)) % Number(n) === 0,
  lower: (v: unknown) => str(defined(v)) === str(v).toLowerCase(),
  upper: (v: unknown) => str(defined(v)) === str(v).toUpperCase(),
  eq: (v: unknown, other: unknown) => compare('==', v, other),
  ne: (v: unknown, other: unknown) => compare('!=', v, other),
  lt: (v: unknown, other: unknown) => compare('<', v, other),
  le: (v: unknown, other: unknown) => compare('<=', v, other),
  gt: (v: unknown, other: unknown) => compare('>', v, other),
  ge: (v: unknown, other: unknown) => compare('>=', v, other),
  in: (v: unknown, container: unknown) => contains(container, v),
  contains: (container: unknown, v: unknown) => contains(container, v),
  sameas: (v: unknown, other: unknown) => v === other,
  match: (v: unknown, ...args: unknown[]) => {
    const [pattern, ignorecase, multiline] = bind(args, ['pattern', 'ignorecase', 'multiline'], ['', false, false])
    return regex(`^(?:${str(pattern)})`, { ignorecase, multiline }).test(str(defined(v)))
  },
  search: (v: unknown, ...args: unknown[]) => {
    const [pattern, ignorecase, multiline] = bind(args, ['pattern', 'ignorecase', 'multiline'], ['', false, false])
    return regex(pattern, { ignorecase, multiline }).test(str(defined(v)))
  },
  regex: (v: unknown, ...args: unknown[]) => {
    const [pattern, ignorecase, multiline, type] = bind(
      args,
      ['pattern', 'ignorecase', 'multiline', 'match_type'],
      ['', false, false, 'search'],
    )
    const source = type === 'match' ? `^(?:${str(pattern)})` : type === 'fullmatch' ? `^(?:${str(pattern)})$` : pattern
    return regex(source, { ignorecase, multiline }).test(str(defined(v)))
  },
  subset: (a: unknown, b: unknown) => list(a, 'subset').every((x) => contains(b, x)),
  superset: (a: unknown, b: unknown) => list(b, 'superset').every((x) => contains(a, x)),
  any: (v: unknown) => list(v, 'any').some(truthy),
  all: (v: unknown) => list(v, 'all').every(truthy),
  // Ansible's tests on registered results.
  failed: (v: unknown) => truthy(result(v, 'failed').failed ?? false),
  succeeded: (v: unknown) => !truthy(result(v, 'succeeded').failed ?? false),
  changed: (v: unknown) => truthy(result(v, 'changed').changed ?? false),
  skipped: (v: unknown) => truthy(result(v, 'skipped').skipped ?? false),
})
Object.assign(tests, {
  equalto: tests.eq,
  '==': tests.eq,
  '!=': tests.ne,
  '<': tests.lt,
  '<=': tests.le,
  '>': tests.gt,
  '>=': tests.ge,
  greaterthan: tests.gt,
  lessthan: tests.lt,
  failure: tests.failed,
  success: tests.succeeded,
  change: tests.changed,
  skip: tests.skipped,
})

/** Jinja's globals (and Python's names for the constants). */
export const functions: Record<string, (...args: unknown[]) => unknown> = {
  range(...args: unknown[]) {
    const [a, b, c] = args.map(Number) as [number, number?, number?]
    const [start, stop, step] = b === undefined ? [0, a, 1] : [a, b, c ?? 1]
    if (step === 0) throw new TemplateError('range() arg 3 must not be zero')
    const out: number[] = []
    for (let i = start; step > 0 ? i < stop : i > stop; i += step) {
      out.push(i)
      if (out.length > 100_000) throw new TemplateError('range() too large')
    }
    return out
  },
}
