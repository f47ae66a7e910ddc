// hbmon_build: the module and its tools built once per (kernel release, arch) of the batch, on one host of
// each group with that host's own kbuild headers, and kept in a controller-side cache keyed by (sha256 of the
// kernel/ sources, release, arch). The batch phase does the work; each host's result says whether its
// artifacts were built on it, built on another host of its group, or taken from the cache.
//
// Vars: hbmon_source_dir (default: the package's kernel/), hbmon_artifact_cache (default
// ~/.cache/hbmon/artifacts), hbmon_rebuild (true: build even when cached), install_headers (true: install the
// missing linux-headers-<release> with apt-get instead of failing).
import { execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { HbmonFacts } from '../facts/hbmon.ts'
import { defineTask, type BatchContext, type BatchTarget, type Target, type TaskResult } from '../src/task.ts'
import { artifactCacheRoot, factsOf, flagVar, type Artifact } from './_hbmon.ts'

const defaultSourceDir = fileURLToPath(new URL('../kernel/', import.meta.url))
export const artifactFiles = ['hbmon.ko', 'hbctl', 'hbmon-listen'] as const

/** The files that make a build: sources and build files, not what a build in place leaves behind. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter(
      (f) =>
        /^(?:Makefile|Kbuild|dkms\.conf)$|\.[ch]$/.test(f) && !f.endsWith('.mod.c') && statSync(join(dir, f)).isFile(),
    )
    .sort()
}

export function sourceHash(dir: string): string {
  const hash = createHash('sha256')
  for (const f of sourceFiles(dir))
    hash.update(`${f}\0${readFileSync(join(dir, f)).length}\0`).update(readFileSync(join(dir, f)))
  return hash.digest('hex')
}

interface Meta extends Artifact {
  built_at: string
  build_ms: number
  warnings: string[]
  gcc: string
}

// Build in a fresh directory; print the compiler's output (warnings) and the srcversion; leave the directory.
const buildScript = `set -e
d=$1
mkdir -p "$d" && tar -C "$d" -xf "$d.tar" && rm -f "$d.tar"
make -C "/lib/modules/$(uname -r)/build" M="$d" modules 2>&1
make -C "$d" tools 2>&1
echo "@@srcversion=$(modinfo -F srcversion "$d/hbmon.ko")"`

async function buildOn(host: Target, facts: HbmonFacts, source: string, hash: string, into: string): Promise<Meta> {
  const remote = `/tmp/hbmon-build-${randomBytes(6).toString('hex')}`
  const files = sourceFiles(source)
  const tar = execFileSync('tar', ['-C', source, '-c', ...files], { maxBuffer: 64 * 1024 * 1024 })
  const started = Date.now()
  try {
    await host.put(tar, `${remote}.tar`, { mode: 0o600 })
    const r = await host.$({ nothrow: true, timeoutMs: 20 * 60_000 })`sh -c ${buildScript} sh ${remote}`
    const out = r.stdout + r.stderr
    if (r.code !== 0) {
      const errors = out
        .split('\n')
        .filter((l) => /error|Error \d/.test(l))
        .slice(0, 10)
      throw new Error(
        `build on ${host.name} (${facts.kernel}) failed:\n${(errors.length ? errors : out.split('\n').slice(-15)).join('\n')}`,
      )
    }
    const srcversion = /@@srcversion=(\S+)/.exec(out)?.[1] ?? ''
    const tmp = `${into}.tmp-${randomBytes(4).toString('hex')}`
    mkdirSync(tmp, { recursive: true })
    for (const f of artifactFiles) await host.get(`${remote}/${f}`, join(tmp, f))
    const meta: Meta = {
      dir: into,
      kernel: facts.kernel,
      arch: facts.arch,
      source_hash: hash,
      srcversion,
      built_on: host.name,
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

function cached(dir: string): Meta | undefined {
  if (!existsSync(join(dir, 'meta.json')) || !artifactFiles.every((f) => existsSync(join(dir, f)))) return undefined
  return JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as Meta
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

/**
 * One (kernel release, arch) group: the cached build, else one build on a member with headers (installing them
 * on one member when install_headers allows), and a result for every member.
 */
async function buildGroup(
  members: { host: Target; facts: HbmonFacts }[],
  build: BuildPlan,
  results: Map<string, TaskResult>,
): Promise<void> {
  const { kernel, arch } = members[0]!.facts
  const dir = join(build.cacheRoot, build.hash.slice(0, 16), `${kernel}-${arch}`)
  const names = members.map((m) => m.host.name)
  let meta = build.rebuild ? undefined : cached(dir)
  let builtHere = false
  if (!meta) {
    let builder = members.find((m) => m.facts.headers)
    if (!builder) {
      const wantInstall = members.find((m) => flagVar(m.host.vars, 'install_headers'))
      if (!wantInstall || build.check) {
        for (const m of members)
          results.set(m.host.name, {
            changed: false,
            failed: !build.check,
            msg: `no kernel headers for ${kernel}: /lib/modules/${kernel}/build is missing on ${names.join(', ')}; install ${m.facts.headers_package} (or set install_headers: true)`,
          })
        return
      }
      await installHeaders(wantInstall.host, wantInstall.facts.headers_package)
      builder = wantInstall
    }
    if (build.check) {
      for (const m of members)
        results.set(m.host.name, {
          changed: m === builder,
          msg: `would build for ${kernel} ${arch} on ${builder.host.name}`,
        })
      return
    }
    try {
      meta = await buildOn(builder.host, builder.facts, build.source, build.hash, dir)
      builtHere = true
    } catch (e) {
      for (const m of members) results.set(m.host.name, { changed: false, failed: true, msg: (e as Error).message })
      return
    }
  }
  for (const m of members) {
    const built = builtHere && meta.built_on === m.host.name
    const how = built
      ? `built for ${kernel} ${arch} in ${(meta.build_ms / 1000).toFixed(1)} s`
      : builtHere
        ? `reused the build of ${meta.built_on} (${kernel} ${arch})`
        : `cached build for ${kernel} ${arch} (built on ${meta.built_on})`
    const warnings =
      built && meta.warnings.length ? `; ${meta.warnings.length} compiler warnings:\n${meta.warnings.join('\n')}` : ''
    const artifact: Artifact = {
      dir,
      kernel,
      arch,
      source_hash: build.hash,
      srcversion: meta.srcversion,
      built_on: meta.built_on,
    }
    results.set(m.host.name, {
      changed: built,
      msg: `${how}, srcversion ${meta.srcversion}${warnings}`,
      facts: { hbmon_artifact: artifact },
      data: {
        ...artifact,
        build: built ? 'built' : builtHere ? 'reused' : 'cached',
        group: names,
        build_ms: built ? meta.build_ms : 0,
        warnings: built ? meta.warnings : [],
      },
    })
  }
}

export default defineTask<Record<string, never>>({
  name: 'hbmon_build',
  description: 'build hbmon once per kernel release and arch of the batch, into a controller-side artifact cache',
  schema: { type: 'object', additionalProperties: false, properties: {} },

  async batch(targets: BatchTarget<Record<string, never>>[], ctx: BatchContext) {
    const results = new Map<string, TaskResult>()
    const groups = new Map<string, { host: Target; facts: HbmonFacts }[]>()
    for (const { host } of targets) {
      let facts: HbmonFacts
      try {
        facts = await factsOf(host)
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
      const key = `${facts.kernel} ${facts.arch}`
      groups.set(key, [...(groups.get(key) ?? []), { host, facts }])
    }
    if (!groups.size) return results
    const first = targets[0]!.host
    const source = String(first.vars.hbmon_source_dir ?? defaultSourceDir)
    const hash = sourceHash(source)
    const rebuild = flagVar(first.vars, 'hbmon_rebuild')

    const build = { source, hash, rebuild, cacheRoot: artifactCacheRoot(first), check: ctx.check }
    await Promise.all([...groups.values()].map((members) => buildGroup(members, build, results)))
    return results
  },

  async run() {
    // Every host gets its result from the batch phase.
    return { changed: false, skipped: true, msg: 'not part of a build batch' }
  },
})
