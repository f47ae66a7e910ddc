// A small, safe subset of Jinja for templates, task arguments and `when`: no code runs, nothing is looked up
// outside the vars given. Templates are `{{ expr }}` and `{# comment #}`; `{% ... %}` blocks are refused.
//
// Expressions:  names and dotted/indexed access (a.b, a['b'], a[0]); literals ('s', "s", 12, 1.5, true/True,
//   false/False, none/None, [lists], {'dicts': 1}); (parentheses); `not`, `and`, `or`; == != < <= > >= `in` `not in`;
//   `~` (string concatenation); tests `is [not] defined|undefined|none|true|false|string|number|boolean|integer|
//   float|mapping|sequence` and Ansible's failed|succeeded|changed|skipped (failure|success|change|skip);
//   filters `| default(x[, true])` (alias `d`), `bool`, `int`, `string`, `lower`, `upper`, `trim`, `length`,
//   `join(sep)`, `quote` (POSIX shell quoting, as Ansible's).
// Like Jinja with Ansible's StrictUndefined: an undefined value can be tested and defaulted, but printing it or
// using it in a comparison is an error naming it. Truthiness is Python's ("" [] {} 0 none false are false),
// so a string "false" is true: write `var | bool` as in Ansible.
//
// Values print as Jinja prints Python's: lists and dicts as repr() (['a', 1]), a whole float as 1.0 (PyFloat),
// None as '' at the top of an expression. Task args and vars render as Ansible 2.14's templar with
// convert_data: a string that is one bare variable keeps a number/bool/none; other results that read as a
// list, dict or bool (literal_eval) become one; strings keep their trailing newlines. Malformed templates ({{
// or {# never closed) and Ansible names this engine lacks (hostvars, omit, lookup, ...) are refused when
// checked. test/differential compares all this with ansible-playbook.

import { jinjaBool, PyFloat, quote, type Vars } from './util.ts'

export class TemplateError extends Error {
  override name = 'TemplateError'
}

/** What an expression yields when a name or attribute does not exist. */
class Undefined {
  constructor(readonly what: string) {}
}

/** Renders `{{ }}` in `text` with `vars`. */
export function render(text: string, vars: Vars): string {
  return renderParts(text, vars, false) as string
}

/** Renders every string in a value (deeply); a string that is exactly one `{{ expr }}` keeps the type of expr. */
export function renderValue(value: unknown, vars: Vars): unknown {
  if (typeof value === 'string') return renderParts(value, vars, true)
  if (value instanceof PyFloat) return value
  if (Array.isArray(value)) return value.map((v) => renderValue(v, vars))
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderValue(v, vars)]))
  return value
}

/** Whether a string holds template syntax at all. */
export function isTemplated(text: string): boolean {
  return /\{\{|\{%|\{#/.test(text)
}

/** A `when` condition: a bare expression (Ansible's `when: x is defined`), or a boolean. */
export function evaluateCondition(condition: string | boolean, vars: Vars): boolean {
  if (typeof condition === 'boolean') return condition
  const text = condition.trim()
  // Ansible accepts `when: "{{ x }}"` too (with a warning).
  const inner = /^\{\{(.*)\}\}$/s.exec(text)?.[1] ?? text
  return truthy(strict(new Parser(inner, vars).parse(), inner)) // an undefined name is an error, as in Ansible
}

/** Checks template syntax without vars (every name undefined): for errors at load time, before connecting. */
export function checkTemplate(text: string): void {
  for (const expr of expressions(text)) new Parser(expr, {}, true).parse()
}

function expressions(text: string): string[] {
  const stripped = stripComments(text)
  const found: string[] = []
  const re = /\{\{(.*?)\}\}/gs
  for (let m; (m = re.exec(stripped)); ) found.push(m[1]!)
  return found
}

/** Removes {# comments #}; refuses {% %} and a {{ or {# that is never closed (Jinja's syntax errors). */
function stripComments(text: string): string {
  if (/\{%/.test(text))
    throw new TemplateError('{% %} blocks are not supported (only {{ expression }} and {# comments #})')
  const stripped = text.replace(/\{#.*?#\}/gs, '')
  if (stripped.includes('{#'))
    throw new TemplateError(`a comment opened with {# is never closed (missing #}) in "${excerpt(text)}"`)
  const left = stripped.replace(/\{\{.*?\}\}/gs, '')
  if (left.includes('{{'))
    throw new TemplateError(`an expression opened with {{ is never closed (missing }}) in "${excerpt(text)}"`)
  return stripped
}

function excerpt(text: string): string {
  const at = Math.max(0, text.search(/\{[{#]/))
  const part = text.slice(at, at + 40).replace(/\n/g, '\\n')
  return part.length < text.length - at ? `${part}…` : part
}

function renderParts(text: string, vars: Vars, native: boolean): unknown {
  if (!isTemplated(text)) return text
  // Ansible's Templar.template: a string that is exactly one bare variable keeps a number, bool or none as is.
  const single = native ? /^\{\{\s*(\w*)\s*\}\}$/.exec(text) : null
  if (single && Object.hasOwn(vars, single[1]!)) {
    const value = vars[single[1]!]
    if (value === null || typeof value === 'boolean' || typeof value === 'number' || value instanceof PyFloat)
      return value
  }
  const stripped = stripComments(text)
  // Ansible's finalize: a None printed at the top of an expression is '' (inside one, `~` and `string` say None).
  const out = stripped.replace(/\{\{(.*?)\}\}/gs, (_, expr: string) => {
    const value = strict(new Parser(expr, vars).parse(), expr)
    return value === null ? '' : toText(value)
  })
  if (!native) return out
  // Task args and vars (convert_data): Jinja drops the template's last newline; text that looks like a list,
  // a dict or a bool becomes one (ansible_eval_concat's literal_eval); a string gets its newlines back.
  const body = text.endsWith('\n') ? out.replace(/\n$/, '') : out
  if (/^[{[]/.test(body) || body === 'True' || body === 'False') {
    const literal = pyLiteral(body)
    if (literal !== undefined) return literal
  }
  const missing = trailingNewlines(text) - trailingNewlines(body)
  return missing > 0 ? body + '\n'.repeat(missing) : body
}

function trailingNewlines(text: string): number {
  return /\n*$/.exec(text)![0].length
}

/** Python's ast.literal_eval of a list, dict, string, number, bool or None (JSON's true/false/null too), or
 * undefined when the text is not one. */
export function pyLiteral(text: string): unknown {
  try {
    return new Parser(text, {}, false, true).parse()
  } catch {
    return undefined
  }
}

function strict(value: unknown, expr: string): unknown {
  if (value instanceof Undefined) throw new TemplateError(`'${value.what}' is undefined (in "${expr.trim()}")`)
  return value
}

/** How Jinja prints a value: Python's str() (repr() for lists and dicts, and inside them). */
export function toText(value: unknown): string {
  if (value === null || value === undefined) return 'None'
  if (typeof value === 'string') return value
  return pyRepr(value)
}

/** Python's repr() of the value as Ansible would hold it (str, int, float, bool, None, list, dict). */
export function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return 'None'
  if (typeof value === 'boolean') return value ? 'True' : 'False'
  if (value instanceof PyFloat) return floatRepr(value.value, true)
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : floatRepr(value, false)
  if (typeof value === 'string') return stringRepr(value)
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(', ')}]`
  if (typeof value === 'object')
    return `{${Object.entries(value)
      .map(([k, v]) => `${stringRepr(k)}: ${pyRepr(v)}`)
      .join(', ')}}`
  return String(value)
}

function floatRepr(n: number, whole: boolean): string {
  if (Number.isNaN(n)) return 'nan'
  if (!Number.isFinite(n)) return n > 0 ? 'inf' : '-inf'
  const [mantissa, exp] = n.toExponential().split('e') as [string, string]
  const e = Number(exp)
  // Python's repr: positional from 1e-4 up to 1e16, scientific (two-digit exponent at least) outside.
  if (e < -4 || e >= 16) return `${mantissa}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`
  const text = String(n)
  return whole || !text.includes('.') ? `${text}.0` : text
}

function stringRepr(s: string): string {
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

/** Python's json.dumps() with its defaults (", " and ": " separators, ASCII only), as Ansible's copy writes a
 * list or dict given as content. */
export function pyJson(value: unknown): string {
  if (value === null || value === undefined) return 'null'
  if (typeof value === 'boolean') return value ? 'true' : 'false'
  if (value instanceof PyFloat)
    return floatRepr(value.value, true)
      .replace(/^inf$/, 'Infinity')
      .replace(/^-inf$/, '-Infinity')
      .replace(/^nan$/, 'NaN')
  if (typeof value === 'number')
    return Number.isInteger(value)
      ? String(value)
      : floatRepr(value, false)
          .replace(/^inf$/, 'Infinity')
          .replace(/^-inf$/, '-Infinity')
          .replace(/^nan$/, 'NaN')
  if (typeof value === 'string')
    return JSON.stringify(value).replace(
      /[\u007f-\uffff]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    )
  if (Array.isArray(value)) return `[${value.map(pyJson).join(', ')}]`
  if (typeof value === 'object')
    return `{${Object.entries(value)
      .map(([k, v]) => `${pyJson(k)}: ${pyJson(v)}`)
      .join(', ')}}`
  return JSON.stringify(value)
}

export function truthy(value: unknown): boolean {
  if (value instanceof Undefined || value === null || value === undefined) return false
  if (value instanceof PyFloat) return value.value !== 0
  if (Array.isArray(value)) return value.length > 0
  if (typeof value === 'object') return Object.keys(value).length > 0
  return Boolean(value)
}

/** Jinja's `int` filter: int(value), else int(float(value)), else 0 (Python's rules for numeric text). */
function toInt(value: unknown): number {
  if (typeof value === 'boolean') return value ? 1 : 0
  if (typeof value === 'number' || value instanceof PyFloat) return Math.trunc(Number(value))
  if (typeof value !== 'string') return 0
  const text = value.trim()
  if (/^[-+]?\d+(?:_\d+)*$/.test(text)) return Number(text.replace(/_/g, ''))
  if (/^[-+]?(?:\d+(?:_\d+)*(?:\.(?:\d+(?:_\d+)*)?)?|\.\d+(?:_\d+)*)(?:[eE][-+]?\d+(?:_\d+)*)?$/.test(text))
    return Math.trunc(Number(text.replace(/_/g, '')))
  return 0
}

// ---------------------------------------------------------------------------------------------------------

type Token = { kind: 'name' | 'number' | 'string' | 'op' | 'end'; text: string; value?: unknown }

function tokenize(source: string): Token[] {
  const tokens: Token[] = []
  const re =
    /\s*(?:([A-Za-z_][A-Za-z0-9_]*)|([0-9]+(?:\.[0-9]+)?)|'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|(==|!=|<=|>=|[<>()[\].,|~:{}-]))/y
  let pos = 0
  while (pos < source.length) {
    if (/^\s*$/.test(source.slice(pos))) break
    re.lastIndex = pos
    const m = re.exec(source)
    if (!m) throw new TemplateError(`unexpected "${source.slice(pos).trim().slice(0, 20)}" in "${source.trim()}"`)
    pos = re.lastIndex
    if (m[1] !== undefined) tokens.push({ kind: 'name', text: m[1] })
    else if (m[2] !== undefined)
      tokens.push({
        kind: 'number',
        text: m[2],
        value: m[2].includes('.') && Number.isInteger(Number(m[2])) ? new PyFloat(Number(m[2])) : Number(m[2]),
      })
    else if (m[3] !== undefined || m[4] !== undefined)
      tokens.push({
        kind: 'string',
        text: '',
        value: (m[3] ?? m[4]!).replace(/\\(.)/g, (_, c: string) => ({ n: '\n', t: '\t' })[c] ?? c),
      })
    else tokens.push({ kind: 'op', text: m[5]! })
  }
  tokens.push({ kind: 'end', text: '' })
  return tokens
}

const filters: Record<string, (value: unknown, args: unknown[], expr: string) => unknown> = {
  default: (v, [fallback = '', ifFalsy]) => (v instanceof Undefined || (ifFalsy === true && !truthy(v)) ? fallback : v),
  bool: (v) => jinjaBool(v),
  int: (v) => toInt(v),
  string: (v) => toText(v),
  lower: (v) => toText(v).toLowerCase(),
  upper: (v) => toText(v).toUpperCase(),
  trim: (v) => toText(v).trim(),
  length: (v) =>
    Array.isArray(v)
      ? v.length
      : typeof v === 'string'
        ? [...v].length
        : v && typeof v === 'object' && !(v instanceof PyFloat)
          ? Object.keys(v).length
          : 0,
  join: (v, [sep = '']) => (Array.isArray(v) ? v.map(toText).join(toText(sep)) : toText(v)),
  quote: (v) => quote(toText(v)),
}
filters.d = filters.default!

const tests: Record<string, (value: unknown) => boolean> = {
  defined: (v) => !(v instanceof Undefined),
  undefined: (v) => v instanceof Undefined,
  none: (v) => v === null,
  true: (v) => v === true,
  false: (v) => v === false,
  string: (v) => typeof v === 'string',
  number: (v) => typeof v === 'number' || v instanceof PyFloat,
  boolean: (v) => typeof v === 'boolean',
  integer: (v) => typeof v === 'number' && Number.isInteger(v),
  float: (v) => v instanceof PyFloat || (typeof v === 'number' && !Number.isInteger(v)),
  mapping: (v) => v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof PyFloat),
  sequence: (v) =>
    Array.isArray(v) || typeof v === 'string' || (v !== null && typeof v === 'object' && !(v instanceof PyFloat)),
  // Ansible's tests on registered results.
  failed: (v) => truthy(result(v, 'failed').failed),
  succeeded: (v) => !truthy(result(v, 'succeeded').failed),
  changed: (v) => truthy(result(v, 'changed').changed),
  skipped: (v) => truthy(result(v, 'skipped').skipped),
}
tests.failure = tests.failed!
tests.success = tests.succeeded!
tests.change = tests.changed!
tests.skip = tests.skipped!

function result(v: unknown, test: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw new TemplateError(`the "${test}" test expects a registered result (a mapping), got ${pyRepr(v)}`)
  return v as Record<string, unknown>
}

// Ansible names this engine does not provide: refused when a template is checked, before anything connects.
const unsupportedNames = new Set([
  'hostvars',
  'omit',
  'lookup',
  'query',
  'q',
  'vars',
  'range',
  'dict',
  'now',
  'undef',
  'lipsum',
  'cycler',
  'joiner',
  'namespace',
])

class Parser {
  private tokens: Token[]
  private i = 0

  constructor(
    private source: string,
    private vars: Vars,
    private syntaxOnly = false,
    private literalOnly = false,
  ) {
    this.tokens = tokenize(source)
  }

  parse(): unknown {
    if (this.peek().kind === 'end') throw new TemplateError(`empty expression in "{{${this.source}}}"`)
    if (this.literalOnly) {
      const value = this.primary()
      if (this.peek().kind !== 'end') this.fail('not a literal')
      return value
    }
    const value = this.or()
    if (this.peek().kind !== 'end') this.fail(`unexpected "${this.peek().text || this.peek().value}"`)
    return value
  }

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.i + offset, this.tokens.length - 1)]!
  }
  private next(): Token {
    return this.tokens[this.i++]!
  }
  private accept(text: string): boolean {
    const t = this.peek()
    if ((t.kind === 'op' || t.kind === 'name') && t.text === text) {
      this.i++
      return true
    }
    return false
  }
  private expect(text: string): void {
    if (!this.accept(text)) this.fail(`expected "${text}"`)
  }
  private fail(reason: string): never {
    throw new TemplateError(`${reason} in "${this.source.trim()}"`)
  }
  /** A value used by an operator must exist (StrictUndefined). */
  private use(value: unknown): unknown {
    if (value instanceof Undefined && !this.syntaxOnly)
      throw new TemplateError(`'${value.what}' is undefined (in "${this.source.trim()}")`)
    return value
  }

  /** Checking syntax only, with no vars: an operation on an undefined value is not evaluated. */
  private unknown(...values: unknown[]): boolean {
    return this.syntaxOnly && values.some((v) => v instanceof Undefined)
  }

  private or(): unknown {
    let left = this.and()
    while (this.accept('or')) {
      const right = this.and()
      left = truthy(this.use(left)) ? left : right
    }
    return left
  }
  private and(): unknown {
    let left = this.not()
    while (this.accept('and')) {
      const right = this.not()
      left = truthy(this.use(left)) ? right : left
    }
    return left
  }
  private not(): unknown {
    if (this.accept('not')) return !truthy(this.use(this.not()))
    return this.comparison()
  }
  private comparison(): unknown {
    let left = this.concat()
    for (;;) {
      const t = this.peek()
      const op = t.kind === 'op' && ['==', '!=', '<', '<=', '>', '>='].includes(t.text) ? t.text : undefined
      if (op) {
        this.i++
        const right = this.concat()
        left = this.unknown(left, right) ? left : compare(op, this.use(left), this.use(right))
      } else if (this.accept('in')) {
        const right = this.concat()
        left = this.unknown(left, right) ? left : contains(this.use(right), this.use(left))
      } else if (t.kind === 'name' && t.text === 'not' && this.peek(1).text === 'in') {
        this.i += 2
        const right = this.concat()
        left = this.unknown(left, right) ? left : !contains(this.use(right), this.use(left))
      } else if (this.accept('is')) {
        const negate = this.accept('not')
        const name = this.next()
        const test = tests[name.text]
        if (name.kind !== 'name' || !test)
          this.fail(`unknown test "${name.text}" (known: ${Object.keys(tests).join(', ')})`)
        left = test!(left) !== negate
      } else return left
    }
  }
  private concat(): unknown {
    let left = this.filtered()
    while (this.accept('~')) left = toText(this.use(left)) + toText(this.use(this.filtered()))
    return left
  }
  private filtered(): unknown {
    let value = this.postfix()
    while (this.accept('|')) {
      const name = this.next()
      const filter = filters[name.text]
      if (name.kind !== 'name' || !filter)
        this.fail(`unknown filter "${name.text}" (known: ${Object.keys(filters).join(', ')})`)
      const args = this.accept('(') ? this.list(')') : []
      if (name.text !== 'default' && name.text !== 'd') value = this.use(value)
      value = this.syntaxOnly && value instanceof Undefined ? value : filter!(value, args, this.source)
    }
    return value
  }
  private postfix(): unknown {
    const start = this.peek()
    let value = this.primary()
    let what = start.kind === 'name' ? start.text : '(value)'
    for (;;) {
      if (this.accept('.')) {
        const name = this.next()
        if (name.kind !== 'name' && name.kind !== 'number') this.fail('expected an attribute name after "."')
        what = `${what}.${name.text}`
        value = member(value, name.text, what)
      } else if (this.accept('[')) {
        const key = this.use(this.or())
        this.expect(']')
        what = `${what}[${pyRepr(key)}]`
        value = member(value, key, what)
      } else return value
    }
  }
  private primary(): unknown {
    const t = this.next()
    if (t.kind === 'number' || t.kind === 'string') return t.value
    if (t.kind === 'op' && t.text === '(') {
      const value = this.or()
      this.expect(')')
      return value
    }
    if (t.kind === 'op' && t.text === '[') return this.list(']')
    if (t.kind === 'op' && t.text === '{') return this.dict()
    if (t.kind === 'op' && t.text === '-' && this.peek().kind === 'number') {
      const n = this.next().value
      return n instanceof PyFloat ? new PyFloat(-n.value) : -(n as number)
    }
    if (t.kind === 'name') {
      const literal: Record<string, unknown> = {
        true: true,
        True: true,
        false: false,
        False: false,
        none: null,
        None: null,
        null: null,
      }
      if (t.text in literal && (t.text !== 'null' || this.literalOnly)) return literal[t.text]
      if (this.literalOnly) this.fail(`"${t.text}" is not a literal`)
      if (!Object.hasOwn(this.vars, t.text)) {
        if (this.syntaxOnly && unsupportedNames.has(t.text)) this.fail(`"${t.text}" is not supported by this engine`)
        return new Undefined(t.text)
      }
      return this.syntaxOnly ? this.vars[t.text] : expand(this.vars[t.text], this.vars, t.text)
    }
    this.fail(t.kind === 'end' ? 'unexpected end' : `unexpected "${t.text}"`)
  }
  private dict(): Record<string, unknown> {
    const dict: Record<string, unknown> = {}
    if (this.accept('}')) return dict
    do {
      if (this.peek().kind === 'op' && this.peek().text === '}') break // a trailing comma
      const key = this.use(this.or())
      this.expect(':')
      Object.defineProperty(dict, toText(key), {
        value: this.or(),
        enumerable: true,
        writable: true,
        configurable: true,
      })
    } while (this.accept(','))
    this.expect('}')
    return dict
  }

  private list(close: string): unknown[] {
    const items: unknown[] = []
    if (this.accept(close)) return items
    do items.push(this.or())
    while (this.accept(','))
    this.expect(close)
    return items
  }
}

// Vars may hold templates themselves (`dest: "{{ base }}/x"`): they are rendered when used, as in Ansible.
let depth = 0
function expand(value: unknown, vars: Vars, name: string): unknown {
  if (typeof value !== 'string' || !isTemplated(value)) return value
  if (depth > 20) throw new TemplateError(`recursive template in '${name}'`)
  depth++
  try {
    return renderParts(value, vars, true)
  } finally {
    depth--
  }
}

function member(value: unknown, key: unknown, what: string): unknown {
  if (value instanceof Undefined) return new Undefined(what)
  if (value !== null && typeof value === 'object' && Object.hasOwn(value, String(key)))
    return (value as Record<string, unknown>)[String(key)]
  if (typeof value === 'string' && typeof key === 'number') return value[key] ?? new Undefined(what)
  return new Undefined(what)
}

function compare(op: string, a: unknown, b: unknown): boolean {
  a = a instanceof PyFloat ? a.value : a
  b = b instanceof PyFloat ? b.value : b
  if (op === '==') return equal(a, b)
  if (op === '!=') return !equal(a, b)
  if (typeof a !== typeof b || (typeof a !== 'number' && typeof a !== 'string'))
    throw new TemplateError(
      `cannot compare ${toText(a)} ${op} ${toText(b)}: both sides must be numbers or both strings`,
    )
  const [x, y] = [a as number | string, b as number | string]
  return op === '<' ? x < y : op === '<=' ? x <= y : op === '>' ? x > y : x >= y
}

function equal(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b) // PyFloat's toJSON is its number: 1.0 == 1, as in Python
}

function contains(container: unknown, item: unknown): boolean {
  if (typeof container === 'string') return container.includes(toText(item))
  if (Array.isArray(container)) return container.some((x) => equal(x, item))
  if (container && typeof container === 'object') return Object.hasOwn(container, toText(item))
  throw new TemplateError(`"in" needs a string, list or mapping on its right, got ${toText(container)}`)
}
