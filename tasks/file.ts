// file: a path's state — directory (created with parents), absent (removed, recursively), touch (created if
// missing, times updated: always changed, as in Ansible), file (must exist; attributes only) — and its
// mode/owner/group.
import { defineTask } from '../src/task.ts'
import { quote } from '../src/util.ts'
import { posix } from 'node:path'
import type { Change, Target } from '../src/task.ts'
import { statCall, statFiles, type RemoteFile } from '../facts/files.ts'
import { attributeChanges, attributeSchemas, parseMode } from './_files.ts'

/** The ancestors of path that do not exist yet, outermost first. */
async function missingAncestors(host: Target, path: string): Promise<string[]> {
  const ancestors: string[] = []
  for (let p = posix.dirname(path); p !== '/' && p !== '.'; p = posix.dirname(p)) ancestors.unshift(p)
  if (!ancestors.length) return []
  const found = await statFiles(host, ancestors)
  return ancestors.filter((_, i) => !found[i]!.exists)
}

const trimSlashes = (path: string) => path.replace(/(.)\/+$/, '$1')

interface FileArgs {
  path: string
  state?: 'file' | 'directory' | 'absent' | 'touch'
  mode?: string | number
  owner?: string
  group?: string
}

export default defineTask<FileArgs>({
  name: 'file',
  description: 'make a path a directory, a touched file or absent; set mode, owner, group',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['path'],
    properties: {
      path: { type: 'string', minLength: 1, description: 'a remote path' },
      state: { enum: ['file', 'directory', 'absent', 'touch'], description: 'one of file, directory, absent, touch' },
      ...attributeSchemas,
    },
  },
  reads: (args) => [statCall([trimSlashes(args.path)])],
  async run(host, args) {
    const state = args.state ?? 'file'
    const path = trimSlashes(args.path)
    const [file] = (await statFiles(host, [path])) as [RemoteFile]
    const mode = parseMode(args.mode)
    const want = {
      ...(mode !== undefined ? { mode } : {}),
      ...(args.owner ? { owner: args.owner } : {}),
      ...(args.group ? { group: args.group } : {}),
    }
    if (state === 'absent') {
      if (!file.exists) return { changed: false }
      return {
        changed: false,
        changes: [
          {
            describe: `${path}: removed`,
            diff: { path, before: `${file.type}\n`, after: 'absent\n' },
            apply: async () => void (await host.$`rm -rf -- ${path}`),
          },
        ],
      }
    }
    if (state === 'file' && !file.exists) throw new Error(`${path} does not exist (use state: touch to create it)`)
    if (state === 'directory' && file.exists && file.type !== 'directory')
      throw new Error(`${path} exists and is not a directory (${file.type})`)
    if (state === 'touch' && file.type === 'directory') throw new Error(`${path} is a directory`)
    const create = !file.exists
    // A path that does not exist yet gets every wanted attribute.
    const attributes = attributeChanges(create ? { exists: false } : file, want)
    const what = [
      ...(create ? [`created ${state === 'directory' ? 'directory' : 'file'}`] : state === 'touch' ? ['touched'] : []),
      ...attributes.what.filter(() => !create),
    ]
    if (!what.length) return { changed: false }
    // As Ansible's file module: each directory made on the way to path gets the wanted attributes too.
    const made = state === 'directory' && create && attributes.what.length ? await missingAncestors(host, path) : []
    const change: Change = {
      describe: `${path}: ${what.join(', ')}`,
      async apply() {
        // One command: make the path, then set the attributes of each directory made and of the path.
        const steps = [
          ...(state === 'directory' && create ? [`mkdir -p -- ${quote(path)}`] : []),
          ...(state === 'directory' && create ? made.map((dir) => attributes.command(dir)) : []),
          ...(state === 'touch' ? [`touch -- ${quote(path)}`] : []),
          attributes.command(path),
        ].filter((step): step is string => !!step)
        if (steps.length) await host.$`sh -c ${steps.join(' && ')}`
      },
    }
    if (create) change.diff = { path, before: 'absent\n', after: `${state === 'directory' ? 'directory' : 'file'}\n` }
    return { changed: false, changes: [change] }
  },
})
