// Ansible's INI inventory, ported from ansible-core 2.14's plugins/inventory/ini.py line by line: the same
// sections ([g], [g:children], [g:vars]), the same order of adding hosts, groups and children (a child named
// before its own section is added when that section comes), the same value typing: a value is a string
// unless Python's ast.literal_eval reads it (`1` is an int, `'1'` in [g:vars] is the string "1", `[1, 2]` a
// list, `True` a boolean; `yes` and `true` stay strings), after shlex has split a host line (so
// `h1 x='1'` gives the int 1, as in Ansible). Errors name the file and line, as Ansible's do.
//
// Where we differ, on purpose: a variable with an empty name (`= 1`), and values Python reads as a set,
// a complex number or an unhashable dict key (Ansible fails later, or prints invalid JSON), are errors here.
import { expandHostPattern } from './host-pattern.ts'
import type { Builder, Origin, Source } from './inventory.ts'
import { InputError, PyFloat } from './util.ts'

/** The INI file as a source of places: a path is [line, column]. */
function iniSource(file: string): Source {
  return {
    file,
    locate: (path) => ({ line: Number(path[0] ?? 0), column: Number(path[1] ?? 1) }),
    fail: (path, reason) => {
      throw new InputError(reason, file, Number(path[0] ?? 0), Number(path[1] ?? 1))
    },
  }
}

const section = /^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$/u
const groupName = /^([^:\]\s]+)\s*(?:#.*)?$/u

/** ini.py InventoryModule._parse: adds the file's hosts, groups and vars to `builder`. */
export function parseIni(text: string, file: string, builder: Builder): void {
  const source = iniSource(file)
  const lines = text.split(/\r\n|\r|\n/)
  if (lines.at(-1) === '') lines.pop()
  const pending = new Map<string, { line: number; state: string; name: string; parents: string[] }>()
  let group = 'ungrouped'
  let state = 'hosts'
  lines.forEach((raw, i) => {
    const lineno = i + 1
    const at = (column = 1): Origin => ({ source, path: [lineno, column] })
    const fail = (reason: string): never => source.fail([lineno, 1], reason)
    const line = raw.trim()
    if (!line || line[0] === ';' || line[0] === '#') return
    const m = section.exec(line)
    if (m) {
      group = m[1]!
      state = m[2] ?? 'hosts'
      if (!['hosts', 'children', 'vars'].includes(state))
        fail(`section [${m[1]}:${m[2]}] has unknown type "${state}": expected hosts, children or vars`)
      if (!builder.groups.has(group)) {
        // [g:vars] is allowed only for a group declared elsewhere: noted, and checked at the end.
        if (state === 'vars' && !pending.has(group))
          pending.set(group, { line: lineno, state, name: group, parents: [] })
        builder.group(group)
      }
      const p = pending.get(group)
      if (p && state !== 'vars') {
        if (p.state === 'children') addPending(group)
        else pending.delete(group)
      }
      return
    }
    if (line.startsWith('[') && line.endsWith(']'))
      fail(`invalid section "${line}": expected [group], [group:children] or [group:vars], without spaces`)
    if (state === 'hosts') {
      let tokens: string[]
      try {
        tokens = shlexSplit(line)
      } catch (e) {
        return fail(`cannot parse the host line "${line}": ${(e as Error).message}`)
      }
      const pattern = tokens[0]!
      if (pattern === '') fail('a host name cannot be empty')
      const { names, port } = expandHostPattern(pattern, fail)
      if (pattern.trim().endsWith(':') && port === undefined)
        fail(`invalid host pattern "${pattern}": a trailing ":" is reserved for a port`)
      if (names.some((n) => n.trim() === '---'))
        fail(`invalid host pattern "${pattern}": "---" starts a YAML document, not a host`)
      const vars: [string, unknown][] = []
      for (const t of tokens.slice(1)) {
        const eq = t.indexOf('=')
        if (eq < 0) fail(`expected key=value after the host name, got "${t}"`)
        const name = t.slice(0, eq)
        if (!name) fail(`expected key=value after the host name, got "${t}": the name is empty`)
        vars.push([name, parseValue(t.slice(eq + 1), fail)])
      }
      for (const name of names) {
        builder.host(name, group, port, at())
        for (const [k, v] of vars) builder.setVar(builder.hosts.get(name)!, k, v, at(raw.indexOf(k) + 1))
      }
    } else if (state === 'vars') {
      const eq = line.indexOf('=')
      if (eq < 0) fail(`expected key=value, got "${line}"`)
      const name = line.slice(0, eq).trim()
      if (!name) fail(`expected key=value, got "${line}": the name is empty`)
      builder.setVar(builder.groups.get(group)!, name, parseValue(line.slice(eq + 1).trim(), fail), at())
    } else {
      const child = groupName.exec(line)?.[1]
      if (!child) return fail(`expected a group name, got "${line}"`)
      if (!builder.groups.has(child)) {
        const p = pending.get(child)
        if (!p) pending.set(child, { line: lineno, state, name: child, parents: [group] })
        else p.parents.push(group)
      } else builder.child(group, child, at())
    }
  })
  // ini.py reports the first unresolved reference only; so do we.
  for (const p of pending.values()) {
    if (p.state === 'vars') source.fail([p.line], `section [${p.name}:vars] is for a group that is never declared`)
    source.fail([p.line], `section [${p.parents.at(-1)}:children] names a group that is never declared: ${p.name}`)
  }

  function addPending(child: string): void {
    const p = pending.get(child)!
    for (const parent of p.parents) {
      builder.child(parent, child, { source, path: [p.line, 1] })
      if (pending.get(parent)?.state === 'children') addPending(parent)
    }
    pending.delete(child)
  }
}

/** ini.py _parse_value: what ast.literal_eval makes of it, else the string itself. */
export function parseValue(v: string, fail: (reason: string) => never): unknown {
  let value: unknown
  try {
    value = literalEval(v)
  } catch (e) {
    if (e instanceof NotLiteral) return v
    if (e instanceof Unsupported) value = e
    else throw e
  }
  if (value instanceof Unsupported)
    fail(`Python reads the value ${v} as ${value.what}, which Ansible cannot use as a variable: quote it`)
  return value
}

// ---------------------------------------------------------------------------------------------------------
// shlex.split(s, comments=True) in POSIX mode (Python's shlex.py read_token, whitespace_split=True).

export function shlexSplit(s: string): string[] {
  const tokens: string[] = []
  let token = ''
  let quoted = false
  let state: ' ' | 'a' | "'" | '"' = ' '
  let inToken = false
  const emit = () => {
    if (inToken) tokens.push(token)
    token = ''
    quoted = false
    inToken = false
  }
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!
    if (state === "'" || state === '"') {
      if (c === state) state = 'a'
      else if (c === '\\' && state === '"') {
        const next = s[++i]
        if (next === undefined) throw new Error('no closing quotation')
        token += next === '"' || next === '\\' ? next : `\\${next}`
      } else token += c
      continue
    }
    if (' \t\r\n'.includes(c)) {
      state = ' '
      emit()
    } else if (c === '#') {
      break // the rest of the line is a comment, in a word too
    } else if (c === '\\') {
      const next = s[++i]
      if (next === undefined) throw new Error('no escaped character')
      token += next
      inToken = true
      state = 'a'
    } else if (c === "'" || c === '"') {
      state = c
      quoted = true
      inToken = true
    } else {
      token += c
      inToken = true
      state = 'a'
    }
  }
  if (state === "'" || state === '"') throw new Error('no closing quotation')
  if (inToken || quoted) emit()
  return tokens
}

// ---------------------------------------------------------------------------------------------------------
// ast.literal_eval(s): Python 3.11's expression grammar, as far as literals go. Anything Python would not
// parse, or parses into something that is not a literal, is NotLiteral (the caller keeps the string).

class NotLiteral extends Error {}
/** A literal Python accepts that has no JSON form. */
class Unsupported {
  constructor(readonly what: string) {}
}

type Tok =
  | { t: 'num'; v: number | PyFloat; imag?: boolean }
  | { t: 'str'; v: string; bytes: boolean }
  | { t: 'name'; v: string }
  | { t: 'op'; v: string }
  | { t: 'end' }

const notLiteral = (): never => {
  throw new NotLiteral()
}

function tokenize(s: string): Tok[] {
  const toks: Tok[] = []
  let i = 0
  let depth = 0
  while (i < s.length) {
    const c = s[i]!
    if (c === ' ' || c === '\t' || c === '\f') {
      i++
      continue
    }
    if (c === '\\' && s[i + 1] === '\n') {
      i += 2
      continue
    }
    if (c === '#') {
      while (i < s.length && s[i] !== '\n' && s[i] !== '\r') i++
      continue
    }
    if (c === '\n' || c === '\r') {
      if (depth === 0) {
        // Only blank lines and comments may follow the expression.
        if (!/^(?:[ \t\f]*(?:#[^\n]*)?[\r\n]?)*$/.test(s.slice(i))) notLiteral()
        break
      }
      i++
      continue
    }
    const str = /^([rRbBuU]|[rR][bB]|[bB][rR])?('''|"""|'|")/.exec(s.slice(i))
    if (str && (str[1] !== undefined || c === "'" || c === '"')) {
      const prefix = (str[1] ?? '').toLowerCase()
      const quote = str[2]!
      let j = i + str[0].length
      let body = ''
      for (;;) {
        if (j >= s.length) notLiteral()
        if (s.startsWith(quote, j)) break
        if (quote.length === 1 && (s[j] === '\n' || s[j] === '\r')) notLiteral()
        if (s[j] === '\\') {
          if (j + 1 >= s.length) notLiteral()
          body += s.slice(j, j + 2)
          j += 2
        } else body += s[j++]
      }
      const bytes = prefix.includes('b')
      toks.push({ t: 'str', v: prefix.includes('r') ? body : unescape(body, bytes), bytes })
      i = j + quote.length
      continue
    }
    const num =
      /^(?:0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|(?:(?:[0-9](?:_?[0-9])*)?\.[0-9](?:_?[0-9])*|[0-9](?:_?[0-9])*\.?)(?:[eE][-+]?[0-9](?:_?[0-9])*)?[jJ]?)/.exec(
        s.slice(i),
      )
    if (num && num[0] !== '.' && /[0-9]/.test(c + (s[i + 1] ?? ''))) {
      const text = num[0]
      i += text.length
      if (/^[\p{L}\p{N}_.]/u.test(s[i] ?? '')) notLiteral() // 1abc, 1.2.3
      toks.push(number(text))
      continue
    }
    const name = /^[\p{L}_][\p{L}\p{N}_]*/u.exec(s.slice(i))
    if (name) {
      toks.push({ t: 'name', v: name[0] })
      i += name[0].length
      continue
    }
    const op = /^(?:\*\*|\/\/|<<|>>|<=|>=|==|!=|->|:=|[-+*/%@&|^~<>()[\]{},:.;=!])/.exec(s.slice(i))
    if (!op) notLiteral()
    if ('([{'.includes(op![0])) depth++
    if (')]}'.includes(op![0])) depth--
    toks.push({ t: 'op', v: op![0] })
    i += op![0].length
  }
  toks.push({ t: 'end' })
  return toks
}

function number(text: string): Tok {
  const t = text.replace(/_/g, '')
  if (/[jJ]$/.test(t)) return { t: 'num', v: 0, imag: true }
  if (/^0[xX]/.test(t)) return { t: 'num', v: parseInt(t.slice(2), 16) }
  if (/^0[oO]/.test(t)) return { t: 'num', v: parseInt(t.slice(2), 8) }
  if (/^0[bB]/.test(t)) return { t: 'num', v: parseInt(t.slice(2), 2) }
  if (/[.eE]/.test(t)) {
    const n = Number(t)
    return { t: 'num', v: Number.isInteger(n) ? new PyFloat(n) : n }
  }
  if (/^0+[1-9]/.test(t)) notLiteral() // Python 3 has no 0777: a syntax error, so the string stays
  return { t: 'num', v: Number(t) }
}

function unescape(body: string, bytes: boolean): string {
  return body.replace(
    /\\(?:\n|([\\'"abfnrtv])|([0-7]{1,3})|x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|N\{[^}]*\}|(x|u|U)|(.))/gs,
    (all, simple: string, oct: string, hex: string, u4: string, u8: string, badHex: string, other: string) => {
      if (all === '\\\n') return ''
      if (simple)
        return (
          ({ a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' } as Record<string, string>)[simple] ??
          simple
        )
      if (oct) return String.fromCharCode(parseInt(oct, 8))
      if (hex) return String.fromCharCode(parseInt(hex, 16))
      if ((u4 || u8) && !bytes) {
        const cp = parseInt(u4 ?? u8, 16)
        if (cp > 0x10ffff) notLiteral()
        return String.fromCodePoint(cp)
      }
      if (all.startsWith('\\N{')) {
        if (bytes) return all
        throw new Unsupported('a \\N{...} escape')
      }
      if (badHex === 'x' || (!bytes && badHex)) notLiteral() // truncated \x.. / \u....: a syntax error
      return all // an unknown escape keeps its backslash
    },
  )
}

function literalEval(text: string): unknown {
  const toks = tokenize(text.replace(/^[ \t]+/, ''))
  let p = 0
  const peek = () => toks[p]!
  const isOp = (v: string) => {
    const t = peek()
    return t.t === 'op' && t.v === v
  }
  const expect = (v: string) => (isOp(v) ? p++ : notLiteral())

  // A Python expression's atoms and the operators literal_eval accepts; other operators parse but are not
  // literals (NotLiteral either way).
  const atom = (): unknown => {
    const t = toks[p++]!
    if (t.t === 'num') return t.imag ? new Unsupported('a complex number') : t.v
    if (t.t === 'str') {
      let v = t.v
      while (peek().t === 'str') {
        const next = toks[p++] as { v: string; bytes: boolean }
        if (next.bytes !== t.bytes) notLiteral() // b'' 'x' cannot be concatenated
        v += next.v
      }
      return v // bytes are decoded by Ansible's to_text
    }
    if (t.t === 'name') {
      if (t.v === 'True') return true
      if (t.v === 'False') return false
      if (t.v === 'None') return null
      return notLiteral()
    }
    if (t.t === 'op' && t.v === '(') {
      if (isOp(')')) return (p++, [])
      const first = expr()
      if (isOp(')')) return (p++, first)
      const items = [first]
      while (isOp(',')) {
        p++
        if (isOp(')')) break
        items.push(expr())
      }
      expect(')')
      return items
    }
    if (t.t === 'op' && t.v === '[') {
      const items: unknown[] = []
      while (!isOp(']')) {
        items.push(expr())
        if (!isOp(',')) break
        p++
      }
      expect(']')
      return items
    }
    if (t.t === 'op' && t.v === '{') {
      if (isOp('}')) return (p++, {})
      const first = expr()
      if (!isOp(':')) {
        // A set: Python reads it, JSON cannot hold it.
        while (isOp(',')) {
          p++
          if (isOp('}')) break
          expr()
        }
        expect('}')
        void first
        return new Unsupported('a set')
      }
      const object: Record<string, unknown> = {}
      let key = first
      for (;;) {
        expect(':')
        const value = expr()
        if (key !== null && typeof key === 'object' && !(key instanceof PyFloat)) {
          if (Array.isArray(key)) throw new Unsupported('a dict with a list or tuple key')
          throw new Unsupported('a dict with an unhashable key')
        }
        // The key as Python's json.dumps writes it.
        const name = key instanceof PyFloat ? `${key.valueOf()}.0` : key === null ? 'null' : String(key)
        Object.defineProperty(object, name, {
          value,
          enumerable: true,
          writable: true,
          configurable: true,
        })
        if (!isOp(',')) break
        p++
        if (isOp('}')) break
        key = expr()
      }
      expect('}')
      return object
    }
    return notLiteral()
  }
  // Unary minus/plus only on numbers; binary + and - only to make a complex number.
  const unary = (): unknown => {
    if (isOp('-') || isOp('+')) {
      const minus = isOp('-')
      p++
      if (peek().t !== 'num') notLiteral() // -True, --1 and -'x' are not literals
      const v = postfix()
      if (v instanceof Unsupported) return v
      const n = Number(v)
      return minus ? (v instanceof PyFloat ? new PyFloat(-n) : -n) : v
    }
    if (isOp('~') || (peek().t === 'name' && (peek() as { v: string }).v === 'not')) {
      p++
      unary()
      return notLiteral()
    }
    return postfix()
  }
  // Calls, subscripts and attributes parse but are not literals.
  const postfix = (): unknown => {
    const v = atom()
    if (isOp('(') || isOp('[') || isOp('.')) notLiteral()
    return v
  }
  const expr = (): unknown => {
    const left = unary()
    if (isOp('+') || isOp('-')) {
      p++
      const right = unary()
      if (right instanceof Unsupported && typeof left === 'number') return right // 1+2j
      return notLiteral()
    }
    const t = peek()
    if (t.t === 'op' && !['(', ')', '[', ']', '{', '}', ',', ':'].includes(t.v)) notLiteral()
    if (t.t === 'name' || t.t === 'num' || t.t === 'str') notLiteral()
    return left
  }

  const first = expr()
  let result = first
  if (isOp(',')) {
    // `1, 2` is a tuple in eval mode.
    const items = [first]
    while (isOp(',')) {
      p++
      if (peek().t === 'end') break
      items.push(expr())
    }
    result = items
  }
  if (peek().t !== 'end') notLiteral()
  const unsupported = findUnsupported(result)
  return unsupported ?? result
}

function findUnsupported(v: unknown): Unsupported | undefined {
  if (v instanceof Unsupported) return v
  if (Array.isArray(v))
    for (const x of v) {
      const u = findUnsupported(x)
      if (u) return u
    }
  else if (v && typeof v === 'object' && !(v instanceof PyFloat))
    for (const x of Object.values(v)) {
      const u = findUnsupported(x)
      if (u) return u
    }
  return undefined
}
