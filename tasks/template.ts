// template: renders a local template with the host's vars and installs it like copy (checksum, atomic,
// mode/owner/group, diff). The language is the small Jinja subset of src/template.ts: {{ var }},
// {{ var | default(x) }}, dotted access, a few filters; no {% %} blocks. `src` is looked up like Ansible:
// absolute, PLAYBOOK_DIR/templates/src, PLAYBOOK_DIR/src.
import { readFile } from 'node:fs/promises'
import { basename } from 'node:path'
import { readFileSync } from 'node:fs'
import { defineTask } from '../src/task.ts'
import { checkTemplate, isTemplated } from '../src/template.ts'
import { checkDest, findLocal, modeSchema, parseMode, putFile, destStat } from './_files.ts'

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
      mode: modeSchema,
      owner: { type: 'string', description: 'a user name or uid' },
      group: { type: 'string', description: 'a group name or gid' },
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
      throw new Error(`${file}: ${(e as Error).message}`)
    }
  },
  reads: (args) => [destStat(args.dest)],
  async run(host, args, ctx) {
    const file = findLocal(ctx, args.src, 'templates')
    let text: string
    try {
      text = host.render(await readFile(file, 'utf8'))
    } catch (e) {
      throw new Error(`${file}: ${(e as Error).message}`)
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
