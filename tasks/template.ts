// template: renders a local template with the host's vars and installs it like copy (checksum, atomic,
// mode/owner/group, diff). The language is Jinja2 as Ansible runs it (src/template.ts): checked when the
// playbook is loaded, errors named by the template's file, line and column. `src` is looked up like Ansible:
// absolute, else in the task's role (ROLE/templates/src, ROLE/src) and the task file's directory, then
// PLAYBOOK_DIR/templates/src, PLAYBOOK_DIR/src (findLocal).
import { readFile } from 'node:fs/promises'
import { basename } from 'node:path'
import { readFileSync } from 'node:fs'
import { defineTask } from '../src/task.ts'
import { checkTemplate, isTemplated, TemplateError } from '../src/template.ts'
import { checkDest, findLocal, attributeSchemas, parseMode, putFile, destStat } from './_files.ts'

interface TemplateArgs {
  src: string
  dest: string
  mode?: string | number
  owner?: string
  group?: string
  validate?: string
}

export default defineTask<TemplateArgs>({
  name: 'template',
  description: 'render a local template with the host vars and install it like copy',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['src', 'dest'],
    properties: {
      src: { type: 'string', description: 'a local template file' },
      dest: { type: 'string', minLength: 1, description: 'a remote path' },
      ...attributeSchemas,
      validate: { type: 'string', description: 'a command with %s for the new file' },
    },
  },
  checkInputs(args, ctx) {
    if (!isTemplated(args.dest)) checkDest(args.dest)
    if (isTemplated(args.src)) return
    const file = findLocal(ctx, args.src, 'templates')
    try {
      checkTemplate(readFileSync(file, 'utf8'))
    } catch (e) {
      throw inFile(file, e)
    }
  },
  reads: (args) => [destStat(args.dest)],
  async run(host, args, ctx) {
    const file = findLocal(ctx, args.src, 'templates')
    let text: string
    try {
      text = host.render(await readFile(file, 'utf8'))
    } catch (e) {
      throw inFile(file, e)
    }
    const mode = parseMode(args.mode)
    return putFile(
      host,
      {
        dest: args.dest,
        source: Buffer.from(text),
        name: basename(args.src).replace(/\.j2$/, ''),
        ...(mode !== undefined ? { mode } : {}),
        ...(args.owner !== undefined ? { owner: args.owner } : {}),
        ...(args.group !== undefined ? { group: args.group } : {}),
        ...(args.validate !== undefined ? { validate: args.validate } : {}),
      },
      ctx,
    )
  },
})

/** A template's error as FILE:LINE:COLUMN: reason. */
function inFile(file: string, e: unknown): Error {
  if (e instanceof TemplateError && e.line) return new Error(`${file}:${e.line}:${e.column}: ${e.reason}`)
  return new Error(`${file}: ${(e as Error).message}`)
}
