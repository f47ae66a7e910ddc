// hbmon_install: the build's artifacts onto the host — hbmon.ko for each kernel hbmon_build built for (the
// running one and, with hbmon_kernels, the others installed) to /lib/modules/<release>/updates/ (atomically, by
// checksum, then depmod for each release whose module changed), hbctl and hbmon-listen to /usr/local/sbin —
// and what a kernel installed later needs to come up with hbmon: the kernel hook (templates/hbmon-kernel-hook
// as /usr/lib/hbmon/kernel-hook, called from /etc/kernel/{postinst,header_postinst,postrm}.d/hbmon), the
// module's sources for a build on the host (/usr/lib/hbmon/src), and the cached builds of the same sources and
// arch, made on hosts of the same distribution, for kernels the host does not have
// (/var/lib/hbmon/modules/<release>/hbmon.ko, built ahead on other hosts of the fleet; ones no longer cached are
// removed). The plain files (rsyslog rule, logrotate,
// modprobe.d, modules-load.d, udev rule, restart helper) are generic template tasks in the playbook. A host
// without an artifact (no module support) is skipped: load says why.
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { defineTask, type Change, type TaskResult } from '../src/task.ts'
import { putFile } from './_files.ts'
import {
  aheadDir,
  artifactCacheRoot,
  artifactOf,
  artifactsOf,
  cachedBuilds,
  defaultSourceDir,
  distributionOf,
  factsOf,
  hookLinks,
  hookSourceDir,
  kernelHook,
  kernelsOf,
  modulePath,
  sourceFiles,
  toolsDir,
} from './_hbmon.ts'

const hookScript = fileURLToPath(new URL('../templates/hbmon-kernel-hook', import.meta.url))

/** What each of Debian's hook directories runs: the hook, with the action its packages mean. */
const hookCaller = (action: 'install' | 'remove') =>
  `#!/bin/sh\n# hbmon: see ${kernelHook}\n[ -x ${kernelHook} ] || exit 0\nexec ${kernelHook} ${action} "$@"\n`

export default defineTask<Record<string, never>>({
  name: 'hbmon_install',
  description: 'install the built hbmon.ko for each kernel (then depmod), the tools, and the kernel hook',
  schema: { type: 'object', additionalProperties: false, properties: {} },
  async run(host, _args, ctx) {
    const artifact = artifactOf(host)
    if (!artifact) return { changed: false, skipped: true, msg: 'no build for this host (see hbmon_build)' }
    const artifacts = artifactsOf(host)
    const installed = new Set((await kernelsOf(host)).kernels.map((k) => k.release).concat(artifact.kernel))
    const distribution = distributionOf(await factsOf(host))
    const ahead = cachedBuilds(artifactCacheRoot(host), artifact.source_hash, artifact.arch, distribution).filter(
      (a) => !installed.has(a.kernel),
    )
    const source = String(host.vars.hbmon_source_dir ?? defaultSourceDir)
    const modules: [string, string, number][] = artifacts.map((a) => [
      join(a.dir, 'hbmon.ko'),
      modulePath(a.kernel),
      0o644,
    ])
    const files: [string | Buffer, string, number][] = [
      ...modules,
      [join(artifact.dir, 'hbctl'), `${toolsDir}/hbctl`, 0o755],
      [join(artifact.dir, 'hbmon-listen'), `${toolsDir}/hbmon-listen`, 0o755],
      [hookScript, kernelHook, 0o755],
      ...hookLinks.map((link): [Buffer, string, number] => [
        Buffer.from(hookCaller(link.includes('postrm') ? 'remove' : 'install')),
        link,
        0o755,
      ]),
      ...sourceFiles(source).map((f): [string, string, number] => [join(source, f), `${hookSourceDir}/${f}`, 0o644]),
      ...ahead.map((a): [string, string, number] => [
        join(a.dir, 'hbmon.ko'),
        `${aheadDir}/${a.kernel}/hbmon.ko`,
        0o644,
      ]),
    ]
    const puts: TaskResult[] = await Promise.all(
      files.map(([source, dest, mode]) =>
        putFile(host, { source, dest, mode, owner: 'root', group: 'root', makeParents: true }, ctx),
      ),
    )
    const changes: Change[] = puts.flatMap((r) => r.changes ?? [])
    const changedKernels = artifacts.filter((_, i) => !!puts[i]!.changes?.length).map((a) => a.kernel)
    for (const kernel of changedKernels)
      changes.push({
        describe: `depmod ${kernel}`,
        apply: async () => void (await host.$`depmod -a ${kernel}`),
      })
    // Builds ahead that the cache no longer has for these sources (or for a kernel the host now has) go.
    const keep = new Set(ahead.map((a) => a.kernel))
    const listed = await host.$({ nothrow: true })`ls -1 -- ${aheadDir}`
    const stale = listed.stdout
      .split('\n')
      .filter((name) => name && !keep.has(name))
      .map((name) => `${aheadDir}/${name}`)
    if (stale.length)
      changes.push({
        describe: `removed builds ahead ${stale.join(', ')}`,
        apply: async () => void (await host.$`rm -rf -- ${stale}`),
      })
    return {
      changed: false,
      changes,
      data: {
        module: modulePath(artifact.kernel),
        srcversion: artifact.srcversion,
        module_changed: changedKernels.includes(artifact.kernel),
        kernels: artifacts.map((a) => a.kernel),
        modules_changed: changedKernels,
        ahead: ahead.map((a) => a.kernel),
      },
    }
  },
})
