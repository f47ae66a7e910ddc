// copy: a local file (src) or literal content to a host file (dest). Compares sha256 on the host first, writes
// a temporary file beside dest and renames it over (never a half-written dest), sets mode/owner/group, shows
// a diff for text files. `src` is looked up like Ansible: absolute, PLAYBOOK_DIR/files/src, PLAYBOOK_DIR/src.
import { basename } from 'node:path'
import { defineTask } from '../src/task.ts'
import { isTemplated, pyJson, toText } from '../src/template.ts'
import { checkDest, findLocal, attributeSchemas, parseMode, putFile, destStat } from './_files.ts'

// Ansible's copy action: a list or dict is written as json.dumps() gives it; other values as Python's str().
function contentText(content: unknown): string {
  if (typeof content === 'string') return content
  return content !== null && typeof content === 'object' ? pyJson(content) : toText(content)
}

interface CopyArgs {
  src?: string
  content?: unknown
  dest: string
  mode?: string | number
  owner?: string
  group?: string
  validate?: string
  force?: boolean
}

export default defineTask<CopyArgs>({
  name: 'copy',
  description: 'copy a local file or content to the host (by checksum; atomic; mode, owner, group)',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['dest'],
    properties: {
      src: { type: 'string', description: 'a local file' },
      content: { description: 'the file content (text; a list or mapping is written as JSON, as Ansible does)' },
      dest: { type: 'string', minLength: 1, description: 'a remote path' },
      ...attributeSchemas,
      validate: { type: 'string', description: 'a command with %s for the new file' },
      force: { type: 'boolean', description: 'a boolean' },
    },
    oneOf: [{ required: ['src'] }, { required: ['content'] }],
  },
  checkInputs(args, ctx) {
    if (!isTemplated(args.dest)) checkDest(args.dest)
    if (args.src !== undefined && !isTemplated(args.src)) findLocal(ctx, args.src, 'files')
  },
  reads: (args) => [destStat(args.dest)],
  async run(host, args, ctx) {
    const source =
      args.content !== undefined ? Buffer.from(contentText(args.content)) : findLocal(ctx, args.src!, 'files')
    const mode = parseMode(args.mode)
    return putFile(
      host,
      {
        dest: args.dest,
        source,
        ...(args.src ? { name: basename(args.src) } : {}),
        ...(mode !== undefined ? { mode } : {}),
        ...(args.owner !== undefined ? { owner: args.owner } : {}),
        ...(args.group !== undefined ? { group: args.group } : {}),
        ...(args.validate !== undefined ? { validate: args.validate } : {}),
        ...(args.force !== undefined ? { force: args.force } : {}),
      },
      ctx,
    )
  },
})
