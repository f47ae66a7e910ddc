// The bottom layer: what every room of the house needs and that needs nothing of the house. Nothing here
// imports a project file (dependency-cruiser checks it in npm test): bad input, Python's values, Ansible's
// booleans, and words for a POSIX shell.

export type Vars = Record<string, unknown>

/** Bad input: the file, where in it, the path of keys that leads there, and what was expected. */
export class InputError extends Error {
  constructor(
    readonly reason: string,
    readonly file: string,
    readonly line = 0,
    readonly column = 0,
    readonly path = '',
  ) {
    super(`${file}${line ? `:${line}:${column}` : ''}: ${path ? `${path}: ` : ''}${reason}`)
    this.name = 'InputError'
  }
}

// ---- Python's values, as Ansible holds them ---------------------------------------------------------------

/**
 * A float that is a whole number (YAML's `1.0`): JavaScript has one number type, Python prints 1.0 and 1
 * differently. YAML floats and float literals in templates are made PyFloat when whole; everything else
 * sees its number (`plain`).
 */
export class PyFloat {
  constructor(readonly value: number) {}
  valueOf(): number {
    return this.value
  }
  toJSON(): number {
    return this.value
  }
}

/** A value with PyFloats made numbers again, deeply (for task args and anything outside templates). */
export function plain(value: unknown): unknown {
  if (value instanceof PyFloat) return value.value
  if (Array.isArray(value)) return value.map(plain)
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]))
  return value
}

/** What a value is, for "expected X, got Y" messages. */
export function describe(value: unknown): string {
  if (value === null || value === undefined) return 'nothing'
  if (Array.isArray(value)) return 'a list'
  if (typeof value === 'object') return 'a mapping'
  if (typeof value === 'string')
    return `a string (${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)})`
  return `a ${typeof value} (${String(value)})`
}

/** Defines a key on an object: `__proto__` is a fine variable name, and plain assignment would not store it. */
export function define(object: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true })
}

// ---- Ansible's booleans -----------------------------------------------------------------------------------

const booleansTrue = new Set(['y', 'yes', 'on', '1', 'true', 't'])
const booleansFalse = new Set(['n', 'no', 'off', '0', 'false', 'f'])

/**
 * ansible.module_utils.parsing.convert_bool.boolean, what Ansible uses for connection vars (ansible_become),
 * module args of type bool and keywords: true for true, 1, 1.0 and y/yes/on/1/true/t in any case, false for
 * their opposites; anything else is false, or undefined when `strict` (the caller says what was expected).
 */
export function ansibleBoolean(value: unknown, strict: true): boolean | undefined
export function ansibleBoolean(value: unknown, strict?: false): boolean
export function ansibleBoolean(value: unknown, strict = false): boolean | undefined {
  if (typeof value === 'boolean') return value
  const key =
    typeof value === 'number' || value instanceof PyFloat
      ? String(Number(value))
      : typeof value === 'string'
        ? value.trim().toLowerCase()
        : undefined
  if (key !== undefined && booleansTrue.has(key)) return true
  if (key !== undefined && booleansFalse.has(key)) return false
  return strict ? undefined : false
}

/**
 * The Jinja filter `bool` (ansible/plugins/filter/core.py to_bool), which is another function: None stays
 * None; 'yes', 'on', '1', 'true' (any case) and the number 1 are true; everything else, 'y' and 't' included,
 * is false.
 */
export function jinjaBool(value: unknown): boolean | null {
  if (value === null || value === undefined) return null
  if (typeof value === 'boolean') return value
  if (typeof value === 'number' || value instanceof PyFloat) return Number(value) === 1
  if (typeof value === 'string') return ['yes', 'on', '1', 'true'].includes(value.toLowerCase())
  return false
}

// ---- words for a POSIX shell ------------------------------------------------------------------------------

/**
 * Quotes a word for the remote shell: POSIX single quotes, since the login shell of a host may be dash or sh.
 * (zx's own quote() emits bash's $'...' form, which dash reads as a literal `$` — so it is not used remotely.)
 */
export function quote(word: string): string {
  return isBareWord(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`
}

const bareWord = /[A-Za-z0-9_@%+=:,./-]+/.source
const quotedWord = `(?:${bareWord}|'(?:[^']|'\\\\'')*')` // quote()'s: bare, or single quotes with '\'' inside
const bareWordOnly = new RegExp(`^${bareWord}$`)
const quotedWordOnly = new RegExp(`^${quotedWord}$`)
const quotedLine = new RegExp(`^${quotedWord}(?: ${quotedWord})*$`)

/** A word the shell reads as itself without quotes: quote() leaves it bare. */
const isBareWord = (word: string): boolean => bareWordOnly.test(word)

/** One word as quote() writes it. */
export const isQuotedWord = (word: string): boolean => quotedWordOnly.test(word)

/** Words as quote() writes them, one space apart: a line in which the shell expands nothing. */
export const isQuotedLine = (line: string): boolean => quotedLine.test(line)

/** Splits a command line into words like sh (quotes and backslashes), without expanding anything. */
export function splitWords(line: string): string[] {
  const words: string[] = []
  let word: string | undefined
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!
    if (/\s/.test(c)) {
      if (word !== undefined) words.push(word)
      word = undefined
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1)
      if (end < 0) throw new Error(`unterminated ' in: ${line}`)
      word = (word ?? '') + line.slice(i + 1, end)
      i = end
    } else if (c === '"') {
      word ??= ''
      for (i++; line[i] !== '"'; i++) {
        if (i >= line.length) throw new Error(`unterminated " in: ${line}`)
        if (line[i] === '\\' && '"\\$`'.includes(line[i + 1] ?? '')) i++
        word += line[i]
      }
    } else if (c === '\\') word = (word ?? '') + (line[++i] ?? '')
    else word = (word ?? '') + c
  }
  if (word !== undefined) words.push(word)
  return words
}

// --- Python's re, as far as playbooks reach it ---------------------------------------------------------

/**
 * Python's fnmatch.translate, case-sensitive as on POSIX: `*`, `?`, `[seq]`, `[!seq]`; the rest is literal. For
 * with_fileglob's names and apt's `name=VERSION` wildcards.
 */
export function fnmatchRegExp(pattern: string): RegExp {
  let re = ''
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!
    if (c === '*') re += '.*'
    else if (c === '?') re += '.'
    else if (c === '[') {
      // As Python finds the end: a ']' first in the set (after a '!') belongs to it.
      let j = i + 1
      if (pattern[j] === '!') j++
      if (pattern[j] === ']') j++
      while (j < pattern.length && pattern[j] !== ']') j++
      if (j >= pattern.length) re += '\\['
      else {
        let body = pattern.slice(i + 1, j).replace(/[\\\]]/g, '\\$&')
        if (body[0] === '!') body = `^${body.slice(1)}`
        else if (body[0] === '^') body = `\\${body}`
        re += `[${body}]`
        i = j
      }
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
  }
  return new RegExp(`^(?:${re})$`, 's')
}

/**
 * A Python regular expression as a JavaScript one: named groups (?P<name>...) and (?P=name), \A and \Z;
 * inline flags at the start ((?i), (?m), (?s)) become flags. A pattern JavaScript cannot compile throws an
 * Error naming the pattern. (Python's \d and \w also match non-ASCII digits and letters; JavaScript's do not.)
 */
export function pyRegExp(pattern: string, flags = ''): RegExp {
  let source = pattern.replace(/\(\?P</g, '(?<').replace(/\(\?P=(\w+)\)/g, '\\k<$1>')
  const inline = /^\(\?([aiLmsux]+)\)/.exec(source)
  if (inline) {
    source = source.slice(inline[0].length)
    for (const f of inline[1]!) if ('ims'.includes(f) && !flags.includes(f)) flags += f
  }
  // Python's \Z is the very end (JavaScript's $ without m); \A the very start.
  source = source.replace(/\\Z/g, '(?![\\s\\S])').replace(/\\A/g, '(?<![\\s\\S])')
  try {
    return new RegExp(source, flags)
  } catch (e) {
    throw new Error(`bad regular expression ${JSON.stringify(pattern)}: ${(e as Error).message}`)
  }
}

/** Python's match.expand(template): \1..\99, \g<1>, \g<name>, and the escapes \n \t \\ \r. */
export function pyExpand(template: string, match: RegExpExecArray): string {
  return template.replace(/\\(?:g<(\w+)>|(\d{1,2})|([ntr\\]))/g, (all, name?: string, num?: string, esc?: string) => {
    if (esc) return { n: '\n', t: '\t', r: '\r', '\\': '\\' }[esc]!
    const key = name ?? num!
    const value = /^\d+$/.test(key) ? match[Number(key)] : match.groups?.[key]
    if (value === undefined && !(/^\d+$/.test(key) && Number(key) < match.length))
      throw new Error(`invalid group reference ${all}`)
    return value ?? ''
  })
}

// ---- modules found at run time ----------------------------------------------------------------------------

let importer = (specifier: string): Promise<unknown> => import(specifier)

/**
 * import() of a module known at run time only (a -M task, tsx, zx). The engine's bundle, compiled from V8's
 * code cache by bin/deploy.js, cannot import() itself on Node 20 (a script from the cache loses its import
 * callback): the launcher hands it its own import() with setModuleImporter.
 */
export function importModule<T>(specifier: string): Promise<T> {
  return importer(specifier) as Promise<T>
}

/** How importModule imports (bin/deploy.js: its own import()). */
export function setModuleImporter(f: (specifier: string) => Promise<unknown>): void {
  importer = f
}
