// hbmon_build: the module and its tools built once per (kernel release, arch) of the batch — for each host's
// running kernel and, with hbmon_kernels (installed, the default, or next), the other kernels it has installed —
// on one host of each group with that release's kbuild headers, and kept in a controller-side cache keyed by
// (sha256 of the kernel/ sources, release, arch). The batch phase does the work; each host's result says whether its
// artifacts were built on it, built on another host of its group, or taken from the cache.
//
// Vars: hbmon_source_dir (default: the package's kernel/), hbmon_artifact_cache (default
// ~/.cache/hbmon/artifacts), hbmon_rebuild (true: build even when cached), install_headers (true: install the
// missing linux-headers-<release> with apt-get instead of failing), hbmon_kernels (running | installed | next:
// which kernels besides the running one get a build; a kernel other than the running one without headers is
// reported, not failed).
import { execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { HbmonFacts } from '../facts/hbmon.ts'
import { defineTask, type BatchContext, type BatchTarget, type Target, type TaskResult } from '../src/task.ts'
import type { InstalledKernel } from '../facts/system.ts'
import {
  artifactCacheRoot,
  artifactFiles,
  cached,
  defaultSourceDir,
  distributionOf,
  factsOf,
  flagVar,
  kernelChoice,
  kernelsOf,
  pick,
  sourceFiles,
  targetKernels,
  type Artifact,
  type Meta,
} from './_hbmon.ts'

export function sourceHash(dir: string): string {
  const hash = createHash('sha256')
  for (const f of sourceFiles(dir))
    hash.update(`${f}\0${readFileSync(join(dir, f)).length}\0`).update(readFileSync(join(dir, f)))
  return hash.digest('hex')
}

// Build in a fresh directory against RELEASE's kbuild tree (not necessarily the running kernel's); print the
// compiler's output (warnings) and the srcversion; leave the directory.
const buildScript = `set -e
d=$1 r=$2
mkdir -p "$d" && tar -C "$d" -xf "$d.tar" && rm -f "$d.tar"
make -C "/lib/modules/$r/build" M="$d" modules 2>&1
make -C "$d" tools 2>&1
echo "@@srcversion=$(modinfo -F srcversion "$d/hbmon.ko")"`

async function buildOn(
  host: Target,
  kernel: string,
  facts: HbmonFacts,
  source: string,
  hash: string,
  into: string,
): Promise<Meta> {
  const remote = `/tmp/hbmon-build-${randomBytes(6).toString('hex')}`
  const files = sourceFiles(source)
  const tar = execFileSync('tar', ['-C', source, '-c', ...files], { maxBuffer: 64 * 1024 * 1024 })
  const started = Date.now()
  try {
    await host.put(tar, `${remote}.tar`, { mode: 0o600 })
    const r = await host.$({ nothrow: true, timeoutMs: 20 * 60_000 })`sh -c ${buildScript} sh ${remote} ${kernel}`
    const out = r.stdout + r.stderr
    if (r.code !== 0) {
      const errors = out
        .split('\n')
        .filter((l) => /error|Error \d/.test(l))
        .slice(0, 10)
      throw new Error(
        `build on ${host.name} (${kernel}) failed:\n${(errors.length ? errors : out.split('\n').slice(-15)).join('\n')}`,
      )
    }
    const srcversion = /@@srcversion=(\S+)/.exec(out)?.[1] ?? ''
    const tmp = `${into}.tmp-${randomBytes(4).toString('hex')}`
    mkdirSync(tmp, { recursive: true })
    for (const f of artifactFiles) await host.get(`${remote}/${f}`, join(tmp, f))
    const meta: Meta = {
      dir: into,
      kernel,
      arch: facts.arch,
      source_hash: hash,
      srcversion,
      built_on: host.name,
      distribution: distributionOf(facts),
      built_at: new Date().toISOString(),
      build_ms: Date.now() - started,
      warnings: out.split('\n').filter((l) => /warning:/.test(l)),
      gcc: facts.gcc,
    }
    writeFileSync(join(tmp, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`)
    // The cache entry appears whole or not at all.
    rmSync(into, { recursive: true, force: true })
    renameSync(tmp, into)
    return meta
  } finally {
    await host.$({ nothrow: true })`rm -rf -- ${remote} ${`${remote}.tar`}`
  }
}

const installHeaders = (host: Target, pkg: string) =>
  host.$({
    timeoutMs: 20 * 60_000,
  })`env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${pkg}`

/** What every (kernel, arch) group of a batch builds from. */
interface BuildPlan {
  source: string
  hash: string
  rebuild: boolean
  cacheRoot: string
  check: boolean
}

/** A host that wants a build for one kernel release: its facts and whether that release's headers are there. */
interface Member {
  host: Target
  facts: HbmonFacts
  kernel: InstalledKernel
  running: boolean
}

/** How one kernel of one host came out of its group's build. */
interface Outcome {
  kernel: string
  running: boolean
  how: 'built' | 'reused' | 'cached' | 'would build' | 'would reuse' | 'no headers' | 'failed'
  msg: string
  artifact?: Artifact
  build_ms?: number
  warnings?: string[]
}

/**
 * One (kernel release, arch) group: the cached build, else one build on a member with that release's headers
 * (installing them on one member when install_headers allows), and an outcome for every member.
 */
async function buildGroup(members: Member[], build: BuildPlan): Promise<Map<Member, Outcome>> {
  const outcomes = new Map<Member, Outcome>()
  const kernel = members[0]!.kernel.release
  const { arch } = members[0]!.facts
  const dir = join(build.cacheRoot, build.hash.slice(0, 16), `${kernel}-${arch}`)
  const names = members.map((m) => m.host.name)
  const each = (outcome: (m: Member) => Omit<Outcome, 'kernel' | 'running'>) => {
    for (const m of members) outcomes.set(m, { kernel, running: m.running, ...outcome(m) })
    return outcomes
  }
  let meta = build.rebuild ? undefined : cached(dir)
  let builtHere = false
  if (!meta) {
    let builder = members.find((m) => m.kernel.headers)
    if (!builder) {
      const wantInstall = members.find((m) => flagVar(m.host.vars, 'install_headers'))
      if (!wantInstall || build.check)
        return each(() => ({
          how: 'no headers',
          msg: `no kernel headers for ${kernel}: /lib/modules/${kernel}/build is missing on ${names.join(', ')}; install linux-headers-${kernel} (or set install_headers: true)`,
        }))
      await installHeaders(wantInstall.host, `linux-headers-${kernel}`)
      builder = wantInstall
    }
    if (build.check) {
      const chosen = builder
      return each((m) => ({
        how: m === chosen ? 'would build' : 'would reuse',
        msg: `would build for ${kernel} ${arch} on ${chosen.host.name}`,
      }))
    }
    try {
      meta = await buildOn(builder.host, kernel, builder.facts, build.source, build.hash, dir)
      builtHere = true
    } catch (e) {
      return each(() => ({ how: 'failed', msg: (e as Error).message }))
    }
  }
  const done = meta
  return each((m) => {
    const built = builtHere && done.built_on === m.host.name
    const how = built ? 'built' : builtHere ? 'reused' : 'cached'
    const text = built
      ? `built for ${kernel} ${arch} in ${(done.build_ms / 1000).toFixed(1)} s`
      : builtHere
        ? `reused the build of ${done.built_on} (${kernel} ${arch})`
        : `cached build for ${kernel} ${arch} (built on ${done.built_on})`
    const warnings =
      built && done.warnings.length ? `; ${done.warnings.length} compiler warnings:\n${done.warnings.join('\n')}` : ''
    return {
      how,
      msg: `${text}, srcversion ${done.srcversion}${warnings}`,
      artifact: { dir, ...pick(done), source_hash: build.hash },
      build_ms: built ? done.build_ms : 0,
      warnings: built ? done.warnings : [],
    }
  })
}

/**
 * A host's result from the outcomes of its kernels (the running one's first): it fails when the running kernel
 * got no build (deploy loads it next); another kernel without headers or whose build failed is reported in the
 * message and in data.missing_headers / data.failed_kernels, and preflight.yml fails the host when its next boot
 * is one of them.
 */
function hostResult(outcomes: Outcome[], check: boolean): TaskResult {
  const [running, ...others] = outcomes
  if (!running) return { changed: false, skipped: true, msg: 'no kernel to build for' }
  const ok = (o: Outcome) => !!o.artifact
  const artifacts = outcomes.flatMap((o) => (o.artifact ? [o.artifact] : []))
  const missing = outcomes.filter((o) => o.how === 'no headers').map((o) => o.kernel)
  const failedKernels = outcomes.filter((o) => o.how === 'failed').map((o) => o.kernel)
  const msg = [running.msg, ...others.map((o) => `${o.kernel}: ${o.msg}`)].join('\n')
  const runningFailed = !ok(running) && !running.how.startsWith('would')
  return {
    changed: outcomes.some((o) => o.how === 'built' || o.how === 'would build'),
    ...(runningFailed ? { failed: !(check && running.how === 'no headers') } : {}),
    msg,
    ...(artifacts.length
      ? { facts: { ...(running.artifact ? { hbmon_artifact: running.artifact } : {}), hbmon_artifacts: artifacts } }
      : {}),
    data: {
      ...(running.artifact ?? { kernel: running.kernel }),
      build: running.how,
      build_ms: running.build_ms ?? 0,
      warnings: running.warnings ?? [],
      kernels: outcomes.map((o) => ({
        kernel: o.kernel,
        build: o.how,
        srcversion: o.artifact?.srcversion ?? '',
        built_on: o.artifact?.built_on ?? '',
      })),
      missing_headers: missing,
      failed_kernels: failedKernels,
    },
  }
}

export default defineTask<Record<string, never>>({
  name: 'hbmon_build',
  description: 'build hbmon once per kernel release and arch of the batch, into a controller-side artifact cache',
  schema: { type: 'object', additionalProperties: false, properties: {} },

  async batch(targets: BatchTarget<Record<string, never>>[], ctx: BatchContext) {
    const results = new Map<string, TaskResult>()
    const groups = new Map<string, Member[]>()
    const wanted = new Map<Target, Member[]>()
    for (const { host } of targets) {
      let facts: HbmonFacts
      let kernels: InstalledKernel[]
      try {
        facts = await factsOf(host)
        kernels = facts.module_support ? targetKernels(await kernelsOf(host), kernelChoice(host.vars)) : []
      } catch (e) {
        results.set(host.name, { changed: false, failed: true, msg: (e as Error).message })
        continue
      }
      if (!facts.module_support) {
        results.set(host.name, {
          changed: false,
          msg: `kernel ${facts.kernel} has no module support: nothing to build`,
        })
        continue
      }
      const members = kernels.map((kernel) => ({ host, facts, kernel, running: kernel.release === facts.kernel }))
      wanted.set(host, members)
      for (const m of members) {
        const key = `${m.kernel.release} ${facts.arch}`
        groups.set(key, [...(groups.get(key) ?? []), m])
      }
    }
    if (!groups.size) return results
    const first = targets[0]!.host
    const source = String(first.vars.hbmon_source_dir ?? defaultSourceDir)
    const hash = sourceHash(source)
    const rebuild = flagVar(first.vars, 'hbmon_rebuild')

    const build = { source, hash, rebuild, cacheRoot: artifactCacheRoot(first), check: ctx.check }
    const outcomes = new Map<Member, Outcome>()
    for (const groupOutcomes of await Promise.all([...groups.values()].map((members) => buildGroup(members, build))))
      for (const [m, o] of groupOutcomes) outcomes.set(m, o)
    for (const [host, members] of wanted)
      results.set(
        host.name,
        hostResult(
          members.map((m) => outcomes.get(m)!),
          ctx.check,
        ),
      )
    return results
  },

  async run() {
    // Every host gets its result from the batch phase.
    return { changed: false, skipped: true, msg: 'not part of a build batch' }
  },
})
