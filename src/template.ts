// Templates and expressions: Jinja2 as Ansible 2.14 runs it, on nunjucks (a kept Jinja engine) with Python's
// semantics put back where nunjucks follows JavaScript. Used for template files, task args, vars and
// `when`/`changed_when`/`failed_when`.
//
// nunjucks parses and compiles; this module owns what a template means:
// - Values print as Jinja prints Python's (str(): lists and dicts as repr(), True/False, 1.0, None as '' at the
//   top of an expression), truthiness is Python's ([] and {} are false), == compares deeply, `in` looks in
//   strings, lists and dict keys, + joins lists, / gives a float, `'-' * 3` repeats, `for x in dict` gives keys.
// - Undefined is Ansible's strict undefined: a missing name or attribute can be tested (`is defined`) and
//   defaulted, and chained (`a.b.c | default(x)`), but printing, comparing or iterating it is an error naming
//   it. Lookups see own properties only (no prototype, so no way from a template to JavaScript).
// - String literals read backslashes as Python does, and in task args Ansible's escape_backslashes applies.
// - Whitespace: trim_blocks on, a template's last newline dropped and given back (Ansible's templar).
// - Filters and tests are this module's own (Ansible's and Jinja's that users reach for, below), not
//   nunjucks' JavaScript ones. Every template is checked before anything connects: a syntax error, an unknown
//   filter, test, function or method, and what is not supported (include, extends, import, lookup(), ...)
//   name the line and column.
// Task args and vars convert like Ansible 2.14's templar (convert_data): a string that is one bare variable
// keeps a number/bool; other results that read as a list, dict or bool (literal_eval) become one.
// test/differential compares all this with ansible-playbook; README's "Coming from Ansible" lists what differs.

import { createHash, randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { define, jinjaBool, PyFloat, quote, type Vars } from './util.ts'
import { parseYaml } from './yaml.ts'

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

/** Renders a template to text (a template file: Ansible's template module). */
export function render(text: string, vars: Vars): string {
  return renderText(text, vars, false)
}

/** Renders every string in a value (task args): Ansible's templar with convert_data; `omit` drops a key. */
export function renderValue(value: unknown, vars: Vars): unknown {
  if (typeof value === 'string') return renderNative(value, vars)
  if (value instanceof PyFloat) return value
  if (Array.isArray(value)) return value.map((v) => renderValue(v, vars)) // (omit drops keys only, as Ansible)
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) {
      const rendered = renderValue(v, vars)
      if (rendered !== omit) define(out, k, rendered)
    }
    return out
  }
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
  // As Ansible's conditional: the expression inside an if block.
  return renderText(`{% if ${inner} %}True{% else %}False{% endif %}`, vars, false, 0, ifOffset) === 'True'
}
const ifOffset = '{% if '.length

/** Checks a template before anything connects: syntax, and that every filter, test, function and method is
 * one this engine has. Throws a TemplateError with the line and column. */
export function checkTemplate(text: string): void {
  compile(text, false)
}

// ---- rendering --------------------------------------------------------------------------------------------

const omit = `__omit_place_holder__${randomBytes(20).toString('hex')}`

function renderText(text: string, vars: Vars, args: boolean, depth = 0, columnOffset = 0): string {
  if (!isTemplated(text)) return text
  // Jinja drops a template's last newline (keep_trailing_newline off); Ansible gives back what went missing.
  const source = text.endsWith('\n') ? text.slice(0, -1) : text
  const out = run(compile(source, args), vars, depth, columnOffset)
  const missing = trailingNewlines(text) - trailingNewlines(out)
  return missing > 0 ? out + '\n'.repeat(missing) : out
}

function renderNative(text: string, vars: Vars, depth = 0): unknown {
  if (!isTemplated(text)) return text
  // Ansible's Templar.template: a string that is exactly one bare variable keeps a number or bool as is.
  const single = /^\{\{\s*(\w*)\s*\}\}$/.exec(text)
  if (single && Object.hasOwn(vars, single[1]!)) {
    const value = vars[single[1]!]
    if (value === null || typeof value === 'boolean' || typeof value === 'number' || value instanceof PyFloat)
      return value
  }
  // ansible_eval_concat: text that reads as a list, a dict or a bool becomes one (before the newlines Jinja
  // dropped are given back, so a list keeps none) — unless it is the text of to_json & co. alone.
  const template = compile(text.endsWith('\n') ? text.slice(0, -1) : text, true)
  const body = run(template, vars, depth, 0)
  if (!template.text && (/^[{[]/.test(body) || body === 'True' || body === 'False')) {
    const literal = pyLiteral(body)
    if (literal !== undefined) return literal
  }
  const missing = trailingNewlines(text) - trailingNewlines(body)
  return missing > 0 ? body + '\n'.repeat(missing) : body
}

function trailingNewlines(text: string): number {
  return /\n*$/.exec(text)![0].length
}

// ---- nunjucks, with Python's semantics ----------------------------------------------------------------------

/* The parts of nunjucks used here (it ships no types for its compiler, parser and runtime). */
interface Node {
  typename: string
  lineno: number
  colno: number
  fields: string[]
  [field: string]: unknown
}
type Emitter = {
  _emit(code: string): void
  _emitLine(code: string): void
  _compileExpression(node: Node, frame: unknown): void
  _compileAggregate(node: Node, frame: unknown, start?: string, end?: string): void
  _withScopedSyntax(f: () => void): void
  compile(node: Node, frame: unknown): void
  getCode(): string
}
const require = createRequire(import.meta.url)
const nj = {
  nodes: require('nunjucks/src/nodes.js') as Record<
    'FunCall' | 'LookupVal' | 'Literal',
    new (...args: unknown[]) => Node
  >,
  lexer: require('nunjucks/src/lexer.js') as { lex(src: string, opts: object): unknown },
  parser: require('nunjucks/src/parser.js') as { Parser: new (tokens: unknown) => { parseAsRoot(): Node } },
  transformer: require('nunjucks/src/transformer.js') as { transform(ast: Node, async: string[]): Node },
  compiler: require('nunjucks/src/compiler.js') as { Compiler: new (name: string, strict: boolean) => Emitter },
  runtime: require('nunjucks/src/runtime.js') as Record<string, unknown> & {
    Frame: new () => { topLevel: boolean; lookup(name: string): unknown }
    SafeString: new (s: string) => object
  },
}

type Root = (
  env: unknown,
  context: Context,
  frame: unknown,
  runtime: unknown,
  cb: (e: unknown, r?: string) => void,
) => void

/** What compiled code calls (env.getFilter/getTest) and the context it gets (set, macros). */
const environment = {
  opts: { autoescape: false },
  getFilter: (name: string) => filters[name.replace(/^ansible\.builtin\./, '')]!,
  getTest: (name: string) => tests[name.replace(/^ansible\.builtin\./, '')]!,
}

class Context {
  readonly ctx: Record<string, unknown> = Object.create(null)
  readonly env = environment
  private exported: string[] = []
  constructor(
    readonly vars: Vars,
    readonly depth: number,
  ) {}
  setVariable(name: string, value: unknown): void {
    this.ctx[name] = value
  }
  getVariables(): Record<string, unknown> {
    return this.ctx
  }
  addExport(name: string): void {
    this.exported.push(name)
  }
}

/** A name or attribute that does not exist: testable and defaultable; any other use names it. */
class Undefined {
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

/** A compiled template; `text` when it is one expression ending in a filter whose result is text (Ansible's
 * STRING_TYPE_FILTERS: literal_eval leaves it alone). */
type Compiled = Root & { text?: boolean }
const compiled = new Map<string, Compiled>()
const textFilters = new Set(['string', 'to_json', 'to_nice_json', 'to_yaml', 'to_nice_yaml'])

/** Parses, checks and compiles a template (cached). `args`: Ansible's escape_backslashes for task args. */
function compile(text: string, args: boolean): Compiled {
  const key = `${args ? 'a' : 't'}${text}`
  let root = compiled.get(key)
  if (root) return root
  let ast: Node
  try {
    ast = parse(prepare(text, args))
  } catch (e) {
    const error = located(e)
    if (error.line) {
      // nunjucks says what it expected; say what it found too.
      const found = /^\S+/.exec(text.split('\n')[error.line - 1]?.slice((error.column ?? 1) - 1) ?? '')?.[0]
      const expected = /^(?:an expression|a tag) opened with .* \(expected (..)\)$/.exec(error.reason)?.[1]
      if (expected && found)
        throw new TemplateError(`unexpected "${found}" (expected ${expected})`, error.line, error.column)
      throw error
    }
    // The end of the template was reached: point at the last {{ or {% opened.
    const open = Math.max(text.lastIndexOf('{{'), text.lastIndexOf('{%'), text.lastIndexOf('{#'))
    const before = text.slice(0, Math.max(0, open)).split('\n')
    throw new TemplateError(`${error.reason} at the end of the template`, before.length, before.at(-1)!.length + 1)
  }
  check(ast)
  const compiler = Object.assign(new nj.compiler.Compiler('template', false), pythonCompiler)
  try {
    compiler.compile(nj.transformer.transform(ast, []), null)
  } catch (e) {
    throw located(e)
  }
  root = (new Function(compiler.getCode())() as { root: Compiled }).root
  const only = (ast.children as Node[]).length === 1 && ((ast.children as Node[])[0]!.children as Node[] | undefined)
  if (only && only.length === 1 && only[0]!.typename === 'Filter')
    root.text = textFilters.has(String((only[0]!.name as Node).value).replace(/^ansible\.builtin\./, ''))
  if (compiled.size > 5000) compiled.clear()
  compiled.set(key, root)
  return root
}

/** nunjucks' parser, with float literals marked (1.0 is a float, as in Python). */
function parse(source: string): Node {
  const parser = new nj.parser.Parser(nj.lexer.lex(source, { trimBlocks: true })) as unknown as Parser
  const primary = parser.parsePrimary
  parser.parsePostfix = parsePostfix
  parser.parsePrimary = function (noPostfix?: boolean) {
    const token = this.peekToken()
    const node = primary.call(this, noPostfix)
    if (token?.type === 'float' && node.typename === 'Literal') node.float = true
    return node
  }
  return parser.parseAsRoot()
}

type Token = { type: string; value: string; lineno: number; colno: number }
type Parser = {
  parseAsRoot(): Node
  parsePrimary(noPostfix?: boolean): Node
  parsePostfix(node: Node): Node
  parseSignature(): Node
  parseExpression(): Node
  peekToken(): Token | null
  nextToken(): Token | null
  skip(type: string): boolean
  fail(message: string, lineno?: number, colno?: number): never
}

/** nunjucks' postfix parsing with Jinja's slices (`s[1:]`, `l[::-1]`) and numeric attributes (`l.0`). */
function parsePostfix(this: Parser, node: Node): Node {
  for (let tok = this.peekToken(); tok; tok = this.peekToken()) {
    if (tok.type === 'left-paren') node = new nj.nodes.FunCall(tok.lineno, tok.colno, node, this.parseSignature())
    else if (tok.type === 'left-bracket') {
      this.nextToken()
      const parts: (Node | null)[] = []
      let slice = false
      for (;;) {
        const next = this.peekToken()
        parts.push(next && (next.type === 'colon' || next.type === 'right-bracket') ? null : this.parseExpression())
        if (parts.length < 3 && this.skip('colon')) slice = true
        else break
      }
      if (!this.skip('right-bracket')) this.fail('expected ] to end the subscript')
      if (!slice && !parts[0]) this.fail('expected an index inside [ ]', tok.lineno, tok.colno)
      const key: Node = slice
        ? { typename: 'Slice', lineno: tok.lineno, colno: tok.colno, fields: ['start', 'stop', 'step'] }
        : parts[0]!
      if (slice) [key.start, key.stop, key.step] = parts
      node = new nj.nodes.LookupVal(tok.lineno, tok.colno, node, key)
    } else if (tok.type === 'operator' && tok.value === '.') {
      this.nextToken()
      // `a.0.1` lexes as a . 0.1 and `a.0.b` as a . 0. b: numbers split into lookups.
      for (let name = this.nextToken(), more = true; more; ) {
        if (!name || (name.type !== 'symbol' && name.type !== 'int' && !/^\d+\.\d*$/.test(name.value)))
          this.fail(`expected a name after ".", got ${name?.value ?? 'the end'}`, name?.lineno, name?.colno)
        const parts = name.type === 'symbol' ? [name.value] : name.value.split('.')
        for (const part of parts.filter((p) => p !== ''))
          node = new nj.nodes.LookupVal(
            tok.lineno,
            tok.colno,
            node,
            new nj.nodes.Literal(name.lineno, name.colno, name.type === 'symbol' ? part : Number(part)),
          )
        more = name.value.endsWith('.')
        if (more) name = this.nextToken()
      }
    } else break
  }
  return node
}

function run(root: Root, vars: Vars, depth: number, columnOffset: number): string {
  if (depth > 20) throw new TemplateError('a var refers to itself (recursive template)')
  const frame = new Frame()
  frame.topLevel = true
  let error: unknown
  let out = ''
  root(environment, new Context(vars, depth), frame, runtime, (e, r) => {
    error = e
    out = r ?? ''
  })
  if (error) {
    const e = located(error)
    if (e.line === 1 && e.column !== undefined && columnOffset)
      throw new TemplateError(e.reason, 1, Math.max(1, e.column - columnOffset))
    throw e
  }
  return out
}

/** A nunjucks error as a TemplateError with its line and column (1-based in nunjucks' errors). */
function located(e: unknown): TemplateError {
  if (e instanceof TemplateError) return e
  const err = e as { message?: string; lineno?: number; colno?: number }
  const reason = String(err.message ?? e)
    .replace(/^(?:\w*Error: )+/, '')
    .replace(/^parse(?:Primary|Aggregate|For|Set|If|Signature|Filter)?: /, '')
    .replace(/^unexpected token: (\}\}|%\})$/, 'unexpected end of the expression at "$1"')
    .replace(/^expected variable end/, 'an expression opened with {{ is never closed (expected }})')
    .replace(/^expected block end/, 'a tag opened with {% is never closed (expected %})')
    .replace(/^expected end of comment, got end of file/, 'a comment opened with {# is never closed (expected #})')
  return new TemplateError(reason, err.lineno, err.colno)
}

/**
 * The template as nunjucks' lexer must see it to read what Jinja's reads:
 * - string literals: Python's escapes decoded and the result re-escaped for nunjucks (which knows only \n \t
 *   \r and drops other backslashes); in task args (`args`) Ansible doubles every backslash inside {{ }} first
 *   (escape_backslashes), so there they are literal;
 * - a dict closing inside an expression (`{'a': {'b': 1}}`): nunjucks would take the `}}` for the tag's end;
 * - `#}` outside a comment, which is text to Jinja; the newline after a comment, which trim_blocks takes.
 */
function prepare(text: string, args: boolean): string {
  let out = ''
  let i = 0
  const n = text.length
  while (i < n) {
    const open = text.slice(i, i + 2)
    if (open === '{#') {
      // trim_blocks takes the newline after a comment too: moved inside it, so that lines keep their numbers.
      const end = text.indexOf('#}', i + 2)
      const stop = end < 0 ? n : end + 2
      const newline = text[stop] === '\n' ? '\n' : ''
      out += newline ? `${text.slice(i, stop - 2)}\n#}` : text.slice(i, stop)
      i = stop + newline.length
      continue
    }
    if (open === '#}') {
      out += "{{ '#}' }}"
      i += 2
      continue
    }
    if (open !== '{{' && open !== '{%') {
      out += text[i++]
      continue
    }
    const close = open === '{{' ? '}}' : '%}'
    const raw = open === '{%' && /^\{%-?\s*raw\s*-?%\}/.exec(text.slice(i))
    if (raw) {
      const end = /\{%-?\s*endraw\s*-?%\}/.exec(text.slice(i))
      const stop = end ? i + end.index + end[0].length : n
      out += text.slice(i, stop)
      i = stop
      continue
    }
    out += open
    i += 2
    let depth = 0
    while (i < n && (depth > 0 || (text.slice(i, i + 2) !== close && text.slice(i, i + 3) !== `-${close}`))) {
      const q = text[i]!
      if (q === '{') depth++
      if (q === '}' && depth > 0) {
        depth--
        out += '} '
        i++
        continue
      }
      if (q !== "'" && q !== '"') {
        out += text[i++]
        continue
      }
      let j = i + 1
      let value = ''
      for (; j < n && text[j] !== q; j++) {
        if (text[j] !== '\\' || j + 1 >= n) value += text[j]
        else if (args && open === '{{') value += text[j]! + (text[j + 1] === q ? text[++j]! : '')
        else {
          const [decoded, used] = pyEscape(text, j + 1)
          value += decoded
          j += used
        }
      }
      out += q + value.replace(/\\/g, '\\\\').replace(new RegExp(q, 'g'), `\\${q}`).replace(/\n/g, '\\n') + q
      i = j + 1
    }
  }
  return out
}

/** One Python escape after a backslash at `at`: [text, characters used]. Unknown ones keep the backslash. */
function pyEscape(text: string, at: number): [string, number] {
  const c = text[at]!
  const simple: Record<string, string> = {
    '\\': '\\',
    "'": "'",
    '"': '"',
    n: '\n',
    t: '\t',
    r: '\r',
    a: '\x07',
    b: '\b',
    f: '\f',
    v: '\v',
    '\n': '',
  }
  if (c in simple) return [simple[c]!, 1]
  const hex = (len: number) => {
    const digits = text.slice(at + 1, at + 1 + len)
    return /^[0-9a-fA-F]+$/.test(digits) && digits.length === len
      ? ([String.fromCodePoint(parseInt(digits, 16)), len + 1] as [string, number])
      : undefined
  }
  if (c === 'x') return hex(2) ?? ['\\x', 1]
  if (c === 'u') return hex(4) ?? ['\\u', 1]
  if (c === 'U') return hex(8) ?? ['\\U', 1]
  const octal = /^[0-7]{1,3}/.exec(text.slice(at))
  if (octal) return [String.fromCharCode(parseInt(octal[0], 8)), octal[0].length]
  return [`\\${c}`, 1]
}

// The compiler's code for what JavaScript and Python disagree on: each calls a runtime function below.
const pythonCompiler = {
  compileOr(this: Emitter, node: Node, frame: unknown) {
    this._emit('runtime.or(')
    this.compile(node.left as Node, frame)
    this._emit(', function() { return ')
    this.compile(node.right as Node, frame)
    this._emit('; })')
  },
  compileAnd(this: Emitter, node: Node, frame: unknown) {
    this._emit('runtime.and(')
    this.compile(node.left as Node, frame)
    this._emit(', function() { return ')
    this.compile(node.right as Node, frame)
    this._emit('; })')
  },
  compileNot(this: Emitter, node: Node, frame: unknown) {
    this._emit('!runtime.truthy(')
    this.compile(node.target as Node, frame)
    this._emit(')')
  },
  compileInlineIf(this: Emitter, node: Node, frame: unknown) {
    this._emit('(runtime.truthy(')
    this.compile(node.cond as Node, frame)
    this._emit(') ? ')
    this.compile(node.body as Node, frame)
    this._emit(' : ')
    if (node.else_) this.compile(node.else_ as Node, frame)
    else this._emit('""')
    this._emit(')')
  },
  compileIf(this: Emitter, node: Node, frame: unknown) {
    this._emit('if(runtime.truthy(')
    this._compileExpression(node.cond as Node, frame)
    this._emitLine(')) {')
    this._withScopedSyntax(() => this.compile(node.body as Node, frame))
    if (node.else_) {
      this._emitLine('}\nelse {')
      this._withScopedSyntax(() => this.compile(node.else_ as Node, frame))
    }
    this._emitLine('}')
  },
  compileCompare(this: Emitter, node: Node, frame: unknown) {
    this._emit('runtime.compare(')
    this.compile(node.expr as Node, frame)
    for (const op of node.ops as Node[]) {
      this._emit(`, ${JSON.stringify(op.type)}, `)
      this.compile(op.expr as Node, frame)
    }
    this._emit(')')
  },
  compileIs(this: Emitter, node: Node, frame: unknown) {
    this._emit(`env.getTest(${JSON.stringify(testName(node.right as Node))}).call(context, `)
    this.compile(node.left as Node, frame)
    const args = (node.right as Node).args as Node | undefined
    if (args) this._compileAggregate(args, frame, ', ', '')
    this._emit(') === true')
  },
  compileLookupVal(this: Emitter, node: Node, frame: unknown) {
    this._emit('runtime.memberLookup((')
    this._compileExpression(node.target as Node, frame)
    this._emit('),')
    this.compile(node.val as Node, frame)
    this._emit(`, ${JSON.stringify(nodeName(node.target as Node))})`)
  },
  compileSlice(this: Emitter, node: Node, frame: unknown) {
    this._emit('runtime.slice(')
    for (const part of ['start', 'stop', 'step']) {
      if (node[part]) this._compileExpression(node[part] as Node, frame)
      else this._emit('null')
      this._emit(part === 'step' ? ')' : ', ')
    }
  },
  // Each iteration of a loop is a scope of its own, as in Jinja.
  compileFor(this: Emitter, node: Node, frame: unknown) {
    const body = node.body
    node.body = { typename: 'IterationScope', body, lineno: node.lineno, colno: node.colno, fields: [] }
    try {
      baseFor.call(this, node, frame)
    } finally {
      node.body = body
    }
  },
  compileIterationScope(this: Emitter, node: Node, frame: unknown) {
    this._emitLine('frame = frame.push();')
    this.compile(node.body as Node, frame)
    this._emitLine('frame = frame.pop();')
  },
  // (a, b) is a tuple; (a) is a.
  compileGroup(this: Emitter, node: Node, frame: unknown) {
    if ((node.children as Node[]).length === 1) this._compileAggregate(node, frame, '(', ')')
    else this._compileAggregate(node, frame, 'runtime.tuple(', ')')
  },
  // Dict keys are expressions in Jinja ({key: 1} uses the var key); keyword arguments are names.
  compilePair(this: Emitter, node: Node, frame: unknown) {
    this._emit('[runtime.key(')
    this.compile(node.key as Node, frame)
    this._emit(')]: ')
    this._compileExpression(node.value as Node, frame)
  },
  compileKeywordArgs(this: Emitter, node: Node, frame: unknown) {
    this._emit('runtime.makeKeywordArgs({')
    for (const pair of node.children as Node[]) {
      this._emit(`${JSON.stringify(String((pair.key as Node).value))}: `)
      this._compileExpression(pair.value as Node, frame)
      this._emit(', ')
    }
    this._emit('})')
  },
  // Runtime errors name where they happened: expressions set the position they run at.
  compile(this: Emitter, node: Node, frame: unknown) {
    const at = positioned.has(node.typename)
    if (at) this._emit(`(lineno = ${node.lineno}, colno = ${node.colno}, `)
    baseCompile.call(this, node, frame)
    if (at) this._emit(')')
  },
  compileFunCall(this: Emitter, node: Node, frame: unknown) {
    this._emit(`(lineno = ${node.lineno}, colno = ${node.colno}, runtime.callWrap(`)
    this._compileExpression(node.name as Node, frame)
    this._emit(`, ${JSON.stringify(nodeName(node.name as Node))}, context, `)
    this._compileAggregate(node.args as Node, frame, '[', '])')
    this._emit(')')
  },
  compileLiteral(this: Emitter, node: Node) {
    const v = node.value
    if (typeof v === 'string')
      this._emit(
        JSON.stringify(v)
          .replace(/\u2028/g, '\\u2028')
          .replace(/\u2029/g, '\\u2029'),
      )
    else if (typeof v === 'number' && node.float && Number.isInteger(v)) this._emit(`runtime.float(${v})`)
    else this._emit(String(v))
  },
  ...Object.fromEntries(
    (['Add', 'Sub', 'Mul', 'Div', 'FloorDiv', 'Mod', 'Pow', 'Concat'] as const).map((op) => [
      `compile${op}`,
      function (this: Emitter, node: Node, frame: unknown) {
        this._emit(`runtime.binary(${JSON.stringify(op)}, `)
        this.compile(node.left as Node, frame)
        this._emit(', ')
        this.compile(node.right as Node, frame)
        this._emit(')')
      },
    ]),
  ),
  ...Object.fromEntries(
    (['Neg', 'Pos'] as const).map((op) => [
      `compile${op}`,
      function (this: Emitter, node: Node, frame: unknown) {
        this._emit(`runtime.binary(${JSON.stringify(op === 'Neg' ? 'Sub' : 'Add')}, 0, `)
        this.compile(node.target as Node, frame)
        this._emit(')')
      },
    ]),
  ),
}

const baseCompile = (nj.compiler.Compiler.prototype as Emitter).compile
const baseFor = (nj.compiler.Compiler.prototype as unknown as { compileFor: (node: Node, frame: unknown) => void })
  .compileFor
const positioned = new Set(['Symbol', 'LookupVal', 'Filter', 'Is', 'Compare', 'In', 'Add', 'Sub', 'Mul', 'Div', 'Mod'])

function testName(node: Node): string {
  const name = (node.name as Node | undefined)?.value ?? node.value
  return name === null ? 'none' : String(name)
}

/** How an expression reads, for messages: a.b, a[0], a.b['c-d']. */
function nodeName(node: Node): string {
  if (node.typename === 'Symbol') return String(node.value)
  if (node.typename === 'LookupVal') {
    const key = node.val as Node
    const base = nodeName(node.target as Node)
    if (key.typename === 'Literal')
      return typeof key.value === 'string' && /^[A-Za-z_]\w*$/.test(key.value)
        ? `${base}.${key.value}`
        : `${base}[${pyRepr(key.value)}]`
    return `${base}[...]`
  }
  if (node.typename === 'FunCall') return `${nodeName(node.name as Node)}(...)`
  return '(value)'
}

// ---- checks before anything connects ----------------------------------------------------------------------

const refusedTags: Record<string, string> = {
  Include: '{% include %}',
  Extends: '{% extends %}',
  Block: '{% block %}',
  Super: 'super()',
  Import: '{% import %}',
  FromImport: '{% from ... import %}',
  CallExtension: 'extension tags',
  Switch: '{% switch %} (not Jinja)',
}
/** Ansible's and Jinja's globals this engine does not provide. */
const refusedFunctions = new Set([
  'lookup',
  'query',
  'q',
  'now',
  'undef',
  'lipsum',
  'cycler',
  'joiner',
  'namespace',
  'dict',
])

const loopVars = ['index', 'index0', 'revindex', 'revindex0', 'first', 'last', 'length']

function check(ast: Node): void {
  const macros = new Set<string>(['caller'])
  walk(ast, (node) => {
    if (node.typename === 'Macro') macros.add(String((node.name as Node).value))
    if (node.typename === 'Set' && (node.value as Node | null)?.typename === 'FunCall')
      for (const t of node.targets as Node[]) macros.add(String(t.value))
  })
  walk(ast, (node) => {
    if (node.typename === 'Is') (node.right as Node).test = true
    const at = (reason: string): never => {
      throw new TemplateError(reason, node.lineno + 1, node.colno + 1)
    }
    if (node.typename === 'For' && (node.arr as Node).typename === 'InlineIf' && !(node.arr as Node).else_)
      at(
        'a loop filter ({% for x in y if z %}) is not supported by this engine: use select/selectattr, or {% if %} inside the loop',
      )
    if (node.typename === 'Set' && (node.targets as Node[]).length > 1)
      at('{% set a, b = ... %} (unpacking) is not supported by this engine')
    // Names go into the compiled code: only Python identifiers (dotted for ansible.builtin.filter names).
    if (node.typename === 'Symbol' && !/^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*$/.test(String(node.value)))
      at(`${JSON.stringify(node.value)} is not a valid name`)
    const tag = refusedTags[node.typename]
    if (tag) at(`${tag} is not supported by this engine`)
    if (node.typename === 'Literal' && node.value instanceof RegExp) at('r/regex/ literals are not Jinja')
    if (
      node.typename === 'LookupVal' &&
      (node.target as Node).typename === 'Symbol' &&
      (node.target as Node).value === 'loop'
    ) {
      const key = (node.val as Node).value
      if (!loopVars.includes(key as string))
        at(`loop.${String(key)} is not supported by this engine (it has loop.${loopVars.join(', loop.')})`)
    }
    if (node.typename === 'Filter' || node.typename === 'FilterAsync') {
      const name = String((node.name as Node).value).replace(/^ansible\.builtin\./, '')
      if (!Object.hasOwn(filters, name))
        at(`unknown filter "${name}" (README's "Coming from Ansible" lists the filters this engine has)`)
    }
    if (node.typename === 'Is') {
      const name = testName(node.right as Node).replace(/^ansible\.builtin\./, '')
      if (!Object.hasOwn(tests, name))
        at(`unknown test "${name}" (README's "Coming from Ansible" lists the tests this engine has)`)
    }
    if (node.typename === 'FunCall' && !node.test) {
      const callee = node.name as Node
      if (callee.typename === 'Symbol') {
        const name = String(callee.value)
        if (refusedFunctions.has(name)) at(`${name}() is not supported by this engine`)
        if (!macros.has(name) && !Object.hasOwn(functions, name))
          at(`unknown function ${name}() (this engine has: ${Object.keys(functions).join(', ')} and macros)`)
      } else if (callee.typename === 'LookupVal') {
        const method = (callee.val as Node).value
        if (typeof method !== 'string' || !knownMethods.has(method))
          at(
            `the method ${nodeName(callee)}() is not supported by this engine (it has ${[...knownMethods].sort().join(', ')})`,
          )
      } else
        at('only functions, macros and methods can be called: calling another value is not supported by this engine')
    }
  })
}

function walk(node: Node, visit: (node: Node) => void): void {
  visit(node)
  for (const field of node.fields ?? []) {
    const child = node[field]
    if (Array.isArray(child)) for (const c of child) isNode(c) && walk(c, visit)
    else if (isNode(child)) walk(child, visit)
  }
}

function isNode(value: unknown): value is Node {
  return !!value && typeof value === 'object' && typeof (value as Node).typename === 'string'
}

// ---- the runtime compiled code calls ----------------------------------------------------------------------

const scopes = new WeakMap<object, Vars>()

/** Jinja's scopes: a `{% set %}` inside a loop or macro stays there (nunjucks would write to the outer one). */
class Frame extends nj.runtime.Frame {
  push(): Frame {
    return new (Frame as unknown as new (parent: Frame, isolateWrites: boolean) => Frame)(this, true)
  }
}

const runtime = {
  ...nj.runtime,
  Frame,
  contextOrFrameLookup(context: Context, frame: { lookup(name: string): unknown }, name: string): unknown {
    const local = frame.lookup(name)
    if (local !== undefined) return local
    if (name in context.ctx) return context.ctx[name]
    if (Object.hasOwn(context.vars, name)) return expand(context.vars[name], context.vars, context.depth, name)
    if (name === 'vars') {
      scopes.set(context.vars, context.vars)
      return context.vars
    }
    if (Object.hasOwn(globals, name)) return globals[name]
    return new Undefined(name)
  },
  memberLookup(obj: unknown, key: unknown, base: string): unknown {
    const what = `${base}${typeof key === 'string' && /^[A-Za-z_]\w*$/.test(key) ? `.${key}` : `[${pyRepr(key)}]`}`
    if (obj instanceof Undefined) return new Undefined(what)
    if (key instanceof Undefined) key.fail()
    if (obj === null || obj === undefined) return new Undefined(what)
    if (key instanceof Slice) return key.of(obj, what)
    if (Array.isArray(obj) || typeof obj === 'string') {
      if (typeof key === 'number' || key instanceof PyFloat) {
        const i = Number(key) < 0 ? obj.length + Number(key) : Number(key)
        return i >= 0 && i < obj.length ? obj[i] : new Undefined(what)
      }
    } else if (typeof obj === 'object' && Object.hasOwn(obj, String(key)) && !(obj instanceof PyFloat)) {
      const value = (obj as Record<string, unknown>)[String(key)]
      const scope = scopes.get(obj)
      return scope ? expand(value, scope, 0, what) : value
    }
    if (typeof key === 'string') {
      const method = methodOf(obj, key)
      if (method) return method
    }
    return new Undefined(what)
  },
  callWrap(fn: unknown, name: string, context: Context, args: unknown[]): unknown {
    if (fn instanceof Undefined) fn.fail()
    if (typeof fn !== 'function') throw new TemplateError(`${name} is not callable`)
    const result = (fn as (...a: unknown[]) => unknown).apply(context, args)
    return result instanceof nj.runtime.SafeString ? String(result) : result
  },
  suppressValue(value: unknown): string {
    // Ansible's finalize: None prints as ''.
    if (value === null || value === undefined) return ''
    if (value instanceof Undefined) value.fail()
    return toText(value)
  },
  ensureDefined: (value: unknown) => value,
  fromIterator(value: unknown): unknown {
    if (value instanceof Undefined) value.fail()
    if (typeof value === 'string' || Array.isArray(value)) return value
    if (value && typeof value === 'object' && !(value instanceof PyFloat)) return Object.keys(value) // a dict's keys
    throw new TemplateError(`${pyRepr(value)} is not iterable`)
  },
  inOperator: (item: unknown, container: unknown) => contains(container, item),
  handleError(e: unknown, lineno: number, colno: number): unknown {
    const t = located(e)
    return t.line ? t : new TemplateError(t.reason, lineno + 1, colno + 1)
  },
  truthy,
  or: (a: unknown, b: () => unknown) => (truthy(a) ? a : b()),
  and: (a: unknown, b: () => unknown) => (truthy(a) ? b() : a),
  float: (n: number) => new PyFloat(n),
  tuple: (...items: unknown[]) => tuple(...items),
  slice: (start: unknown, stop: unknown, step: unknown) => new Slice(start, stop, step),
  key(k: unknown): string {
    if (k instanceof Undefined) k.fail()
    if (k !== null && typeof k === 'object') throw new TemplateError(`unhashable type: '${typeName(k)}'`)
    return toText(k)
  },
  compare(first: unknown, ...rest: unknown[]): boolean {
    let left = first
    for (let i = 0; i < rest.length; i += 2) {
      const right = rest[i + 1]
      if (!compare(rest[i] as string, left, right)) return false
      left = right
    }
    return true
  },
  binary,
}

/** Python's slice: seq[start:stop:step] of a list or a string. */
class Slice {
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

/** Vars may hold templates themselves (`dest: "{{ base }}/x"`): they are rendered when used, as in Ansible. */
function expand(value: unknown, vars: Vars, depth: number, name: string): unknown {
  if (!hasTemplates(value)) return value
  try {
    return deepRender(value, vars, depth + 1)
  } catch (e) {
    if (e instanceof TemplateError && /recursive/.test(e.reason))
      throw new TemplateError(`recursive template in '${name}'`)
    throw e
  }
}

function deepRender(value: unknown, vars: Vars, depth: number): unknown {
  if (typeof value === 'string') return renderNative(value, vars, depth)
  if (Array.isArray(value)) return value.map((v) => deepRender(v, vars, depth))
  if (value && typeof value === 'object' && !(value instanceof PyFloat)) {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) define(out, k, deepRender(v, vars, depth))
    return out
  }
  return value
}

const templated = new WeakMap<object, boolean>()
function hasTemplates(value: unknown): boolean {
  if (typeof value === 'string') return isTemplated(value)
  if (!value || typeof value !== 'object' || value instanceof PyFloat || scopes.has(value)) return false
  let known = templated.get(value)
  if (known === undefined) {
    known = Object.values(value).some(hasTemplates)
    templated.set(value, known)
  }
  return known
}

/** `hostvars`: each host's vars by name, read when used (and rendered with that host's vars). */
export function hostvarsOf(names: string[], varsOf: (name: string) => Vars): Record<string, Vars> {
  const out: Record<string, Vars> = {}
  scopes.set(out, {}) // read lazily: its values are scopes of their own
  for (const name of names)
    Object.defineProperty(out, name, {
      enumerable: true,
      get: () => {
        const vars = varsOf(name)
        scopes.set(vars, vars)
        return vars
      },
    })
  return out
}

// ---- Python's operators -----------------------------------------------------------------------------------

function num(value: unknown): number | undefined {
  if (typeof value === 'number') return value
  if (typeof value === 'boolean') return value ? 1 : 0
  if (value instanceof PyFloat) return value.value
  return undefined
}

function isFloat(value: unknown): boolean {
  return value instanceof PyFloat || (typeof value === 'number' && !Number.isInteger(value))
}

/** A number as Python would hold it: a float stays a float when whole (PyFloat). */
function numberResult(n: number, float: boolean): number | PyFloat {
  return float && Number.isInteger(n) ? new PyFloat(n) : n
}

function typeName(value: unknown): string {
  if (value === null || value === undefined) return 'NoneType'
  if (value instanceof Undefined) value.fail()
  if (typeof value === 'boolean') return 'bool'
  if (typeof value === 'string') return 'str'
  if (isFloat(value)) return 'float'
  if (typeof value === 'number') return 'int'
  if (Array.isArray(value)) return 'list'
  return 'dict'
}

function binary(op: string, a: unknown, b: unknown): unknown {
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

function repeat(value: string | unknown[], times: number): string | unknown[] {
  if (typeof value === 'string') return value.repeat(Math.max(0, times))
  return Array.from({ length: Math.max(0, times) }, () => value).flat()
}

function compare(op: string, a: unknown, b: unknown): boolean {
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
function pyOrder(a: unknown, b: unknown, op = '<'): number {
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

function contains(container: unknown, item: unknown): boolean {
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
  if (value instanceof nj.runtime.SafeString) return String(value).length > 0
  if (Array.isArray(value)) return value.length > 0
  if (typeof value === 'object') return Object.keys(value).length > 0
  return Boolean(value)
}

/** A Python tuple (dict.items(), regex_findall's groups): a list that prints as ('a', 1). */
export class PyTuple extends Array<unknown> {}

function tuple(...items: unknown[]): PyTuple {
  return PyTuple.from(items) as PyTuple
}

// ---- Python's values as text ------------------------------------------------------------------------------

/** How Jinja prints a value: Python's str() (repr() for lists and dicts, and inside them). */
export function toText(value: unknown): string {
  if (value instanceof Undefined) value.fail()
  if (value === null || value === undefined) return 'None'
  if (typeof value === 'string') return value
  if (value instanceof nj.runtime.SafeString) return String(value)
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

/** Python's ast.literal_eval of a list, dict, string, number, bool or None (JSON's true/false/null too), or
 * undefined when the text is not one. */
export function pyLiteral(text: string): unknown {
  let ast: Node
  try {
    ast = parse(`{{ ${prepare(text, false)} }}`)
  } catch {
    return undefined
  }
  const output = (ast.children as Node[])[0]
  if ((ast.children as Node[]).length !== 1 || output?.typename !== 'Output') return undefined
  const nodes = output.children as Node[]
  if (nodes.length !== 1) return undefined
  const NOT = Symbol('not a literal')
  const value = (node: Node): unknown => {
    switch (node.typename) {
      case 'Literal':
        return typeof node.value === 'number' && node.float && Number.isInteger(node.value)
          ? new PyFloat(node.value)
          : node.value instanceof RegExp
            ? NOT
            : node.value
      case 'Symbol':
        return (
          ({ True: true, False: false, None: null, true: true, false: false, null: null } as Record<string, unknown>)[
            String(node.value)
          ] ?? NOT
        )
      case 'Neg': {
        const v = value(node.target as Node)
        return typeof v === 'number' ? -v : v instanceof PyFloat ? new PyFloat(-v.value) : NOT
      }
      case 'Array':
      case 'Group':
        return (node.children as Node[]).map(value)
      case 'Dict': {
        const out: Record<string, unknown> = {}
        for (const pair of node.children as Node[]) {
          const k = value(pair.key as Node)
          if (typeof k !== 'string' && typeof k !== 'number') return NOT
          define(out, String(k), value(pair.value as Node))
        }
        return out
      }
      default:
        return NOT
    }
  }
  const result = value(nodes[0]!)
  const bad = (v: unknown): boolean =>
    v === NOT || (Array.isArray(v) ? v.some(bad) : !!v && typeof v === 'object' && Object.values(v).some(bad))
  return bad(result) ? undefined : result
}

// ---- filters, tests, functions and methods ------------------------------------------------------------------
// Each as Ansible 2.14 / Jinja 3.1 define them (names and arguments, keyword arguments too); the JavaScript
// value model is util.ts's (PyFloat for a whole float).

type Fn = (this: Context, value: unknown, ...args: unknown[]) => unknown

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

function keywordsOf(args: unknown[]): [unknown[], Record<string, unknown>] {
  const last = args.at(-1) as Record<string, unknown> | undefined
  if (last && typeof last === 'object' && (last as { __keywords?: boolean }).__keywords) {
    const { __keywords: _, ...rest } = last
    return [args.slice(0, -1), rest]
  }
  return [args, {}]
}

function str(value: unknown): string {
  return toText(value)
}

function list(value: unknown, what: string): unknown[] {
  if (value instanceof Undefined) value.fail()
  if (Array.isArray(value)) return value
  if (typeof value === 'string') return [...value]
  if (value && typeof value === 'object' && !(value instanceof PyFloat)) return Object.keys(value)
  throw new TemplateError(`${what} expects a list, got ${pyRepr(value)}`)
}

function mapping(value: unknown, what: string): Record<string, unknown> {
  if (value instanceof Undefined) value.fail()
  if (value && typeof value === 'object' && !Array.isArray(value) && !(value instanceof PyFloat))
    return value as Record<string, unknown>
  throw new TemplateError(`${what} expects a dictionary, got ${pyRepr(value)}`)
}

/** An attribute path (`a.b`, `0`) of each item, as Jinja's make_attrgetter. */
function attribute(item: unknown, path: unknown): unknown {
  let value = item
  for (const part of String(path).split('.'))
    value = runtime.memberLookup(value, /^\d+$/.test(part) ? Number(part) : part, 'item')
  return value
}

/** Python's int(): int(value), else int(float(value)), else the default (Jinja's int filter). */
function toInt(value: unknown, fallback: unknown = 0, base = 10): unknown {
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

function toFloat(value: unknown): number | undefined {
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
function pySplit(s: string, sep: unknown, maxsplit: unknown): string[] {
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

function pyStrip(s: string, chars: unknown, side: 'both' | 'left' | 'right'): string {
  const set = chars === null || chars === undefined ? null : str(chars)
  const strip = (c: string) => (set === null ? /\s/.test(c) : set.includes(c))
  let start = 0
  let end = s.length
  if (side !== 'right') while (start < end && strip(s[start]!)) start++
  if (side !== 'left') while (end > start && strip(s[end - 1]!)) end--
  return s.slice(start, end)
}

/** A Python regular expression for JavaScript: (?P<name>...) and (?P=name); flags from the filter's arguments. */
function regex(pattern: unknown, flags: { ignorecase?: unknown; multiline?: unknown }, global = false): RegExp {
  let source = str(pattern)
    .replace(/\(\?P</g, '(?<')
    .replace(/\(\?P=(\w+)\)/g, '\\k<$1>')
  let f = global ? 'g' : ''
  const inline = /^\(\?([aiLmsux]+)\)/.exec(source)
  if (inline) {
    source = source.slice(inline[0].length)
    if (inline[1]!.includes('i')) f += 'i'
    if (inline[1]!.includes('m')) f += 'm'
    if (inline[1]!.includes('s')) f += 's'
  }
  if (truthy(flags.ignorecase ?? false) && !f.includes('i')) f += 'i'
  if (truthy(flags.multiline ?? false) && !f.includes('m')) f += 'm'
  // Python's \Z is JavaScript's $ without m; \A is ^.
  source = source.replace(/\\Z/g, '(?![\\s\\S])').replace(/\\A/g, '(?<![\\s\\S])')
  try {
    return new RegExp(source, f)
  } catch (e) {
    throw new TemplateError(`bad regular expression ${pyRepr(str(pattern))}: ${(e as Error).message}`)
  }
}

/** A Python replacement (\1, \g<1>, \g<name>, \\) for String.replace. */
function replacement(text: string): (match: string, ...rest: unknown[]) => string {
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
function printf(format: string, args: unknown[], mapping = typeName(args[0]) === 'dict' && args.length === 1): string {
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
function strFormat(format: string, args: unknown[]): string {
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

function pyBasename(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1)
}

function pyDirname(p: string): string {
  const head = p.slice(0, p.lastIndexOf('/') + 1)
  return head && !/^\/+$/.test(head) ? head.replace(/\/+$/, '') : head
}

function sortKey(caseSensitive: unknown, attr: unknown): (v: unknown) => unknown {
  return (v) => {
    const x = attr === undefined || attr === null ? v : attribute(v, attr)
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
  return function (this: Context, value, ...args) {
    const items = list(value, select ? 'select' : 'reject')
    const [attr, testName, ...testArgs] = byAttribute ? args : [undefined, ...args]
    const test = testName === undefined ? undefined : tests[str(testName)]
    if (testName !== undefined && !test) throw new TemplateError(`no test named ${pyRepr(testName)}`)
    return items.filter((item) => {
      const v = byAttribute ? attribute(item, attr) : item
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

const filters: Record<string, Fn> = Object.assign(Object.create(null) as Record<string, Fn>, {
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
  title: (value: unknown) => str(value).replace(/[A-Za-z0-9]+/g, (w) => w[0]!.toUpperCase() + w.slice(1).toLowerCase()),
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
  join(value: unknown, ...args: unknown[]) {
    const [sep, attr] = bind(args, ['d', 'attribute'], ['', null])
    return list(value, 'join')
      .map((v) => str(attr === null ? v : attribute(v, attr)))
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
  dictsort(value: unknown, ...args: unknown[]) {
    const [caseSensitive, by, reverse] = bind(args, ['case_sensitive', 'by', 'reverse'], [false, 'key', false])
    const i = by === 'value' ? 1 : 0
    return sorted(
      Object.entries(mapping(value, 'dictsort')).map(([k, v]) => tuple(k, v)),
      (e) => sortKey(caseSensitive, null)((e as unknown[])[i]),
      reverse,
    )
  },
  selectattr: selectOrReject(true, true),
  rejectattr: selectOrReject(false, true),
  select: selectOrReject(true, false),
  reject: selectOrReject(false, false),
  map(this: Context, value: unknown, ...args: unknown[]) {
    const items = list(value, 'map')
    const [positional, kw] = keywordsOf(args)
    if (positional.length === 0 && kw.attribute !== undefined)
      return items.map((item) => {
        const v = attribute(item, kw.attribute)
        return v instanceof Undefined && 'default' in kw ? kw.default : v
      })
    const [name, ...rest] = positional
    const filter = filters[str(name)]
    if (!filter) throw new TemplateError(`map: no filter named ${pyRepr(name)}`)
    return items.map((item) =>
      filter.call(this, item, ...rest, ...(Object.keys(kw).length ? [{ ...kw, __keywords: true }] : [])),
    )
  },
  unique(value: unknown, ...args: unknown[]) {
    const [caseSensitive, attr] = bind(args, ['case_sensitive', 'attribute'], [false, null])
    return uniqueBy(list(value, 'unique'), sortKey(caseSensitive, attr))
  },
  sort(value: unknown, ...args: unknown[]) {
    const [reverse, caseSensitive, attr] = bind(args, ['reverse', 'case_sensitive', 'attribute'], [false, false, null])
    return sorted(list(value, 'sort'), sortKey(caseSensitive, attr), reverse)
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
  min(value: unknown, ...args: unknown[]) {
    const [caseSensitive, attr] = bind(args, ['case_sensitive', 'attribute'], [false, null])
    return sorted(list(value, 'min'), sortKey(caseSensitive, attr), false)[0] ?? new Undefined('min of nothing')
  },
  max(value: unknown, ...args: unknown[]) {
    const [caseSensitive, attr] = bind(args, ['case_sensitive', 'attribute'], [false, null])
    return sorted(list(value, 'max'), sortKey(caseSensitive, attr), true)[0] ?? new Undefined('max of nothing')
  },
  sum(value: unknown, ...args: unknown[]) {
    const [attr, start] = bind(args, ['attribute', 'start'], [null, 0])
    return list(value, 'sum').reduce((a, v) => binary('Add', a, attr === null ? v : attribute(v, attr)), start)
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
  extract(value: unknown, ...args: unknown[]) {
    const [container, morekeys] = bind(args, ['container', 'morekeys'], [undefined, null])
    let v = runtime.memberLookup(container, value, 'container')
    for (const k of morekeys === null ? [] : Array.isArray(morekeys) ? morekeys : [morekeys])
      v = runtime.memberLookup(v, k, 'container')
    return v
  },
  attr: (value: unknown, name: unknown) => runtime.memberLookup(value, str(name), 'value'),
  safe: (value: unknown) => value,
})
filters.d = filters.default!
filters.count = filters.length!
// Filters see an undefined value only where that is their point (default, mandatory): elsewhere it is an error.
for (const [name, filter] of Object.entries(filters))
  if (name !== 'default' && name !== 'd' && name !== 'mandatory')
    filters[name] = function (this: Context, value: unknown, ...args: unknown[]) {
      if (value instanceof Undefined) value.fail()
      try {
        return filter.call(this, value, ...args)
      } catch (e) {
        if (e instanceof TemplateError && !/^(the filter|'.*' is undefined)/.test(e.reason) && !e.line)
          throw new TemplateError(`the filter ${name}: ${e.reason}`)
        throw e
      }
    }

type Test = (this: Context, value: unknown, ...args: unknown[]) => boolean

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

const tests: Record<string, Test> = Object.assign(Object.create(null) as Record<string, Test>, {
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
const functions: Record<string, (...args: unknown[]) => unknown> = {
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
const globals: Record<string, unknown> = { ...functions, True: true, False: false, None: null, omit }

/** Python's methods users call in templates: on str, dict and list. */
const methods = {
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
    title: (s: string) => filters.title!.call(undefined as never, s),
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
const knownMethods = new Set(Object.values(methods).flatMap((m) => Object.keys(m)))

function methodOf(obj: unknown, name: string): ((...args: unknown[]) => unknown) | undefined {
  const kind = typeof obj === 'string' ? 'str' : Array.isArray(obj) ? 'list' : typeName(obj) === 'dict' ? 'dict' : ''
  const table = methods[kind]
  const method = table && Object.hasOwn(table, name) ? table[name] : undefined
  return method && ((...args: unknown[]) => method(obj as never, ...args))
}

// ---- YAML as PyYAML writes it (to_yaml, to_nice_yaml) ---------------------------------------------------------

/**
 * yaml.dump with sort_keys: block style, or (`auto`, default_flow_style=None) flow style for collections of
 * scalars only. Strings are plain unless PyYAML would read them back as something else or they hold YAML's
 * indicators; then single-quoted (double-quoted with escapes for control characters).
 */
function pyYaml(value: unknown, style: 'auto' | 'block', indent: number): string {
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

const yamlImplicit =
  /^(?:~|null|Null|NULL|yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0b[01_]+|[-+]?0[0-7_]+|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+|[-+]?(?:[0-9][0-9_]*)?\.[0-9.]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)|\d{4}-\d\d?-\d\d?(?:(?:[Tt]|[ \t]+)\d\d?:\d\d:\d\d(?:\.\d*)?(?:[ \t]*(?:Z|[-+]\d\d?(?::\d\d)?))?)?|<<|=)$/

function yamlString(s: string): string {
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
