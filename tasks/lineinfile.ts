// lineinfile: one line of a file present (inserted, or a matching line replaced) or absent — Ansible's
// lineinfile (ansible/modules/lineinfile.py) decision for decision, so that a playbook does here what it does
// there. The new content is decided on the controller from the file's content (one fact) and written with
// putFile: a temporary file beside the path, validated, renamed. Regular expressions are Python's, translated
// (pyRegExp); a line is matched without its newline, where Python's `$` matches too.
import { defineTask } from '../src/task.ts'
import { isTemplated } from '../src/template.ts'
import { pyExpand, pyRegExp } from '../src/util.ts'
import { FileContent, statFiles } from '../facts/files.ts'
import { checkDest, attributeSchemas, putEdited } from './_files.ts'

export interface LineInFileArgs {
  path: string
  state?: 'present' | 'absent'
  regexp?: string
  search_string?: string
  line?: string
  insertafter?: string
  insertbefore?: string
  backrefs?: boolean
  create?: boolean
  firstmatch?: boolean
  validate?: string
  mode?: string | number
  owner?: string
  group?: string
}

/** Splits as Python's readlines() on bytes: each line keeps its '\n'; the last may have none. */
export function splitLines(text: string): string[] {
  return text.match(/[^\n]*\n|[^\n]+$/g) ?? []
}

const stripEol = (line: string) => line.replace(/[\r\n]+$/, '')
const body = (line: string) => line.replace(/\n$/, '')

/** The lines after Ansible's present(): the message, and the lines (unchanged when msg is ''). */
export function present(lines: string[], a: LineInFileArgs): { lines: string[]; msg: string } {
  lines = [...lines]
  const line = a.line!
  const insertafter = a.insertafter ?? (a.insertbefore === undefined ? 'EOF' : undefined)
  const insertbefore = a.insertbefore
  const regexp = a.regexp !== undefined ? pyRegExp(a.regexp) : undefined
  const ins =
    insertafter !== undefined && insertafter !== 'BOF' && insertafter !== 'EOF'
      ? pyRegExp(insertafter)
      : insertbefore !== undefined && insertbefore !== 'BOF'
        ? pyRegExp(insertbefore)
        : undefined
  let at = -1 // the line matched (regexp, search_string) or equal to line
  let insertAt = -1 // where insertafter/insertbefore's pattern puts it
  let match: RegExpExecArray | boolean | null = null
  if (regexp)
    for (const [n, cur] of lines.entries()) {
      const m = regexp.exec(body(cur))
      if (m) {
        at = n
        match = m
        if (a.firstmatch) break
      }
    }
  if (a.search_string !== undefined)
    for (const [n, cur] of lines.entries())
      if (cur.includes(a.search_string)) {
        at = n
        match = true
        if (a.firstmatch) break
      }
  if (!match)
    for (const [n, cur] of lines.entries()) {
      if (line === stripEol(cur)) {
        at = n
      } else if (ins && ins.exec(body(cur))) {
        if (insertafter) {
          insertAt = n + 1
          if (a.firstmatch) break
        }
        if (insertbefore) {
          insertAt = n
          if (a.firstmatch) break
        }
      }
    }
  const nl = '\n'
  const endsOpen = () => lines.length > 0 && !/[\n\r]$/.test(lines[lines.length - 1]!)
  if (at !== -1) {
    let newLine = a.backrefs && match && match !== true ? pyExpand(line, match) : line
    if (!newLine.endsWith(nl)) newLine += nl
    if (lines[at] !== newLine) {
      lines[at] = newLine
      return { lines, msg: 'line replaced' }
    }
    return { lines, msg: '' }
  }
  if (a.backrefs) return { lines, msg: '' }
  if (insertbefore === 'BOF' || insertafter === 'BOF') {
    lines.unshift(line + nl)
    return { lines, msg: 'line added' }
  }
  if (insertafter === 'EOF' || insertAt === -1) {
    if (endsOpen()) lines.push(nl)
    lines.push(line + nl)
    return { lines, msg: 'line added' }
  }
  if (insertafter && insertAt !== -1) {
    if (lines.length === insertAt) {
      if (stripEol(lines[insertAt - 1]!) !== line) {
        lines.push(line + nl)
        return { lines, msg: 'line added' }
      }
    } else if (line !== stripEol(lines[insertAt]!)) {
      lines.splice(insertAt, 0, line + nl)
      return { lines, msg: 'line added' }
    }
    return { lines, msg: '' }
  }
  lines.splice(insertAt, 0, line + nl)
  return { lines, msg: 'line added' }
}

/** The lines after Ansible's absent(): every line matching regexp, search_string or equal to line removed. */
export function absent(lines: string[], a: LineInFileArgs): { lines: string[]; found: number } {
  const regexp = a.regexp !== undefined ? pyRegExp(a.regexp) : undefined
  const matches = (cur: string) =>
    regexp
      ? regexp.test(body(cur))
      : a.search_string !== undefined
        ? cur.includes(a.search_string)
        : a.line === stripEol(cur)
  const kept = lines.filter((cur) => !matches(cur))
  return { lines: kept, found: lines.length - kept.length }
}

/** The argument checks of Ansible's module, made before anything connects when the args are known. */
function checkArgs(a: LineInFileArgs): void {
  const both = (x: keyof LineInFileArgs, y: keyof LineInFileArgs) => {
    if (a[x] !== undefined && a[y] !== undefined) throw new Error(`parameters are mutually exclusive: ${x}|${y}`)
  }
  both('insertbefore', 'insertafter')
  both('regexp', 'search_string')
  both('backrefs', 'search_string')
  if ((a.state ?? 'present') === 'present') {
    if (a.backrefs && a.regexp === undefined) throw new Error('regexp is required with backrefs=true')
    if (a.line === undefined) throw new Error('line is required with state=present')
  } else if (a.regexp === undefined && a.search_string === undefined && a.line === undefined)
    throw new Error('one of line, search_string, or regexp is required with state=absent')
  if (a.validate !== undefined && !a.validate.includes('%s')) throw new Error(`validate must contain %s: ${a.validate}`)
  for (const key of ['regexp', 'insertafter', 'insertbefore'] as const) {
    const value = a[key]
    if (value !== undefined && !isTemplated(value) && !(key !== 'regexp' && /^(BOF|EOF)$/.test(value))) pyRegExp(value)
  }
}

export default defineTask<LineInFileArgs>({
  name: 'lineinfile',
  description: "a line of a file present or absent (Ansible's lineinfile: regexp, insertafter/before, backrefs)",
  aliases: { dest: 'path', destfile: 'path', name: 'path', regex: 'regexp', value: 'line' },
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['path'],
    properties: {
      path: { type: 'string', minLength: 1, description: 'a remote path' },
      state: { enum: ['present', 'absent'], description: 'present or absent' },
      regexp: { type: 'string', description: 'a Python regular expression' },
      search_string: { type: 'string', description: 'a literal string' },
      line: { type: 'string', description: 'the line' },
      insertafter: { type: 'string', description: 'EOF, BOF or a regular expression' },
      insertbefore: { type: 'string', description: 'BOF or a regular expression' },
      backrefs: { type: 'boolean', description: 'a boolean' },
      create: { type: 'boolean', description: 'a boolean' },
      firstmatch: { type: 'boolean', description: 'a boolean' },
      validate: { type: 'string', description: 'a command with %s for the new file' },
      ...attributeSchemas,
    },
  },
  checkInputs(args) {
    if (!isTemplated(args.path)) checkDest(args.path)
    checkArgs(args)
  },
  async run(host, args, ctx) {
    checkArgs(args)
    const path = args.path
    const [stat] = await statFiles(host, [path])
    if (stat!.type === 'directory') throw new Error(`Path ${path} is a directory !`)
    const content = await host.fact(FileContent, path)
    let lines: string[]
    let msg: string
    let found: number | undefined
    if ((args.state ?? 'present') === 'absent') {
      if (content === undefined) return { changed: false, msg: 'file not present', data: { found: 0 } }
      const result = absent(splitLines(content), args)
      ;({ lines, found } = result)
      msg = found ? `${found} line(s) removed` : ''
    } else {
      if (content === undefined && !args.create) throw new Error(`Destination ${path} does not exist !`)
      ;({ lines, msg } = present(splitLines(content ?? ''), args))
    }
    return putEdited(
      host,
      ctx,
      {
        path,
        before: content,
        after: lines.join(''),
        msg,
        ...(args.validate !== undefined ? { validate: args.validate } : {}),
        data: { backup: '', ...(found !== undefined ? { found } : {}) },
      },
      args,
    )
  },
})
