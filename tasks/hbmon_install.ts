// hbmon_install: the build's artifacts onto the host — hbmon.ko to /lib/modules/<release>/updates/ (atomically,
// by checksum, then depmod when it changed), hbctl and hbmon-listen to /usr/local/sbin. The plain files
// (rsyslog rule, logrotate, modprobe.d, modules-load.d, udev rule, restart helper) are generic template tasks
// in the playbook. A host without an artifact (no module support) is skipped: load says why.
import { join } from 'node:path'
import { defineTask, type TaskResult } from '../src/task.ts'
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
    if (!ctx.check) await host.$`mkdir -p ${ko.slice(0, ko.lastIndexOf('/'))} ${toolsDir}`
    const files: [string, string, number][] = [
      [join(artifact.dir, 'hbmon.ko'), ko, 0o644],
      [join(artifact.dir, 'hbctl'), `${toolsDir}/hbctl`, 0o755],
      [join(artifact.dir, 'hbmon-listen'), `${toolsDir}/hbmon-listen`, 0o755],
    ]
    const results: TaskResult[] = []
    for (const [source, dest, mode] of files)
      results.push(await putFile(host, { source, dest, mode, owner: 'root', group: 'root' }, ctx))
    const moduleChanged = results[0]!.changed
    if (moduleChanged && !ctx.check) await host.$`depmod -a ${artifact.kernel}`
    const changed = results.filter((r) => r.changed)
    return {
      changed: changed.length > 0,
      ...(changed.length
        ? { msg: `${changed.map((r) => r.msg).join('; ')}${moduleChanged ? `; depmod ${artifact.kernel}` : ''}` }
        : {}),
      ...(ctx.diff ? { diff: results.flatMap((r) => r.diff ?? []) } : {}),
      data: { module: ko, srcversion: artifact.srcversion, module_changed: moduleChanged },
    }
  },
})
