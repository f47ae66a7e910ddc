// Host patterns and --limit, as ansible/inventory/manager.py evaluates them (ansible-core 2.14):
// `a,b` or `a:b` (union), `&a` (intersection), `!a` (exclusion), applied in that order whatever order they were
// written in; a name matches a group (all its hosts, children included) or a host; `web*`/`db?`/`[ab]*` are
// globs and `~regex` a regular expression matched from the start of names; `web[0]`, `web[-1]`, `web[1:3]`
// subscript what a pattern matched; `@file` in --limit reads one pattern per line.
//
// Differences: no implicit localhost (a `localhost` absent from the inventory matches nothing); `~regex` is a
// JavaScript regular expression (the same for ordinary use; Python-only syntax such as (?P<name>) is refused);
// and the group ordering of deeply nested children is deterministic here (Ansible walks each level of a group's
// descendants through a Python set, so its host order for grand-children can vary).
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { type Host, type Inventory } from './inventory.ts'
import { parseAddress } from './host-pattern.ts'
import { InputError } from './util.ts'

export interface SelectOptions {
  /** --limit: patterns to intersect with. */
  limit?: string | string[]
  /** Where `@file` patterns in the limit are looked up. */
  cwd?: string
  /** Called for each pattern that matches nothing (Ansible prints a warning and goes on). */
  warn?: (message: string) => void
}

/**
 * The hosts a play's `hosts:` pattern selects, narrowed by --limit, in inventory order. A --limit that leaves no
 * host is an InputError, as in Ansible; a play pattern alone that matches nothing gives [] (Ansible skips the play).
 */
export function selectHosts(
  inventory: Inventory,
  pattern: string | string[] = 'all',
  options: SelectOptions = {},
): Host[] {
  const ctx = new Context(inventory, options.warn)
  let hosts = ctx.evaluate(splitPatterns(pattern), '--limit')
  if (options.limit !== undefined) {
    const patterns: { text: string; file: string; line: number }[] = []
    for (const p of splitPatterns(options.limit)) {
      if (!p.startsWith('@')) {
        patterns.push({ text: p, file: '--limit', line: 0 })
        continue
      }
      const file = resolve(options.cwd ?? '.', p.slice(1))
      let text: string
      try {
        text = readFileSync(file, 'utf8')
      } catch (e) {
        throw new InputError(`cannot read the limit file ${p.slice(1)}: ${(e as Error).message}`, '--limit')
      }
      text.split('\n').forEach((line, i) => patterns.push({ text: line.trim(), file: p.slice(1), line: i + 1 }))
    }
    const allowed = new Set<Host>()
    for (const host of ctx.evaluate(
      patterns.map((p) => p.text),
      '--limit',
      patterns,
    ))
      allowed.add(host)
    hosts = hosts.filter((h) => allowed.has(h))
    if (hosts.length === 0) {
      const what = [pattern].flat().join(',') === 'all' ? '' : ` and the pattern "${[pattern].flat().join(',')}"`
      throw new InputError(
        `"${[options.limit].flat().join(',')}"${what} leave no host to target in ${inventory.file}`,
        '--limit',
      )
    }
  }
  return [...new Set(hosts)]
}

/**
 * ansible's split_host_pattern: commas separate patterns; without commas, colons do too, unless the whole
 * string is a host name, address or range (`web[1:3]`, `::1`, `host:22`).
 */
export function splitPatterns(pattern: string | string[]): string[] {
  if (Array.isArray(pattern)) return pattern.flatMap(splitPatterns)
  let parts: string[]
  if (pattern.includes(',')) parts = pattern.split(',')
  else if (parseAddress(pattern)) parts = [pattern]
  else parts = pattern.match(/(?:[^\s:[\]]|\[[^\]]*\])+/g) ?? []
  return parts.map((p) => p.trim()).filter(Boolean)
}

const subscripted = /^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$/

class Context {
  private cache = new Map<string, Host[]>()
  private groupNames: string[]
  private hostNames: string[]

  constructor(
    private inventory: Inventory,
    private warn?: (message: string) => void,
  ) {
    this.groupNames = [...inventory.groups.keys()]
    this.hostNames = [...inventory.hosts.keys()]
  }

  // _evaluate_patterns: unions first, then intersections, then exclusions; only ! and & means "all" first.
  evaluate(patterns: string[], source: string, places?: { text: string; file: string; line: number }[]): Host[] {
    const where = (p: string) => places?.find((x) => x.text === p) ?? { file: source, line: 0 }
    const given = patterns.filter(Boolean)
    const regular = given.filter((p) => p[0] !== '!' && p[0] !== '&')
    const ordered = [
      ...(regular.length ? regular : ['all']),
      ...given.filter((p) => p[0] === '&'),
      ...given.filter((p) => p[0] === '!'),
    ]
    let hosts: Host[] = []
    for (const p of ordered) {
      const exact = this.inventory.hosts.get(p)
      if (exact) {
        hosts.push(exact)
        continue
      }
      let that: Host[]
      try {
        that = this.matchOne(p)
      } catch (e) {
        const { file, line } = where(p)
        throw new InputError(`${(e as Error).message}`, file, line, line ? 1 : 0)
      }
      if (p[0] === '!') {
        const out = new Set(that)
        hosts = hosts.filter((h) => !out.has(h))
      } else if (p[0] === '&') {
        const keep = new Set(that)
        hosts = hosts.filter((h) => keep.has(h))
      } else {
        const existing = new Set(hosts.map((h) => h.name))
        hosts.push(...that.filter((h) => !existing.has(h.name)))
      }
    }
    return hosts
  }

  // _match_one_pattern: the pattern without its & or !, then its subscript.
  private matchOne(pattern: string): Host[] {
    if (pattern[0] === '&' || pattern[0] === '!') pattern = pattern.slice(1)
    const cached = this.cache.get(pattern)
    if (cached) return cached
    let expr = pattern
    let subscript: [number, number | undefined] | undefined
    const m = pattern[0] === '~' ? null : subscripted.exec(pattern)
    if (m) {
      expr = m[1]!
      subscript = m[2] !== undefined ? [Number(m[2]), undefined] : [Number(m[3]), m[5] ? Number(m[5]) : -1]
    }
    let hosts = this.enumerate(expr)
    if (hosts.length && subscript) {
      const [start, end] = subscript
      if (end) hosts = hosts.slice(start, (end === -1 ? hosts.length - 1 : end) + 1)
      else {
        if (start >= hosts.length || start < -hosts.length)
          throw new Error(`no host matches the subscripted pattern "${pattern}"`)
        hosts = [hosts.at(start)!]
      }
    }
    this.cache.set(pattern, hosts)
    return hosts
  }

  // _enumerate_matches: groups whose name matches give all their hosts; hosts are tried when no group matched
  // or the pattern is a regex or glob. Duplicates stay (subscripts count them), as in Ansible.
  private enumerate(pattern: string): Host[] {
    const test = matcher(pattern)
    const results: Host[] = []
    const groups = this.groupNames.filter(test)
    for (const g of groups) results.push(...this.groupHosts(g))
    if (!groups.length || pattern[0] === '~' || /[.?*[]/.test(pattern))
      for (const h of this.hostNames.filter(test)) results.push(this.inventory.hosts.get(h)!)
    if (!results.length && !groups.length && pattern !== 'all')
      this.warn?.(`could not match supplied host pattern, ignoring: ${pattern}`)
    return results
  }

  // Group.get_hosts: the group's own hosts, then its descendants' level by level, each host once.
  private groupHosts(name: string): Host[] {
    const groups = this.inventory.groups
    const ordered = [name, ...groups.get(name)!.children]
    const seen = new Set(ordered)
    let level = groups.get(name)!.children
    while (level.length) {
      const next: string[] = []
      for (const g of level) for (const c of groups.get(g)!.children) if (!seen.has(c)) (seen.add(c), next.push(c))
      ordered.push(...next)
      level = next
    }
    const hosts = new Set<string>()
    for (const g of ordered) for (const h of groups.get(g)!.hosts) hosts.add(h)
    return [...hosts].map((h) => this.inventory.hosts.get(h)!)
  }
}

// _match_list: `~` is a regex anchored at the start only (Python's re.match), anything else fnmatch.translate.
function matcher(pattern: string): (name: string) => boolean {
  let re: RegExp
  try {
    re = pattern[0] === '~' ? new RegExp(pattern.slice(1), 'y') : globToRegExp(pattern)
  } catch {
    throw new Error(`invalid host pattern "${pattern}": not a valid regular expression`)
  }
  return (name) => {
    re.lastIndex = 0
    return re.test(name)
  }
}

// Python's fnmatch.translate: * ? [seq] [!seq]; a [ without its ] is literal; case-sensitive.
function globToRegExp(glob: string): RegExp {
  let out = ''
  for (let i = 0; i < glob.length; ) {
    const c = glob[i++]!
    if (c === '*') {
      out += '.*'
      while (glob[i] === '*') i++
    } else if (c === '?') out += '.'
    else if (c === '[') {
      let j = i
      if (glob[j] === '!') j++
      if (glob[j] === ']') j++
      while (j < glob.length && glob[j] !== ']') j++
      if (j >= glob.length) out += '\\['
      else {
        let set = glob.slice(i, j).replace(/\\/g, '\\\\')
        i = j + 1
        if (set[0] === '!') set = `^${set.slice(1)}`
        else if (set[0] === '^' || set[0] === '[') set = `\\${set}`
        out += `[${set.replace(/\[/g, '\\[')}]`
      }
    } else out += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
  }
  return new RegExp(`^(?:${out})$`, 's')
}
