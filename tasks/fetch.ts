// fetch: a host file to the controller, as Ansible's fetch: DEST/HOSTNAME/PATH (or DEST itself with flat: true).
// Changed when the local copy is missing or differs (sha256); a missing remote file is a failure.
import { existsSync } from 'node:fs'
import { mkdir, rename } from 'node:fs/promises'
import { dirname, join, resolve, sep } from 'node:path'
import { defineTask } from '../src/task.ts'
import { statFiles, type RemoteFile } from '../facts/files.ts'
import { sha256Local } from './_files.ts'

interface FetchArgs {
  src: string
  dest: string
  flat?: boolean
}

export default defineTask<FetchArgs>({
  name: 'fetch',
  description: 'copy a host file to DEST/HOST/PATH on the controller',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['src', 'dest'],
    properties: {
      src: { type: 'string', minLength: 1, description: 'a remote file' },
      dest: { type: 'string', minLength: 1, description: 'a local directory (or file, with flat)' },
      flat: { type: 'boolean', description: 'a boolean' },
    },
  },
  async run(host, args, ctx) {
    const [remote] = (await statFiles(host, [args.src], true)) as [RemoteFile]
    if (!remote.exists) throw new Error(`${args.src} does not exist on the host`)
    if (remote.type !== 'file') throw new Error(`${args.src} is not a regular file (${remote.type})`)
    const base = resolve(ctx.baseDir, args.dest)
    const local = args.flat
      ? args.dest.endsWith('/')
        ? join(base, args.src.split('/').pop()!)
        : base
      : join(base, host.name, args.src)
    // As Ansible's fetch: a src with ".." (or a host name) must not lead outside dest on the controller.
    if (!args.flat && !local.startsWith(join(base, host.name) + sep))
      throw new Error(`${args.src}: the local copy would land outside ${join(base, host.name)} (${local})`)
    if (existsSync(local) && (await sha256Local(local)) === remote.sha256)
      return { changed: false, data: { dest: local, sha256: remote.sha256 } }
    return {
      changed: false,
      data: { dest: local, sha256: remote.sha256 },
      changes: [
        {
          describe: `${args.src} → ${local}`,
          async apply() {
            await mkdir(dirname(local), { recursive: true })
            const tmp = `${local}.hbmon-${process.pid}.tmp`
            await host.get(args.src, tmp)
            await rename(tmp, local)
          },
        },
      ],
    }
  },
})
