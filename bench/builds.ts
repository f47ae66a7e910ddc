// Build benchmark (issue 17, part 2): N hosts on K kernel releases cost K builds with the artifact cache,
// N with a DKMS-style rollout that builds on every host. Measured through the CLI (`deploy` with
// bench/builds/build.yml: facts + hbmon_build), on the lab's two VMs, each under ALIASES inventory names
// (the same machine reached under another name is, to the rollout, one more host running that kernel).
//   ours:    one run over all N hosts with a fresh artifact cache
//   re-run:  the same again (the cache is hit: no build)
//   DKMS:    every host on its own, at the same time, each with an empty cache of its own (build on every host)
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse, stringify } from 'yaml'
import type { Lab } from '../lab/lab.ts'
import { deploy, root, type DeployRun } from '../test/fleet/_fleet.ts'

const playbook = join(root, 'bench/builds/build.yml')

export interface Strategy {
  runs: number
  builds: number
  cached: number
  reused: number
  wall_s: number
  failed: number
}

export interface BuildsResult {
  hosts: number
  releases: number
  kernels: Record<string, string>
  /** Seconds per build in the first run (one build per release, nothing else building). */
  build_s: Record<string, number>
  ours: Strategy
  rerun: Strategy
  dkms: Strategy
  ratios: { dkms_builds_per_ours: number; dkms_wall_per_ours: number; rerun_wall_per_ours: number }
}

/** Counts what each host's build step did, over one or more deploy runs. */
function tally(runs: DeployRun[], wall: number, kernels: Record<string, string>, buildS: Record<string, number>) {
  const s: Strategy = { runs: runs.length, builds: 0, cached: 0, reused: 0, wall_s: wall, failed: 0 }
  for (const run of runs) {
    if (!run.report) throw new Error(`deploy wrote no report (exit ${run.code}):\n${run.stderr}${run.stdout}`)
    for (const [host, h] of Object.entries<any>(run.report.hosts)) {
      const t = (h.tasks ?? []).find((x: any) => x.task === 'Build hbmon')
      if (!t || t.status === 'failed' || !t.data) {
        s.failed++
        continue
      }
      kernels[host] = t.data.kernel
      if (t.data.build === 'built') {
        s.builds++
        buildS[host] = t.data.build_ms / 1000
      } else if (t.data.build === 'cached') s.cached++
      else s.reused++
    }
  }
  return s
}

export async function buildsBench(lab: Lab, work: string, aliases = 3): Promise<BuildsResult> {
  mkdirSync(work, { recursive: true })
  const inv = parse(readFileSync(lab.inventoryPath, 'utf8'))
  const vms: Record<string, unknown> = inv.all.children.vms.hosts
  const hosts: Record<string, unknown> = {}
  for (const [name, vars] of Object.entries(vms))
    for (let i = 0; i < aliases; i++) hosts[i === 0 ? name : `${name}-${String.fromCharCode(97 + i)}`] = vars
  const inventory = join(work, 'inventory.yml')
  writeFileSync(inventory, stringify({ all: { vars: inv.all.vars, hosts } }))
  const names = Object.keys(hosts)
  const kernels: Record<string, string> = {}
  const buildS: Record<string, number> = {}
  // Build times are kept from the first run, where each release is built once with nothing else building.
  const timed = async (fn: () => Promise<DeployRun[]>) => {
    const started = Date.now()
    const runs = await fn()
    return tally(runs, (Date.now() - started) / 1000, kernels, Object.keys(buildS).length ? {} : buildS)
  }
  const cache = join(work, 'cache')
  const ours = await timed(async () => [
    await deploy(['-i', inventory, '-e', `hbmon_artifact_cache=${cache}`, playbook], join(work, 'ours.json')),
  ])
  const rerun = await timed(async () => [
    await deploy(['-i', inventory, '-e', `hbmon_artifact_cache=${cache}`, playbook], join(work, 'rerun.json')),
  ])
  const dkms = await timed(() =>
    Promise.all(
      names.map((h) =>
        deploy(
          ['-i', inventory, '--limit', h, '-e', `hbmon_artifact_cache=${join(work, `dkms-${h}`)}`, playbook],
          join(work, `dkms-${h}.json`),
        ),
      ),
    ),
  )
  return {
    hosts: names.length,
    releases: new Set(Object.values(kernels)).size,
    kernels,
    build_s: buildS,
    ours,
    rerun,
    dkms,
    ratios: {
      dkms_builds_per_ours: dkms.builds / ours.builds,
      dkms_wall_per_ours: dkms.wall_s / ours.wall_s,
      rerun_wall_per_ours: rerun.wall_s / ours.wall_s,
    },
  }
}
