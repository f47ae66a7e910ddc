// Python's values as Jinja and Ansible hold them, for src/template.ts and its filters: the operators (==,
// ordering, in, +, /, %, *), truthiness, str() and repr(), json.dumps and yaml.dump as Ansible's to_json and
// to_yaml call them, int() and float(), str.split/strip/format and %-formatting, re's patterns and
// replacements, slices, and the str/dict/list methods templates call. JavaScript's values stand for Python's
// (util.ts: PyFloat for a whole float; PyTuple here for a tuple); a template's undefined value is Undefined.

import { PyFloat, pyRegExp } from './util.ts'

/** A template that does not compile or render: the reason, and where in the template when that is known. */
export class TemplateError extends Error {
  override name = 'TemplateError'
  constructor(
    readonly reason: string,
    /** Line and column in the template (1-based), when known. */
    readonly line?: number,
    readonly column?: number,
  ) {
    super(line ? `${reason} (template line ${line}, column ${column})` : reason)
  }
}

/** A name or attribute that does not exist: testable and defaultable; any other use names it. */
export class Undefined {
  constructor(readonly what: string) {}
  fail(): never {
    throw new TemplateError(`'${this.what}' is undefined`)
  }
  valueOf(): never {
    return this.fail()
  }
  toString(): never {
    return this.fail()
  }
  toJSON(): never {
    return this.fail()
  }
}

/** Python's slice: seq[start:stop:step] of a list or a string. */
export class Slice {
  constructor(
    readonly start: unknown,
    readonly stop: unknown,
    readonly step: unknown,
  ) {}
  of(seq: unknown, what: string): unknown {
    if (typeof seq !== 'string' && !Array.isArray(seq))
      throw new TemplateError(`${what}: only strings and lists can be sliced`)
    const items = typeof seq === 'string' ? [...seq] : seq
    const n = items.length
    const int = (v: unknown, name: string) => {
      if (v === null || v === undefined) return undefined
      const x = num(v)
      if (x === undefined || !Number.isInteger(x))
        throw new TemplateError(`slice ${name} must be an integer, got ${pyRepr(v)}`)
      return x
    }
    const step = int(this.step, 'step') ?? 1
    if (step === 0) throw new TemplateError('slice step cannot be zero')
    const clamp = (v: number | undefined, fallback: number, low: number, high: number) =>
      v === undefined ? fallback : Math.min(Math.max(v < 0 ? v + n : v, low), high)
    const out: unknown[] = []
    if (step > 0)
      for (let i = clamp(int(this.start, 'start'), 0, 0, n); i < clamp(int(this.stop, 'stop'), n, 0, n); i += step)
        out.push(items[i])
    else
      for (
        let i = clamp(int(this.start, 'start'), n - 1, -1, n - 1);
        i > clamp(int(this.stop, 'stop'), -1, -1, n - 1);
        i += step
      )
        out.push(items[i])
    return typeof seq === 'string' ? out.join('') : out
  }
}

export function num(value: unknown): number | undefined {
  if (typeof value === 'number') return value
  if (typeof value === 'boolean') return value ? 1 : 0
  if (value instanceof PyFloat) return value.value
  return undefined
}

export function isFloat(value: unknown): boolean {
  return value instanceof PyFloat || (typeof value === 'number' && !Number.isInteger(value))
}

/** A number as Python would hold it: a float stays a float when whole (PyFloat). */
export function numberResult(n: number, float: boolean): number | PyFloat {
  return float && Number.isInteger(n) ? new PyFloat(n) : n
}

export function typeName(value: unknown): string {
  if (value === null || value === undefined) return 'NoneType'
  if (value instanceof Undefined) value.fail()
  if (typeof value === 'boolean') return 'bool'
  if (typeof value === 'string') return 'str'
  if (isFloat(value)) return 'float'
  if (typeof value === 'number') return 'int'
  if (Array.isArray(value)) return 'list'
  return 'dict'
}

export function binary(op: string, a: unknown, b: unknown): unknown {
  if (a instanceof Undefined) a.fail()
  if (b instanceof Undefined) b.fail()
  if (op === 'Concat') return toText(a) + toText(b)
  const x = num(a)
  const y = num(b)
  if (x !== undefined && y !== undefined) {
    const float = isFloat(a) || isFloat(b)
    switch (op) {
      case 'Add':
        return numberResult(x + y, float)
      case 'Sub':
        return numberResult(x - y, float)
      case 'Mul':
        return numberResult(x * y, float)
      case 'Div':
        if (y === 0) throw new TemplateError('division by zero')
        return numberResult(x / y, true)
      case 'FloorDiv':
        if (y === 0) throw new TemplateError('integer division or modulo by zero')
        return numberResult(Math.floor(x / y), float)
      case 'Mod':
        if (y === 0) throw new TemplateError('integer division or modulo by zero')
        return numberResult(((x % y) + y) % y, float)
      case 'Pow':
        return numberResult(x ** y, float || y < 0)
    }
  }
  if (op === 'Add' && typeof a === 'string' && typeof b === 'string') return a + b
  if (op === 'Add' && Array.isArray(a) && Array.isArray(b)) return [...a, ...b]
  if (op === 'Mul' && (typeof a === 'string' || Array.isArray(a)) && typeof b === 'number') return repeat(a, b)
  if (op === 'Mul' && (typeof b === 'string' || Array.isArray(b)) && typeof a === 'number') return repeat(b, a)
  if (op === 'Mod' && typeof a === 'string') return printf(a, Array.isArray(b) ? b : [b])
  const symbol = { Add: '+', Sub: '-', Mul: '*', Div: '/', FloorDiv: '//', Mod: '%', Pow: '**' }[op] ?? op
  throw new TemplateError(
    `unsupported operand type(s) for ${symbol}: '${typeName(a)}' and '${typeName(b)}' (${pyRepr(a)} ${symbol} ${pyRepr(b)})`,
  )
}

export function repeat(value: string | unknown[], times: number): string | unknown[] {
  if (typeof value === 'string') return value.repeat(Math.max(0, times))
  return Array.from({ length: Math.max(0, times) }, () => value).flat()
}

export function compare(op: string, a: unknown, b: unknown): boolean {
  if (a instanceof Undefined) a.fail()
  if (b instanceof Undefined) b.fail()
  if (op === '==' || op === '===') return pyEqual(a, b)
  if (op === '!=' || op === '!==') return !pyEqual(a, b)
  const order = pyOrder(a, b, op)
  return op === '<' ? order < 0 : op === '<=' ? order <= 0 : op === '>' ? order > 0 : order >= 0
}

/** Python's ==: 1 == 1.0 == True, lists and dicts by content. */
export function pyEqual(a: unknown, b: unknown): boolean {
  const x = num(a)
  const y = num(b)
  if (x !== undefined || y !== undefined) return x === y
  if (Array.isArray(a) || Array.isArray(b))
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => pyEqual(v, b[i]))
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a)
    return (
      ka.length === Object.keys(b).length &&
      ka.every(
        (k) => Object.hasOwn(b, k) && pyEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
      )
    )
  }
  return (a ?? null) === (b ?? null)
}

/** Python's ordering: numbers with numbers, strings with strings, lists element by element; else TypeError. */
export function pyOrder(a: unknown, b: unknown, op = '<'): number {
  const x = num(a)
  const y = num(b)
  if (x !== undefined && y !== undefined) return x < y ? -1 : x > y ? 1 : 0
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      if (pyEqual(a[i], b[i])) continue
      return pyOrder(a[i], b[i], op)
    }
    return a.length - b.length
  }
  throw new TemplateError(
    `cannot compare ${pyRepr(a)} ${op} ${pyRepr(b)}: '${op}' is not supported between '${typeName(a)}' and '${typeName(b)}'`,
  )
}

export function contains(container: unknown, item: unknown): boolean {
  if (container instanceof Undefined) container.fail()
  if (item instanceof Undefined) item.fail()
  if (typeof container === 'string') {
    if (typeof item !== 'string')
      throw new TemplateError(`'in <string>' requires a string on its left, not ${typeName(item)}`)
    return container.includes(item)
  }
  if (Array.isArray(container)) return container.some((x) => pyEqual(x, item))
  if (container && typeof container === 'object' && !(container instanceof PyFloat))
    return typeof item === 'string' && Object.hasOwn(container, item)
  throw new TemplateError(`"in" needs a string, list or mapping on its right, got ${pyRepr(container)}`)
}

export function truthy(value: unknown): boolean {
  if (value instanceof Undefined) value.fail()
  if (value === null || value === undefined) return false
  if (value instanceof PyFloat) return value.value !== 0
  if (Array.isArray(value)) return value.length > 0
  if (typeof value === 'object') return Object.keys(value).length > 0
  return Boolean(value)
}

/** A Python tuple (dict.items(), regex_findall's groups): a list that prints as ('a', 1). */
export class PyTuple extends Array<unknown> {}

export function tuple(...items: unknown[]): PyTuple {
  return PyTuple.from(items) as PyTuple
}

/** How Jinja prints a value: Python's str() (repr() for lists and dicts, and inside them). */
export function toText(value: unknown): string {
  if (value instanceof Undefined) value.fail()
  if (value === null || value === undefined) return 'None'
  if (typeof value === 'string') return value
  return pyRepr(value)
}

/** Python's repr() of the value as Ansible would hold it (str, int, float, bool, None, list, dict). */
export function pyRepr(value: unknown): string {
  if (value instanceof Undefined) value.fail()
  if (value === null || value === undefined) return 'None'
  if (typeof value === 'boolean') return value ? 'True' : 'False'
  if (value instanceof PyFloat) return floatRepr(value.value, true)
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : floatRepr(value, false)
  if (typeof value === 'string') return stringRepr(value)
  if (value instanceof PyTuple)
    return value.length === 1 ? `(${pyRepr(value[0])},)` : `(${[...value].map(pyRepr).join(', ')})`
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(', ')}]`
  if (typeof value === 'function') return '<function>'
  if (typeof value === 'object')
    return `{${Object.entries(value)
      .map(([k, v]) => `${stringRepr(k)}: ${pyRepr(v)}`)
      .join(', ')}}`
  return String(value)
}

export function floatRepr(n: number, whole: boolean): string {
  if (Number.isNaN(n)) return 'nan'
  if (!Number.isFinite(n)) return n > 0 ? 'inf' : '-inf'
  const [mantissa, exp] = n.toExponential().split('e') as [string, string]
  const e = Number(exp)
  // Python's repr: positional from 1e-4 up to 1e16, scientific (two-digit exponent at least) outside.
  if (e < -4 || e >= 16) return `${mantissa}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`
  const text = String(n)
  return whole || !text.includes('.') ? `${text}.0` : text
}

export function stringRepr(s: string): string {
  const q = s.includes("'") && !s.includes('"') ? '"' : "'"
  let out = ''
  for (const ch of s) {
    const c = ch.codePointAt(0)!
    if (ch === '\\') out += '\\\\'
    else if (ch === q) out += `\\${q}`
    else if (ch === '\n') out += '\\n'
    else if (ch === '\r') out += '\\r'
    else if (ch === '\t') out += '\\t'
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`
    else if (c >= 0x80 && c < 0xa0) out += `\\x${c.toString(16)}`
    else out += ch
  }
  return `${q}${out}${q}`
}

/** Python's json.dumps() (", " and ": " separators, ASCII only; `indent` as Python's, `sortKeys`), as Ansible's
 * to_json and copy's content. */
export function pyJson(value: unknown, indent?: number, sortKeys = false, level = 0): string {
  if (value instanceof Undefined) value.fail()
  if (value === null || value === undefined) return 'null'
  if (typeof value === 'boolean') return value ? 'true' : 'false'
  if (typeof value === 'number' || value instanceof PyFloat) {
    const n = Number(value)
    if (Number.isNaN(n)) return 'NaN'
    if (!Number.isFinite(n)) return n > 0 ? 'Infinity' : '-Infinity'
    return value instanceof PyFloat || !Number.isInteger(n) ? floatRepr(n, value instanceof PyFloat) : String(n)
  }
  if (typeof value === 'string')
    return JSON.stringify(value).replace(
      /[\u007f-\uffff]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    )
  const items: string[] = Array.isArray(value)
    ? value.map((v) => pyJson(v, indent, sortKeys, level + 1))
    : (sortKeys ? Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) : Object.entries(value)).map(
        ([k, v]) => `${pyJson(k)}: ${pyJson(v, indent, sortKeys, level + 1)}`,
      )
  const [open, close] = Array.isArray(value) ? ['[', ']'] : ['{', '}']
  if (items.length === 0) return open + close
  if (indent === undefined) return `${open}${items.join(', ')}${close}`
  const pad = (l: number) => `\n${' '.repeat(indent * l)}`
  return `${open}${pad(level + 1)}${items.join(`,${pad(level + 1)}`)}${pad(level)}${close}`
}

/** Python's int(): int(value), else int(float(value)), else the default (Jinja's int filter). */
export function toInt(value: unknown, fallback: unknown = 0, base = 10): unknown {
  if (typeof value === 'boolean') return value ? 1 : 0
  if (typeof value === 'number' || value instanceof PyFloat) return Math.trunc(Number(value))
  if (typeof value !== 'string') return fallback
  const text = value.trim().replace(/_/g, '')
  if (base !== 10) {
    const m = /^([-+]?)(?:0[xob])?([0-9a-z]+)$/i.exec(text)
    const n = m ? parseInt(m[2]!, base) : NaN
    return Number.isNaN(n) ? fallback : m![1] === '-' ? -n : n
  }
  if (/^[-+]?\d+$/.test(text)) return Number(text)
  const f = toFloat(text)
  return f === undefined ? fallback : Math.trunc(f)
}

export function toFloat(value: unknown): number | undefined {
  if (typeof value === 'boolean') return value ? 1 : 0
  if (typeof value === 'number' || value instanceof PyFloat) return Number(value)
  if (typeof value !== 'string') return undefined
  const text = value.trim().replace(/_/g, '').toLowerCase()
  if (/^[-+]?(inf|infinity)$/.test(text)) return text.startsWith('-') ? -Infinity : Infinity
  if (/^[-+]?nan$/.test(text)) return NaN
  if (/^[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?$/.test(text)) return Number(text)
  return undefined
}

/** Python's str.split(sep=None, maxsplit=-1). */
export function pySplit(s: string, sep: unknown, maxsplit: unknown): string[] {
  const max = maxsplit === undefined || maxsplit === null ? -1 : Number(maxsplit)
  if (sep === null || sep === undefined) {
    const words: string[] = []
    let rest = s.replace(/^\s+/, '')
    while (rest) {
      if (max >= 0 && words.length === max) {
        words.push(rest.replace(/\s+$/, ''))
        break
      }
      const m = /\s+/.exec(rest)
      if (!m) {
        words.push(rest)
        break
      }
      words.push(rest.slice(0, m.index))
      rest = rest.slice(m.index + m[0].length)
    }
    return words
  }
  const separator = str(sep)
  if (!separator) throw new TemplateError('empty separator')
  const parts = s.split(separator)
  return max >= 0 && parts.length > max + 1 ? [...parts.slice(0, max), parts.slice(max).join(separator)] : parts
}

export function pyStrip(s: string, chars: unknown, side: 'both' | 'left' | 'right'): string {
  const set = chars === null || chars === undefined ? null : str(chars)
  const strip = (c: string) => (set === null ? /\s/.test(c) : set.includes(c))
  let start = 0
  let end = s.length
  if (side !== 'right') while (start < end && strip(s[start]!)) start++
  if (side !== 'left') while (end > start && strip(s[end - 1]!)) end--
  return s.slice(start, end)
}

/** A Python regular expression for JavaScript: (?P<name>...) and (?P=name); flags from the filter's arguments. */
export function regex(pattern: unknown, flags: { ignorecase?: unknown; multiline?: unknown }, global = false): RegExp {
  const f = `${global ? 'g' : ''}${truthy(flags.ignorecase ?? false) ? 'i' : ''}${truthy(flags.multiline ?? false) ? 'm' : ''}`
  try {
    return pyRegExp(str(pattern), f)
  } catch (e) {
    throw new TemplateError(
      `bad regular expression ${pyRepr(str(pattern))}: ${(e as Error).message.replace(/^bad regular expression "(?:[^"\\]|\\.)*": /, '')}`,
    )
  }
}

/** A Python replacement (\1, \g<1>, \g<name>, \\) for String.replace. */
export function replacement(text: string): (match: string, ...rest: unknown[]) => string {
  return (...m: unknown[]) => {
    const groups = (typeof m.at(-1) === 'object' ? m.at(-1) : undefined) as Record<string, string> | undefined
    const numbered = m.slice(0, typeof m.at(-1) === 'object' ? -3 : -2) as (string | undefined)[]
    return text.replace(/\\(?:g<(\w+)>|(\d{1,2})|(.))/g, (_, name?: string, digit?: string, other?: string) => {
      if (other !== undefined)
        return ({ n: '\n', t: '\t', r: '\r', '\\': '\\' } as Record<string, string>)[other] ?? `\\${other}`
      const key = name ?? digit!
      return (/^\d+$/.test(key) ? numbered[Number(key)] : groups?.[key]) ?? ''
    })
  }
}

/** Python's %-formatting: %s %r %d %i %f %x %o %e %g %c %%, with flags, width, precision and %(name)s. */
export function printf(
  format: string,
  args: unknown[],
  mapping = typeName(args[0]) === 'dict' && args.length === 1,
): string {
  let next = 0
  const named = mapping
  return format.replace(
    /%(?:\((\w+)\))?([-+ 0#]*)(\d+)?(?:\.(\d+))?([sdifrxXoeEgGc%])/g,
    (_, name?: string, flags = '', width?: string, precision?: string, kind = 's') => {
      if (kind === '%') return '%'
      const value = name !== undefined && named ? (args[0] as Record<string, unknown>)[name] : args[next++]
      let text: string
      switch (kind) {
        case 'd':
        case 'i':
          text = String(Math.trunc(Number(value)))
          break
        case 'f':
          text = Number(value).toFixed(precision === undefined ? 6 : Number(precision))
          break
        case 'e':
        case 'E':
          text = Number(value)
            .toExponential(precision === undefined ? 6 : Number(precision))
            .replace(/e([-+])(\d)$/, 'e$10$2')
          if (kind === 'E') text = text.toUpperCase()
          break
        case 'g':
        case 'G':
          text = String(Number(value))
          break
        case 'x':
        case 'X':
          text = Math.trunc(Number(value)).toString(16)
          if (kind === 'X') text = text.toUpperCase()
          break
        case 'o':
          text = Math.trunc(Number(value)).toString(8)
          break
        case 'c':
          text = typeof value === 'number' ? String.fromCodePoint(value) : str(value)
          break
        case 'r':
          text = pyRepr(value)
          break
        default:
          text = str(value)
          if (precision !== undefined) text = text.slice(0, Number(precision))
      }
      if (/[dif]/.test(kind) && flags.includes('+') && !text.startsWith('-')) text = `+${text}`
      const w = Number(width ?? 0)
      if (text.length < w)
        text = flags.includes('-')
          ? text.padEnd(w)
          : flags.includes('0') && /[difxXoeE]/.test(kind)
            ? text.startsWith('-')
              ? `-${text.slice(1).padStart(w - 1, '0')}`
              : text.padStart(w, '0')
            : text.padStart(w)
      return text
    },
  )
}

/** Python's str.format with {} {0} {name} (format specs are not supported). */
export function strFormat(format: string, args: unknown[]): string {
  const [positional, keywords] = keywordsOf(args)
  let next = 0
  return format.replace(/\{\{|\}\}|\{([^{}!:]*)(?:![rs])?(?::([^{}]*))?\}/g, (m, field?: string, spec?: string) => {
    if (m === '{{') return '{'
    if (m === '}}') return '}'
    if (spec) throw new TemplateError(`format specs ({:${spec}}) are not supported by this engine`)
    const value =
      field === '' ? positional[next++] : /^\d+$/.test(field!) ? positional[Number(field)] : keywords[field!]
    return str(value)
  })
}

export function pyBasename(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1)
}

export function pyDirname(p: string): string {
  const head = p.slice(0, p.lastIndexOf('/') + 1)
  return head && !/^\/+$/.test(head) ? head.replace(/\/+$/, '') : head
}

/** Python's methods users call in templates: on str, dict and list. */
export const methods = {
  str: {
    lower: (s: string) => s.toLowerCase(),
    upper: (s: string) => s.toUpperCase(),
    strip: (s: string, chars?: unknown) => pyStrip(s, chars, 'both'),
    lstrip: (s: string, chars?: unknown) => pyStrip(s, chars, 'left'),
    rstrip: (s: string, chars?: unknown) => pyStrip(s, chars, 'right'),
    split: (s: string, sep?: unknown, max?: unknown) => pySplit(s, sep, max),
    splitlines: (s: string) => s.split(/\r\n|\r|\n/).filter((l, i, a) => i < a.length - 1 || l !== ''),
    startswith: (s: string, prefix: unknown) =>
      Array.isArray(prefix) ? prefix.some((p) => s.startsWith(str(p))) : s.startsWith(str(prefix)),
    endswith: (s: string, suffix: unknown) =>
      Array.isArray(suffix) ? suffix.some((p) => s.endsWith(str(p))) : s.endsWith(str(suffix)),
    replace: (s: string, a: unknown, b: unknown) => s.split(str(a)).join(str(b)),
    join: (s: string, items: unknown) => list(items, 'join').map(str).join(s),
    find: (s: string, sub: unknown) => s.indexOf(str(sub)),
    count: (s: string, sub: unknown) => (str(sub) ? s.split(str(sub)).length - 1 : s.length + 1),
    capitalize: (s: string) => s.charAt(0).toUpperCase() + s.slice(1).toLowerCase(),
    title: (s: string) => pyTitle(s),
    isdigit: (s: string) => /^\d+$/.test(s),
    format: (s: string, ...args: unknown[]) => strFormat(s, args),
  },
  dict: {
    items: (d: Record<string, unknown>) => Object.entries(d).map(([k, v]) => tuple(k, v)),
    keys: (d: Record<string, unknown>) => Object.keys(d),
    values: (d: Record<string, unknown>) => Object.values(d),
    get: (d: Record<string, unknown>, key: unknown, fallback: unknown = null) =>
      Object.hasOwn(d, str(key)) ? d[str(key)] : fallback,
  },
  list: {
    index: (l: unknown[], item: unknown) => {
      const i = l.findIndex((x) => pyEqual(x, item))
      if (i < 0) throw new TemplateError(`${pyRepr(item)} is not in list`)
      return i
    },
    count: (l: unknown[], item: unknown) => l.filter((x) => pyEqual(x, item)).length,
  },
} as Record<string, Record<string, (self: never, ...args: unknown[]) => unknown>>

export const knownMethods = new Set(Object.values(methods).flatMap((m) => Object.keys(m)))

export function methodOf(obj: unknown, name: string): ((...args: unknown[]) => unknown) | undefined {
  const kind = typeof obj === 'string' ? 'str' : Array.isArray(obj) ? 'list' : typeName(obj) === 'dict' ? 'dict' : ''
  const table = methods[kind]
  const method = table && Object.hasOwn(table, name) ? table[name] : undefined
  return method && ((...args: unknown[]) => method(obj as never, ...args))
}

/**
 * yaml.dump with sort_keys: block style, or (`auto`, default_flow_style=None) flow style for collections of
 * scalars only. Strings are plain unless PyYAML would read them back as something else or they hold YAML's
 * indicators; then single-quoted (double-quoted with escapes for control characters).
 */
export function pyYaml(value: unknown, style: 'auto' | 'block', indent: number): string {
  const scalar = (v: unknown): string | undefined => {
    if (v instanceof Undefined) v.fail()
    if (v === null || v === undefined) return 'null'
    if (typeof v === 'boolean') return v ? 'true' : 'false'
    if (v instanceof PyFloat || (typeof v === 'number' && !Number.isInteger(v))) {
      const n = Number(v)
      return Number.isNaN(n)
        ? '.nan'
        : !Number.isFinite(n)
          ? n > 0
            ? '.inf'
            : '-.inf'
          : floatRepr(n, Number.isInteger(n))
    }
    if (typeof v === 'number') return String(v)
    if (typeof v === 'string') return yamlString(v)
    return undefined
  }
  const isCollection = (v: unknown) => scalar(v) === undefined
  const entries = (v: object): [string, unknown][] => Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  const flow = (v: unknown): string => {
    const s = scalar(v)
    if (s !== undefined) return s
    if (Array.isArray(v)) return `[${v.map(flow).join(', ')}]`
    return `{${entries(v as object)
      .map(([k, x]) => `${yamlString(k)}: ${flow(x)}`)
      .join(', ')}}`
  }
  const isFlow = (v: unknown) =>
    isCollection(v) &&
    (Object.keys(v as object).length === 0 || (style === 'auto' && !Object.values(v as object).some(isCollection)))
  // Lines of a block collection at column `at`.
  const block = (v: unknown, at: number): string[] => {
    const pad = ' '.repeat(at)
    const lines: string[] = []
    if (Array.isArray(v)) {
      for (const item of v) {
        if (isCollection(item) && !isFlow(item)) {
          const inner = block(item, at + indent)
          lines.push(`${pad}-${' '.repeat(indent - 1)}${inner[0]!.slice(at + indent)}`, ...inner.slice(1))
        } else lines.push(`${pad}- ${flow(item)}`)
      }
    } else
      for (const [k, x] of entries(v as object)) {
        if (isCollection(x) && !isFlow(x))
          lines.push(`${pad}${yamlString(k)}:`, ...block(x, Array.isArray(x) ? at : at + indent))
        else lines.push(`${pad}${yamlString(k)}: ${flow(x)}`)
      }
    return lines
  }
  if (!isCollection(value)) return `${flow(value)}\n`
  if (isFlow(value)) return `${flow(value)}\n`
  return `${block(value, 0).join('\n')}\n`
}

export const yamlImplicit =
  /^(?:~|null|Null|NULL|yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0b[01_]+|[-+]?0[0-7_]+|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+|[-+]?(?:[0-9][0-9_]*)?\.[0-9.]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)|\d{4}-\d\d?-\d\d?(?:(?:[Tt]|[ \t]+)\d\d?:\d\d:\d\d(?:\.\d*)?(?:[ \t]*(?:Z|[-+]\d\d?(?::\d\d)?))?)?|<<|=)$/

export function yamlString(s: string): string {
  if (/[\x00-\x08\x0b-\x1f\x7f-\x9f\ufeff]/.test(s) || s.includes('\n'))
    return JSON.stringify(s).replace(/[\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16)}`)
  const plain =
    s !== '' &&
    !yamlImplicit.test(s) &&
    !/^[,[\]{}#&*!|>'"%@`]/.test(s) &&
    !/^[-?:](\s|$)/.test(s) &&
    !/[:#]\s|\s#|:$|[,[\]{}]|^\s|\s$/.test(s) &&
    !/\t/.test(s)
  return plain ? s : `'${s.replace(/'/g, "''")}'`
}

/** Jinja's getattr/getitem: an own property, an index (negative from the end), a slice, a method; else
 * Undefined naming `what`. */
export function getattr(obj: unknown, key: unknown, what: string): unknown {
  if (obj instanceof Undefined) return new Undefined(what)
  if (key instanceof Undefined) key.fail()
  if (obj === null || obj === undefined) return new Undefined(what)
  if (key instanceof Slice) return key.of(obj, what)
  if (Array.isArray(obj) || typeof obj === 'string') {
    if (typeof key === 'number' || key instanceof PyFloat) {
      const i = Number(key) < 0 ? obj.length + Number(key) : Number(key)
      return i >= 0 && i < obj.length ? obj[i] : new Undefined(what)
    }
  } else if (typeof obj === 'object' && !(obj instanceof PyFloat) && Object.hasOwn(obj, String(key)))
    return (obj as Record<string, unknown>)[String(key)]
  if (typeof key === 'string') {
    const method = methodOf(obj, key)
    if (method) return method
  }
  return new Undefined(what)
}

/** str.title(). */
export function pyTitle(s: string): string {
  return s.replace(/[A-Za-z0-9]+/g, (w) => w[0]!.toUpperCase() + w.slice(1).toLowerCase())
}

export function keywordsOf(args: unknown[]): [unknown[], Record<string, unknown>] {
  const last = args.at(-1) as Record<string, unknown> | undefined
  if (last && typeof last === 'object' && (last as { __keywords?: boolean }).__keywords) {
    const { __keywords: _, ...rest } = last
    return [args.slice(0, -1), rest]
  }
  return [args, {}]
}

export function str(value: unknown): string {
  return toText(value)
}

export function list(value: unknown, what: string): unknown[] {
  if (value instanceof Undefined) value.fail()
  if (Array.isArray(value)) return value
  if (typeof value === 'string') return [...value]
  if (value && typeof value === 'object' && !(value instanceof PyFloat)) return Object.keys(value)
  throw new TemplateError(`${what} expects a list, got ${pyRepr(value)}`)
}
