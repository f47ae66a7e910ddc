// hbmon_install: the build's artifacts onto the host — hbmon.ko to /lib/modules/<release>/updates/ (atomically,
// by checksum, then depmod when it changed), hbctl and hbmon-listen to /usr/local/sbin. The plain files
// (rsyslog rule, logrotate, modprobe.d, modules-load.d, udev rule, restart helper) are generic template tasks
// in the playbook. A host without an artifact (no module support) is skipped: load says why.
import { join } from 'node:path'
import { defineTask, type Change, type TaskResult } from '../src/task.ts'
import { putFile } from './_files.ts'
import { artifactOf, modulePath, toolsDir } from './_hbmon.ts'

export default defineTask<Record<string, never>>({
  name: 'hbmon_install',
  description: 'install the built hbmon.ko (then depmod) and the hbctl / hbmon-listen tools',
  schema: { type: 'object', additionalProperties: false, properties: {} },
  async run(host, _args, ctx) {
    const artifact = artifactOf(host)
    if (!artifact) return { changed: false, skipped: true, msg: 'no build for this host (see hbmon_build)' }
    const ko = modulePath(artifact.kernel)
    const files: [string, string, number][] = [
      [join(artifact.dir, 'hbmon.ko'), ko, 0o644],
      [join(artifact.dir, 'hbctl'), `${toolsDir}/hbctl`, 0o755],
      [join(artifact.dir, 'hbmon-listen'), `${toolsDir}/hbmon-listen`, 0o755],
    ]
    const puts: TaskResult[] = []
    for (const [source, dest, mode] of files)
      puts.push(await putFile(host, { source, dest, mode, owner: 'root', group: 'root', makeParents: true }, ctx))
    const moduleChanged = !!puts[0]!.changes?.length
    const changes: Change[] = puts.flatMap((r) => r.changes ?? [])
    if (moduleChanged)
      changes.push({
        describe: `depmod ${artifact.kernel}`,
        apply: async () => void (await host.$`depmod -a ${artifact.kernel}`),
      })
    return {
      changed: false,
      changes,
      data: { module: ko, srcversion: artifact.srcversion, module_changed: moduleChanged },
    }
  },
})
