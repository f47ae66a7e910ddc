// YAML as Ansible reads it (PyYAML's YAML 1.1 rules), with the line and column of every key and value for
// errors, and the JSON Schema helpers that turn an ajv error into "file:line: path: expected X, got Y".
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import type { Ajv, ErrorObject, Options, ValidateFunction } from 'ajv'
import {
  LineCounter,
  parseDocument,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  type Document,
  type Node,
  type ScalarTag,
  type YAMLMap,
  type YAMLSeq,
} from 'yaml'
import { describe, InputError, PyFloat } from './util.ts'

// YAML as PyYAML reads it, remembering where every key and value came from.

export type Path = (string | number)[]

interface Where {
  key: Node | null
  value: Node | null
}

/** A parsed YAML file: plain JS value, plus the way back from any path to a line and column. */
export interface Yaml {
  file: string
  value: unknown
  /** Line and column of the value at `path` (or of its key), or of the nearest ancestor that exists. */
  locate(path: Path, at?: 'key' | 'value'): { line: number; column: number }
  /** Keys that were not strings in the YAML (`12:`, `true:`), by the object holding them. */
  nonStringKey(object: object, key: string): string | undefined
  /** Keys of `object` in the YAML's order (JS objects put integer-like keys first). */
  keys(object: object): string[]
  fail(path: Path, reason: string, at?: 'key' | 'value'): never
}

// PyYAML's implicit resolvers (yaml/resolver.py) and constructors (yaml/constructor.py), which differ from
// the `yaml` package's YAML 1.1 schema: no y/n booleans, `1e3` is a string, `09` is a string, and so on.
const yaml11 = 'tag:yaml.org,2002:'
const pyTags: ScalarTag[] = [
  {
    tag: `${yaml11}null`,
    default: true,
    identify: (v) => v === null,
    test: /^(?:~|null|Null|NULL)?$/,
    resolve: () => null,
  },
  {
    tag: `${yaml11}bool`,
    default: true,
    identify: (v) => typeof v === 'boolean',
    test: /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/,
    resolve: (s) => /^(?:yes|true|on)$/i.test(s),
  },
  {
    tag: `${yaml11}int`,
    default: true,
    identify: (v) => typeof v === 'number' && Number.isInteger(v),
    test: /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/,
    resolve: (s) => {
      let v = s.replace(/_/g, '')
      const sign = v[0] === '-' ? -1 : 1
      if ('+-'.includes(v[0]!)) v = v.slice(1)
      if (v === '0') return 0
      if (v.startsWith('0b')) return sign * parseInt(v.slice(2), 2)
      if (v.startsWith('0x')) return sign * parseInt(v.slice(2), 16)
      if (v[0] === '0') return sign * parseInt(v, 8)
      if (v.includes(':')) return sign * v.split(':').reduce((n, d) => n * 60 + Number(d), 0)
      return sign * Number(v)
    },
  },
  {
    tag: `${yaml11}float`,
    default: true,
    identify: (v) => typeof v === 'number',
    test: /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/,
    resolve: (s) => {
      let v = s.replace(/_/g, '').toLowerCase()
      const sign = v[0] === '-' ? -1 : 1
      if ('+-'.includes(v[0]!)) v = v.slice(1)
      if (v === '.inf') return sign * Infinity
      if (v === '.nan') return NaN
      const n = sign * (v.includes(':') ? v.split(':').reduce((n, d) => n * 60 + Number(d), 0) : Number(v))
      // A whole float keeps being a float (Python prints 1.0), see template.ts's PyFloat.
      return Number.isInteger(n) ? (new PyFloat(n) as unknown as number) : n
    },
  },
  {
    // Ansible prints dates with Python's isoformat(); keeping that string is all the engine needs.
    tag: `${yaml11}timestamp`,
    default: true,
    identify: () => false,
    test: /^(?:[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)$/,
    resolve: (s, onError) => isoformat(s) ?? (onError(`not a valid date: ${s}`), s),
  },
]

function isoformat(s: string): string | undefined {
  const m =
    /^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:(?:[Tt]|[ \t]+)([0-9]{1,2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]*))?(?:[ \t]*(Z|([-+])([0-9]{1,2})(?::([0-9]{2}))?))?)?$/.exec(
      s,
    )!
  const [, y, mo, d, h, mi, sec, frac, tz, sign, tzh, tzm] = m
  const pad = (n: string | undefined, w = 2) => (n ?? '0').padStart(w, '0')
  const date = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)))
  if (date.getUTCMonth() !== Number(mo) - 1 || date.getUTCDate() !== Number(d)) return undefined
  if (Number(h) > 23 || Number(mi) > 59 || Number(sec) > 59) return undefined
  let out = `${y}-${pad(mo)}-${pad(d)}`
  if (h === undefined) return out
  out += `T${pad(h)}:${mi}:${sec}`
  const micro = (frac ?? '').slice(0, 6).padEnd(6, '0')
  if (Number(micro)) out += `.${micro}`
  if (sign) out += `${sign}${pad(tzh)}:${pad(tzm)}`
  else if (tz) out += '+00:00'
  return out
}

const ours = new Set(pyTags.map((t) => t.tag))

/** How vault texts are opened: src/vault.ts installs the run's secrets (this layer imports nothing of the
 * engine); until then every vault text is refused. */
export interface VaultHook {
  decrypt(text: string): { ok: true; value: string } | { ok: false; reason: string }
  /** Called with a whole decrypted file's value: all of it is secret. */
  secret(value: unknown): void
}
let vault: VaultHook = {
  decrypt: () => ({
    ok: false,
    reason:
      'this is vault-encrypted and no vault secret was given: use --vault-password-file, --vault-id or --ask-vault-pass',
  }),
  secret: () => {},
}
export function setVaultHook(hook: VaultHook): void {
  vault = hook
}

// `!vault |` values: decrypted with the run's vault secrets, or an error at their line.
const vaultTag: ScalarTag = {
  tag: '!vault',
  identify: () => false,
  resolve: (text, onError) => {
    const r = vault.decrypt(text)
    if (!r.ok) return (onError(`!vault: ${r.reason}`), text)
    if (r.value.trim().length < 4)
      return (
        onError('!vault: the decrypted value is shorter than 4 characters, too short to keep out of the output'),
        text
      )
    return r.value
  },
}

/** Parses one YAML document the way Ansible's loader would; any YAML error is an InputError. */
export function parseYaml(text: string, file: string): Yaml {
  // A file encrypted whole by ansible-vault: its plaintext is read, and all of it is secret.
  const whole = /^\s*\$ANSIBLE_VAULT;/.test(text)
  if (whole) {
    const r = vault.decrypt(text)
    if (!r.ok) throw new InputError(r.reason, file, 1, 1)
    text = r.value
  }
  const { doc, lineCounter } = parseChecked(text, file)
  const converter = new Converter(doc, lineCounter, file)
  const fail: (path: Path, reason: string, where?: 'key' | 'value') => never = (path, reason, where = 'value') => {
    const { line, column } = yaml.locate(path, where)
    throw new InputError(reason, file, line, column, path.join('.'))
  }
  const yaml: Yaml = {
    file,
    value: null,
    locate(path, where = 'value') {
      let node: Node | null = (doc.contents as Node | null) ?? null
      let value: unknown = yaml.value
      for (const [i, segment] of path.entries()) {
        const place = value && typeof value === 'object' ? converter.places.get(value)?.get(String(segment)) : undefined
        if (!place) break
        node = (i === path.length - 1 && where === 'key' ? place.key : (place.value ?? place.key)) ?? node
        value = (value as Record<string, unknown>)[String(segment)]
      }
      return converter.at(node)
    },
    nonStringKey: (object, key) => converter.nonString.get(object)?.get(key),
    keys: (object) => [...(converter.places.get(object)?.keys() ?? Object.keys(object))],
    fail,
  }
  yaml.value = converter.convert(doc.contents, [])
  if (whole) vault.secret(yaml.value)
  return yaml
}

/** The document, or an InputError at the first syntax error or unsupported tag. */
function parseChecked(text: string, file: string): { doc: Document.Parsed; lineCounter: LineCounter } {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, {
    version: '1.1',
    merge: true,
    uniqueKeys: false, // checked in convert(), which knows the path and the first occurrence
    lineCounter,
    prettyErrors: false,
    customTags: (tags) => [...tags.filter((t) => typeof t !== 'object' || !ours.has(t.tag)), ...pyTags, vaultTag],
  })
  // Unknown tags would be read as plain text: a !vault value would be used as ciphertext, an !unsafe one
  // templated. Both are refused.
  const tag = doc.warnings.find((w) => w.code === 'TAG_RESOLVE_FAILED')
  if (tag) {
    const { line, col } = lineCounter.linePos(tag.pos[0])
    const name = /Unresolved tag: (\S+)/.exec(tag.message)?.[1] ?? 'this tag'
    throw new InputError(
      `${name} is not supported by this engine${name === '!vault' ? ' (vault-encrypted values cannot be decrypted here)' : ''}`,
      file,
      line,
      col,
    )
  }
  const error = doc.errors[0]
  if (error) {
    let offset = error.pos[0]
    let reason = error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')
    const quote = /^Missing closing (["'])quote/.exec(reason)?.[1]
    if (quote && text.lastIndexOf(quote, offset - 1) >= 0) {
      // Reported at the end of the file; the quote that opened the string is the useful place.
      offset = text.lastIndexOf(quote, offset - 1)
      reason = `the string opened by ${quote} here is never closed`
    }
    const { line, col } = lineCounter.linePos(offset)
    throw new InputError(reason, file, line, col)
  }
  return { doc: doc as Document.Parsed, lineCounter }
}

/** YAML nodes to plain values, as PyYAML constructs them, remembering where each key and value came from. */
class Converter {
  readonly places = new WeakMap<object, Map<string, Where>>()
  readonly nonString = new WeakMap<object, Map<string, string>>()
  private budget = 1_000_000 // aliases can make a small file huge ("billion laughs")
  private active = new Set<Node>()

  constructor(
    private doc: Document.Parsed,
    private lineCounter: LineCounter,
    private file: string,
  ) {}

  at(node: Node | null | undefined): { line: number; column: number } {
    const { line, col } = this.lineCounter.linePos(node?.range?.[0] ?? 0)
    return { line, column: col }
  }

  // Errors found while converting: the value does not exist yet, so the node itself gives the place.
  private failAt(node: unknown, path: Path, reason: string): never {
    const { line, column } = this.at(node as Node)
    throw new InputError(reason, this.file, line, column, path.join('.'))
  }

  convert(node: unknown, path: Path): unknown {
    if (--this.budget < 0) this.failAt(node, path, 'too many values once aliases are expanded')
    if (isAlias(node)) {
      const target = node.resolve(this.doc)
      if (!target) return this.failAt(node, path, `unknown alias *${node.source}`)
      if (this.active.has(target)) this.failAt(node, path, `alias *${node.source} contains itself`)
      return this.convert(target, path)
    }
    if (isScalar(node)) return node.value
    if (!isSeq(node) && !isMap(node)) return node ?? null // an empty document
    this.active.add(node)
    try {
      return isSeq(node) ? this.convertSeq(node, path) : this.convertMap(node, path)
    } finally {
      this.active.delete(node)
    }
  }

  private convertSeq(node: YAMLSeq, path: Path): unknown[] {
    const list: unknown[] = []
    const where = new Map<string, Where>()
    this.places.set(list, where)
    node.items.forEach((item, i) => {
      where.set(String(i), { key: null, value: item as Node })
      list.push(this.convert(item, [...path, i]))
    })
    return list
  }

  private convertMap(node: YAMLMap, path: Path): Record<string, unknown> {
    const object: Record<string, unknown> = {}
    const where = new Map<string, Where>()
    const odd = new Map<string, string>()
    this.places.set(object, where)
    this.nonString.set(object, odd)
    const set = (key: string, value: unknown, place: Where) => {
      if (!where.has(key)) where.set(key, place)
      else where.get(key)!.value = place.value
      Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true })
    }
    // PyYAML puts merged keys first (later merge sources and then explicit keys override them).
    const explicit: [Node, Node | null][] = []
    for (const pair of node.items) {
      const key = pair.key as Node
      if (isScalar(key) && typeof key.value === 'symbol') {
        for (const [k, v, w, kind] of this.merged(pair.value, pair.key, path)) {
          set(k, v, w)
          if (kind) odd.set(k, kind)
        }
      } else explicit.push([key, pair.value as Node | null])
    }
    const first = new Map<string, Node>()
    for (const [keyNode, valueNode] of explicit) {
      const key = isAlias(keyNode) ? keyNode.resolve(this.doc) : keyNode
      if (!isScalar(key))
        return this.failAt(keyNode, path, 'a mapping key must be a plain value, not a list or mapping')
      const raw = key.value
      const name = raw === null ? 'null' : String(raw)
      if (first.has(name)) {
        const { line, column } = this.at(keyNode)
        throw new InputError(
          `duplicate key "${name}" (first at line ${this.at(first.get(name)).line})`,
          this.file,
          line,
          column,
          [...path, name].join('.'),
        )
      }
      first.set(name, keyNode)
      if (typeof raw !== 'string') odd.set(name, raw === null ? 'null' : typeof raw)
      set(name, this.convert(valueNode, [...path, name]), { key: keyNode, value: valueNode })
    }
    return object
  }

  /** The entries a merge key (<<) brings, in the order PyYAML applies them. */
  private merged(value: unknown, keyNode: unknown, path: Path): [string, unknown, Where, string | undefined][] {
    const sources = isAlias(value) ? value.resolve(this.doc) : value
    const list = isSeq(sources) ? [...sources.items].reverse() : [sources]
    const entries: [string, unknown, Where, string | undefined][] = []
    for (const source of list) {
      const merged = this.convert(source, path)
      if (!merged || typeof merged !== 'object' || Array.isArray(merged))
        this.failAt(keyNode, path, 'a merge key (<<) takes a mapping or a list of mappings')
      for (const [k, w] of this.places.get(merged)!)
        entries.push([k, (merged as Record<string, unknown>)[k], w, this.nonString.get(merged)?.get(k)])
    }
    return entries
  }
}

// Schema

/**
 * The ajv options of the project's validators: input files checked to the first error or to all of them, and
 * task args (every error, defaults filled in).
 */
export const schemaPresets = {
  first: { allErrors: false, verbose: true, strict: true, allowUnionTypes: true },
  all: { allErrors: true, verbose: true, strict: true, allowUnionTypes: true },
  args: {
    allErrors: true,
    verbose: true,
    strict: true,
    strictRequired: false,
    allowUnionTypes: true,
    useDefaults: true,
  },
} satisfies Record<string, Options>
export type SchemaPreset = keyof typeof schemaPresets

/**
 * The validators src/schemas/ gives: a file's whole schema, or one of its definitions (`pointer`, as
 * "/definitions/tasks": a file of tasks). The build compiles each with both input-file presets.
 */
export const schemaFiles: { name: string; pointer?: string }[] = [
  { name: 'inventory.schema.json' },
  { name: 'playbook.schema.json' },
  { name: 'playbook.schema.json', pointer: '/definitions/tasks' },
]

const require = createRequire(import.meta.url)
let precompiled: Record<string, () => ValidateFunction> | undefined
// Running from the sources, none: each schema is compiled.
let loadPrecompiled = (): Record<string, () => ValidateFunction> => ({})

/** Called by the engine's bundle (build/dist.ts): the precompiled validators are in the bundle. */
export function bundleValidators(load: () => Record<string, () => ValidateFunction>): void {
  loadPrecompiled = load
}

/** Which validator a schema compiles to under a preset: the key of the build's precompiled ones. */
export function schemaKey(schema: object, preset: SchemaPreset): string {
  return `${preset}-${createHash('sha1').update(JSON.stringify(schema)).digest('hex')}`
}

/**
 * A JSON Schema's validator, made on first call: the one `npm run build` compiled for the same schema and preset
 * (in the bundle, dist/src/deploy.cjs: ajv's standalone code; compiling costs a run more than its YAML), else compiled
 * now, so that an invalid schema throws here. Running from the sources, or for a schema the build did not see
 * (a `-M` task's), it compiles.
 */
export function compileSchema(schema: object, preset: SchemaPreset): () => ValidateFunction {
  precompiled ??= loadPrecompiled()
  const made = precompiled[schemaKey(schema, preset)]
  let validate: ValidateFunction | undefined
  if (!made) {
    const { Ajv } = require('ajv') as typeof import('ajv')
    validate = (ajvs[preset] ??= new Ajv(schemaPresets[preset])).compile(schema)
  }
  return () => (validate ??= made!())
}
const ajvs: Partial<Record<SchemaPreset, Ajv>> = {}

/** A JSON Schema of src/schemas/, parsed; with `pointer`, a schema of that definition (its siblings kept for $refs). */
export function readSchema(name: string, pointer?: string): object {
  const schema = JSON.parse(readFileSync(new URL(`./schemas/${name}`, import.meta.url), 'utf8'))
  if (!pointer) return schema
  const { $schema, $id, definitions } = schema
  return { $schema, $id: `${$id}${pointer}`, definitions, $ref: `#${pointer}` }
}

/** A JSON Schema from src/schemas/ (or one of its definitions: `pointer` "/definitions/x"), compiled on first use. */
export function schemaValidator(
  name: string,
  options: { allErrors: boolean },
  pointer?: string,
): () => ValidateFunction {
  let validate: (() => ValidateFunction) | undefined
  return () => (validate ??= compileSchema(readSchema(name, pointer), options.allErrors ? 'all' : 'first'))()
}

/** Where an ajv error points, as YAML keys. */
export function schemaErrorPath(error: Pick<ErrorObject, 'instancePath'>): Path {
  return error.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
}

/** "expected <the schema's description>, got <what the value is>". */
export function expectedGot(error: ErrorObject): string {
  const schema = error.parentSchema as { description?: string } | undefined
  return `expected ${schema?.description ?? error.message ?? 'something else'}, got ${describe(error.data)}`
}

/** The ajv error to show: the deepest one, and of those the summary rather than an anyOf/oneOf branch's. */
export function pickError<E extends { instancePath: string; schemaPath: string }>(errors: E[]): E | undefined {
  const depth = (e: E) => e.instancePath.split('/').length
  const deepest = errors.filter((e) => depth(e) === Math.max(...errors.map(depth)))
  return deepest.find((e) => !/\/(?:anyOf|oneOf)\/\d+\//.test(e.schemaPath)) ?? deepest.at(-1)
}
