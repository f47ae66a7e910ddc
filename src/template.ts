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
// Python's values and operators are python.ts's, the filters and tests filters.ts's; this module is the
// engine: parse, check, compile, run, and the API (render, renderValue, evaluateCondition, checkTemplate).
// Task args and vars convert like Ansible 2.14's templar (convert_data): a string that is one bare variable
// keeps a number/bool; other results that read as a list, dict or bool (literal_eval) become one.
// test/differential compares all this with ansible-playbook; README's "Coming from Ansible" lists what differs.

import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { filters, functions, tests } from './filters.ts'
import {
  binary,
  compare,
  contains,
  getattr,
  knownMethods,
  pyRepr,
  Slice,
  TemplateError,
  toText,
  truthy,
  tuple,
  typeName,
  Undefined,
} from './python.ts'
import { define, PyFloat, type Vars } from './util.ts'

export { pyJson, pyRepr, PyTuple, TemplateError, toText, truthy } from './python.ts'

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
type FrameClass = new () => { topLevel: boolean; lookup(name: string): unknown }
interface Nunjucks {
  nodes: Record<'FunCall' | 'LookupVal' | 'Literal', new (...args: unknown[]) => Node>
  lexer: { lex(src: string, opts: object): unknown }
  parser: { Parser: new (tokens: unknown) => { parseAsRoot(): Node } }
  transformer: { transform(ast: Node, async: string[]): Node }
  compiler: { Compiler: new (name: string, strict: boolean) => Emitter }
  runtime: Record<string, unknown> & { Frame: FrameClass; SafeString: new (s: string) => object }
}
let nunjucks: Nunjucks | undefined
let loadNunjucks = (): Nunjucks => {
  const require = createRequire(import.meta.url)
  return {
    nodes: require('nunjucks/src/nodes.js'),
    lexer: require('nunjucks/src/lexer.js'),
    parser: require('nunjucks/src/parser.js'),
    transformer: require('nunjucks/src/transformer.js'),
    compiler: require('nunjucks/src/compiler.js'),
    runtime: require('nunjucks/src/runtime.js'),
  }
}

/** Called by the engine's bundle (build/dist.ts): nunjucks' modules from the bundle, compiled with it. */
export function bundleNunjucks(load: () => Nunjucks): void {
  loadNunjucks = load
}

/**
 * nunjucks' modules, loaded when the first template is compiled (their CommonJS costs ~10 ms: a run whose
 * playbook and inventory hold no template reaches its first connection without them); the compiled code's
 * runtime gets nunjucks' own functions under ours then.
 */
function nj(): Nunjucks {
  if (nunjucks) return nunjucks
  nunjucks = loadNunjucks()
  const base = nunjucks.runtime.Frame
  /** Jinja's scopes: a `{% set %}` inside a loop or macro stays there (nunjucks would write to the outer one). */
  class Frame extends base {
    push(): Frame {
      return new (Frame as unknown as new (parent: Frame, isolateWrites: boolean) => Frame)(this, true)
    }
  }
  for (const [name, value] of Object.entries(nunjucks.runtime)) if (!Object.hasOwn(runtime, name)) runtime[name] = value
  runtime.Frame = Frame
  return nunjucks
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
  /** How filters read attributes (selectattr, map, extract...): as the template does. */
  member(obj: unknown, key: unknown, what: string): unknown {
    return runtime.memberLookup(obj, key, what)
  }
  getVariables(): Record<string, unknown> {
    return this.ctx
  }
  addExport(name: string): void {
    this.exported.push(name)
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
  const compiler = Object.assign(new (nj().compiler.Compiler)('template', false), pythonCompiler)
  try {
    compiler.compile(nj().transformer.transform(ast, []), null)
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
  const parser = new (nj().parser.Parser)(nj().lexer.lex(source, { trimBlocks: true })) as unknown as Parser
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
    if (tok.type === 'left-paren') node = new (nj().nodes.FunCall)(tok.lineno, tok.colno, node, this.parseSignature())
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
      node = new (nj().nodes.LookupVal)(tok.lineno, tok.colno, node, key)
    } else if (tok.type === 'operator' && tok.value === '.') {
      this.nextToken()
      // `a.0.1` lexes as a . 0.1 and `a.0.b` as a . 0. b: numbers split into lookups.
      for (let name = this.nextToken(), more = true; more; ) {
        if (!name || (name.type !== 'symbol' && name.type !== 'int' && !/^\d+\.\d*$/.test(name.value)))
          this.fail(`expected a name after ".", got ${name?.value ?? 'the end'}`, name?.lineno, name?.colno)
        const parts = name.type === 'symbol' ? [name.value] : name.value.split('.')
        for (const part of parts.filter((p) => p !== ''))
          node = new (nj().nodes.LookupVal)(
            tok.lineno,
            tok.colno,
            node,
            new (nj().nodes.Literal)(name.lineno, name.colno, name.type === 'symbol' ? part : Number(part)),
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
  const frame = new runtime.Frame!()
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
      baseFor().call(this, node, frame)
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
    baseCompile().call(this, node, frame)
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

const baseCompile = () => (nj().compiler.Compiler.prototype as Emitter).compile
const baseFor = () =>
  (nj().compiler.Compiler.prototype as unknown as { compileFor: (node: Node, frame: unknown) => void }).compileFor
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
      at(
        /^\d/.test(String(node.value))
          ? `the number ${String(node.value)}: exponents are not supported by this engine (write it out)`
          : `${JSON.stringify(node.value)} is not a valid name`,
      )
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

// nunjucks' runtime and the Frame class are added by nj(), before any code is compiled.
const runtime: Record<string, unknown> & {
  Frame?: FrameClass
  memberLookup(o: unknown, k: unknown, b: string): unknown
} = {
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
    const value = getattr(obj, key, what)
    const scope = obj !== null && typeof obj === 'object' ? scopes.get(obj) : undefined
    return scope && !(value instanceof Undefined) ? expand(value, scope, 0, what) : value
  },
  callWrap(fn: unknown, name: string, context: Context, args: unknown[]): unknown {
    if (fn instanceof Undefined) fn.fail()
    if (typeof fn !== 'function') throw new TemplateError(`${name} is not callable`)
    const result = (fn as (...a: unknown[]) => unknown).apply(context, args)
    return result instanceof nj().runtime.SafeString ? String(result) : result
  },
  suppressValue(value: unknown): string {
    // Ansible's finalize: None prints as ''.
    if (value === null || value === undefined) return ''
    if (value instanceof nj().runtime.SafeString) return String(value)
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

// ---- values -------------------------------------------------------------------------------------------------

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

/** The names every template sees: Jinja's functions, Python's constants, Ansible's omit. */
const globals: Record<string, unknown> = { ...functions, True: true, False: false, None: null, omit }
