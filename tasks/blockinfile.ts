// blockinfile: a block of lines between two marker lines present (inserted, or replacing the marked block) or
// absent — Ansible's blockinfile (ansible/modules/blockinfile.py) decision for decision. The new content is
// decided on the controller from the file's content (one fact) and written with putFile (temp + rename).
import { defineTask } from '../src/task.ts'
import { isTemplated } from '../src/template.ts'
import { pyRegExp } from '../src/util.ts'
import { FileContent, statFiles } from '../facts/files.ts'
import { checkDest, attributeSchemas, putEdited } from './_files.ts'

export interface BlockInFileArgs {
  path: string
  state?: 'present' | 'absent'
  marker?: string
  marker_begin?: string
  marker_end?: string
  block?: string
  insertafter?: string
  insertbefore?: string
  create?: boolean
  validate?: string
  mode?: string | number
  owner?: string
  group?: string
}

/** Splits as Python's bytes.splitlines(True): on \r\n, \r and \n, each line keeping its end. */
const splitLines = (text: string) => text.match(/[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$/g) ?? []

/** The content after Ansible's blockinfile, and its message ('' when unchanged). */
export function edit(original: string | undefined, a: BlockInFileArgs): { after: string; msg: string } {
  const lines = splitLines(original ?? '')
  const present = (a.state ?? 'present') === 'present'
  const insertbefore = a.insertbefore
  const insertafter = a.insertafter ?? (insertbefore === undefined ? 'EOF' : undefined)
  const insertre =
    insertafter !== undefined && insertafter !== 'EOF'
      ? pyRegExp(insertafter)
      : insertbefore !== undefined && insertbefore !== 'BOF'
        ? pyRegExp(insertbefore)
        : undefined
  const marker = a.marker ?? '# {mark} ANSIBLE MANAGED BLOCK'
  const marker0 = marker.replaceAll('{mark}', a.marker_begin ?? 'BEGIN') + '\n'
  const marker1 = marker.replaceAll('{mark}', a.marker_end ?? 'END') + '\n'
  let block = a.block ?? ''
  let blocklines: string[] = []
  if (present && block) {
    if (!block.endsWith('\n')) block += '\n'
    blocklines = [marker0, ...splitLines(block), marker1]
  }
  let n0: number | undefined
  let n1: number | undefined
  lines.forEach((line, i) => {
    if (line === marker0) n0 = i
    if (line === marker1) n1 = i
  })
  if (n0 === undefined || n1 === undefined) {
    n0 = undefined
    if (insertre) {
      if (insertre.flags.includes('m')) {
        const match = insertre.exec(original ?? '')
        if (match) {
          const upTo = insertafter ? match.index + match[0].length : match.index
          n0 = (original ?? '').slice(0, upTo).split('\n').length - 1
        }
      } else lines.forEach((line, i) => insertre.test(line.replace(/\n$/, '')) && (n0 = i))
      if (n0 === undefined) n0 = lines.length
      else if (insertafter !== undefined) n0 += 1
    } else n0 = insertbefore !== undefined ? 0 : lines.length
  } else if (n0 < n1) lines.splice(n0, n1 - n0 + 1)
  else {
    lines.splice(n1, n0 - n1 + 1)
    n0 = n1
  }
  if (n0 > 0 && !lines[n0 - 1]!.endsWith('\n')) lines[n0 - 1] += '\n'
  lines.splice(n0, 0, ...blocklines)
  const after = lines.join('')
  if (original === after) return { after, msg: '' }
  return {
    after,
    msg: original === undefined ? 'File created' : blocklines.length ? 'Block inserted' : 'Block removed',
  }
}

export default defineTask<BlockInFileArgs>({
  name: 'blockinfile',
  description: "a block of lines between markers present or absent (Ansible's blockinfile)",
  aliases: { dest: 'path', destfile: 'path', name: 'path', content: 'block' },
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['path'],
    properties: {
      path: { type: 'string', minLength: 1, description: 'a remote path' },
      state: { enum: ['present', 'absent'], description: 'present or absent' },
      marker: { type: 'string', description: 'the marker line, with {mark}' },
      marker_begin: { type: 'string', description: 'a string' },
      marker_end: { type: 'string', description: 'a string' },
      block: { type: 'string', description: 'the lines of the block' },
      insertafter: { type: 'string', description: 'EOF or a regular expression' },
      insertbefore: { type: 'string', description: 'BOF or a regular expression' },
      create: { type: 'boolean', description: 'a boolean' },
      validate: { type: 'string', description: 'a command with %s for the new file' },
      ...attributeSchemas,
    },
  },
  checkInputs(args) {
    if (!isTemplated(args.path)) checkDest(args.path)
    if (args.insertafter !== undefined && args.insertbefore !== undefined)
      throw new Error('parameters are mutually exclusive: insertbefore|insertafter')
    for (const re of [args.insertafter, args.insertbefore])
      if (re !== undefined && !isTemplated(re) && !/^(BOF|EOF)$/.test(re)) pyRegExp(re)
  },
  async run(host, args, ctx) {
    const path = args.path
    const [stat] = await statFiles(host, [path])
    if (stat!.type === 'directory') throw new Error(`Path ${path} is a directory !`)
    const content = await host.fact(FileContent, path)
    if (content === undefined) {
      if (!args.create) throw new Error(`Path ${path} does not exist !`)
      if ((args.state ?? 'present') === 'absent') return { changed: false, msg: `File ${path} not present` }
    }
    const { after, msg } = edit(content, args)
    return putEdited(
      host,
      ctx,
      { path, before: content, after, msg, ...(args.validate !== undefined ? { validate: args.validate } : {}) },
      args,
    )
  },
})
