// What the hbmon tasks share: the host facts (one command, one parser), the files the toolkit installs, the
// release history under /var/lib/hbmon, and the operations that load, verify and roll back the module — so
// that load and verify can roll a host back themselves before they report it failed.
import { createHash, randomBytes } from 'node:crypto'
import { homedir } from 'node:os'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { statFiles } from '../facts/files.ts'
import {
  HbmonHost,
  ModuleCheck,
  ModuleStatus,
  ReleaseHistory,
  ReleaseManifest,
  releasesDir,
  stateDir,
  type HbmonFacts,
  type ManifestEntry,
  type ModuleState,
  formatManifest,
} from '../facts/hbmon.ts'
import { InstalledKernels, type InstalledKernel, type Kernels } from '../facts/system.ts'
import { RemoteError, type Change, type Target } from '../src/task.ts'
import { ansibleBoolean, type Vars } from '../src/util.ts'

export const defaultLogFile = '/var/log/hbmon.log'
export const rsyslogRule = '/etc/rsyslog.d/30-hbmon.conf'
export const udevRule = '/etc/udev/rules.d/60-hbmon.rules'
export const toolsDir = '/usr/local/sbin'
export const helperPath = '/usr/lib/hbmon/hbmon-event'
export const unitsDir = '/etc/hbmon/units'
export const unitsConf = '/etc/modprobe.d/hbmon-units.conf'

/** The module's path for a kernel release: `updates/` wins over the distribution's tree in depmod's order. */
export const modulePath = (kernel: string) => `/lib/modules/${kernel}/updates/hbmon.ko`

export const kernelHook = '/usr/lib/hbmon/kernel-hook'
export const hookSourceDir = '/usr/lib/hbmon/src'
/** Modules built for kernels the host does not have yet, for the hook to install when one arrives. */
export const aheadDir = `${stateDir}/modules`
/** Where Debian's kernel and header packages run their hooks (run-parts: the name has no dot). */
export const hookLinks = [
  '/etc/kernel/postinst.d/hbmon',
  '/etc/kernel/header_postinst.d/hbmon',
  '/etc/kernel/postrm.d/hbmon',
]

/**
 * Every file the toolkit may install on a host running `kernel` with `otherKernels` installed too (what a
 * release records and uninstall removes); the running kernel's module first.
 */
export function managedFiles(kernel: string, otherKernels: string[] = []): string[] {
  return [
    modulePath(kernel),
    ...otherKernels.filter((k) => k !== kernel).map(modulePath),
    `${toolsDir}/hbctl`,
    `${toolsDir}/hbmon-listen`,
    helperPath,
    rsyslogRule,
    '/etc/logrotate.d/hbmon',
    '/etc/modprobe.d/hbmon.conf',
    unitsConf,
    '/etc/modules-load.d/hbmon.conf',
    udevRule,
    kernelHook,
    ...hookLinks,
  ]
}

/** A yes/no var of the hbmon tasks (it may come from -e as a string): Ansible's boolean, unset is false. */
export function flagVar(vars: Vars, name: string): boolean {
  const value = vars[name]
  if (value === undefined || value === null) return false
  const flag = ansibleBoolean(value, true)
  if (flag === undefined)
    throw new Error(`${name}: expected a boolean (true/false, yes/no), got ${JSON.stringify(value)}`)
  return flag
}

export function logFileOf(host: Target): string {
  return String(host.vars.hbmon_log_file ?? defaultLogFile)
}

export function artifactCacheRoot(host: Target): string {
  const configured = host.vars.hbmon_artifact_cache
  return typeof configured === 'string' && configured
    ? configured.replace(/^~(?=\/|$)/, homedir())
    : join(homedir(), '.cache/hbmon/artifacts')
}

/** The hbmon facts an earlier hbmon_facts task left, else read now. */
export async function factsOf(host: Target): Promise<HbmonFacts> {
  const known = host.facts.hbmon as HbmonFacts | undefined
  return known?.kernel ? known : host.fact(HbmonHost)
}

/** "debian 12": what builds are kept under, so that they go ahead only to hosts of the same distribution. */
export const distributionOf = (facts: HbmonFacts) => `${facts.distribution} ${facts.distribution_version}`

/** The kernels an earlier hbmon_facts task found, else read now. */
export async function kernelsOf(host: Target): Promise<Kernels> {
  const known = host.facts.hbmon_kernels as Kernels | undefined
  return known?.running ? known : host.fact(InstalledKernels)
}

export const kernelChoices = ['running', 'installed', 'next'] as const
export type KernelChoice = (typeof kernelChoices)[number]

/** hbmon_kernels: which kernels a host builds and installs for (default installed). */
export function kernelChoice(vars: Vars): KernelChoice {
  const value = vars.hbmon_kernels ?? 'installed'
  if (!kernelChoices.includes(value as KernelChoice))
    throw new Error(`hbmon_kernels: expected one of ${kernelChoices.join(', ')}, got ${JSON.stringify(value)}`)
  return value as KernelChoice
}

/**
 * The releases a host builds and installs for: the running kernel always (deploy loads it now), then every
 * installed kernel (installed) or the next boot's (next). Each with whether its kbuild headers are there.
 */
export function targetKernels(kernels: Kernels, choice: KernelChoice): InstalledKernel[] {
  const running = kernels.kernels.find((k) => k.release === kernels.running) ?? {
    release: kernels.running,
    image: false,
    headers: false,
  }
  const others =
    choice === 'installed'
      ? kernels.kernels.filter((k) => k.release !== kernels.running)
      : choice === 'next'
        ? kernels.kernels.filter((k) => k.release === kernels.next && k.release !== kernels.running)
        : []
  return [running, ...others]
}

/** What the build task leaves for install and verify (ansible_facts.hbmon_artifact). */
export interface Artifact {
  dir: string
  kernel: string
  arch: string
  source_hash: string
  srcversion: string
  built_on: string
}

/** The build for the running kernel. */
export function artifactOf(host: Target): Artifact | undefined {
  return host.facts.hbmon_artifact as Artifact | undefined
}

/** The builds for every kernel of hbmon_kernels (the running one's first). */
export function artifactsOf(host: Target): Artifact[] {
  const all = host.facts.hbmon_artifacts as Artifact[] | undefined
  const running = artifactOf(host)
  return all ?? (running ? [running] : [])
}

// ---- builds ----------------------------------------------------------------------------------------------

export const defaultSourceDir = fileURLToPath(new URL('../kernel/', import.meta.url))
export const artifactFiles = ['hbmon.ko', 'hbctl', 'hbmon-listen'] as const

/** The files that make a build: sources and build files, not what a build in place leaves behind. */
export function sourceFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter(
      (f) =>
        /^(?:Makefile|Kbuild|dkms\.conf)$|\.[ch]$/.test(f) && !f.endsWith('.mod.c') && statSync(join(dir, f)).isFile(),
    )
    .sort()
}

/** A cache entry's meta.json: the artifact and how it was built. */
export interface Meta extends Artifact {
  /** ID and VERSION_ID of the build host's os-release: a build goes ahead only to hosts of the same. */
  distribution?: string
  built_at: string
  build_ms: number
  warnings: string[]
  gcc: string
}

/** The cache entry in `dir`, when it is complete. */
export function cached(dir: string): Meta | undefined {
  if (!existsSync(join(dir, 'meta.json')) || !artifactFiles.every((f) => existsSync(join(dir, f)))) return undefined
  return JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as Meta
}

export const pick = (m: Meta): Omit<Artifact, 'dir'> => ({
  kernel: m.kernel,
  arch: m.arch,
  source_hash: m.source_hash,
  srcversion: m.srcversion,
  built_on: m.built_on,
})

/**
 * Every build of these sources for `arch` made on a host of `distribution` in the cache: those for kernels a
 * host of that distribution lacks go to it ahead of time.
 */
export function cachedBuilds(cacheRoot: string, hash: string, arch: string, distribution: string): Artifact[] {
  const root = join(cacheRoot, hash.slice(0, 16))
  if (!existsSync(root)) return []
  return readdirSync(root)
    .filter((entry) => entry.endsWith(`-${arch}`))
    .flatMap((entry) => {
      const meta = cached(join(root, entry))
      return meta?.distribution === distribution ? [{ dir: join(root, entry), ...pick(meta) }] : []
    })
}

// ---- module state ----------------------------------------------------------------------------------------

export const describeHolders = (holders: ModuleState['holders']): string =>
  holders.map((h) => `${h.pid} (${h.comm}${h.unit ? `, ${h.unit}` : ''})`).join(', ')

/**
 * The services a reload stopped, started again once a module is loaded (by the reload itself, or by whatever
 * loads one next: a rollback, or the next run after a controller died). Kept on the host, not in the controller.
 */
const stoppedUnits = `${stateDir}/stopped-units`
const startStoppedUnits = `start_stopped() {
  [ -s ${stoppedUnits} ] || return 0
  systemctl reset-failed $(cat ${stoppedUnits}) 2>/dev/null; systemctl start $(cat ${stoppedUnits}) 2>&1
  rm -f ${stoppedUnits}
}`

// TERM, then KILL whatever still runs after 5 s. $pids: the processes.
const killPids = `if [ -n "$pids" ]; then
  kill -TERM $pids 2>/dev/null
  for i in $(seq 50); do
    alive=; for p in $pids; do kill -0 $p 2>/dev/null && alive=1; done
    [ -n "$alive" ] || break; sleep 0.1
  done
  kill -KILL $pids 2>/dev/null; sleep 0.2
fi`

/** Stops the processes that hold /dev/hbmon for good (uninstall): TERM, then KILL after 5 s. */
export async function stopHolders(host: Target, holders: ModuleState['holders']): Promise<void> {
  await host.$({ nothrow: true })`sh -c ${`pids="$*"\n${killPids}`} sh ${holders.map((h) => String(h.pid))}`
}

/**
 * What brings the loaded module to the file modprobe finds: load it when absent, reload it when another
 * srcversion is loaded (stopping the holders when allowed); undefined when nothing is needed. Throws a
 * HoldersError when the module is in use and its holders may not be stopped. The change throws when it cannot
 * be made (rmmod or modprobe failing): the caller rolls back.
 */
export async function loadChange(host: Target, restartHolders: boolean): Promise<Change | undefined> {
  const state = await host.fact(ModuleStatus, 'when-reloading')
  if (!state.file) throw new Error('modprobe finds no hbmon module file (was it installed and depmod run?)')
  if (state.loaded === state.file) return undefined
  if (!state.loaded) return { describe: `loaded ${state.file}`, apply: () => modprobe(host) }
  if (state.holders.length || state.refcnt > 0) {
    const who = state.holders.length
      ? describeHolders(state.holders)
      : `refcnt ${state.refcnt}, no process found with /dev/hbmon open`
    if (!restartHolders)
      throw new HoldersError(
        `hbmon ${state.loaded} is in use by ${who}; not reloading it (set hbmon_restart_holders: true to stop them)`,
      )
  }
  return {
    describe: `reloaded ${state.loaded} → ${state.file}${state.holders.length ? ` (stopped ${describeHolders(state.holders)})` : ''}`,
    apply: () => reload(host, state.holders),
  }
}

/** loadChange, applied at once (for rollbacks, which run inside a change being applied). */
export async function ensureLoaded(host: Target, restartHolders: boolean): Promise<void> {
  await (await loadChange(host, restartHolders))?.apply()
}

/** Raised when the module is busy: the running module is untouched, so the caller need not reload anything. */
export class HoldersError extends Error {}

// The holders stopped, rmmod and modprobe in one remote command, deaf to the hangup and the closed pipe of a
// controller that dies in between: a host is never left without the module because its controller was killed
// mid-reload. A holder that runs in a service with a unit file is stopped through systemd, so that Restart=
// does not spin against a missing /dev/hbmon (and hit its start limit) during a reload or a rollback, and is
// started again once a module is loaded; other holders (a transient unit would vanish when stopped) get TERM,
// then KILL, and their supervisor restarts them. Args: PID=UNIT (UNIT may be empty).
const reloadScript = `trap '' HUP PIPE
${startStoppedUnits}
units=; pids=
for holder; do
  unit=\${holder#*=}
  if [ -n "$unit" ] && [ "$(systemctl show -p Transient --value "$unit" 2>/dev/null)" = no ]; then
    units="$units $unit"
  else
    pids="$pids \${holder%%=*}"
  fi
done
if [ -n "$units" ]; then
  mkdir -p ${stateDir}
  { cat ${stoppedUnits} 2>/dev/null; printf '%s\\n' $units; } | sort -u >${stoppedUnits}.tmp &&
    mv ${stoppedUnits}.tmp ${stoppedUnits}
  systemctl stop $units 2>&1
fi
${killPids}
rmmod hbmon 2>&1 || { start_stopped; exit 3; }
modprobe hbmon 2>&1 || exit 4
start_stopped`

async function reload(host: Target, holders: ModuleState['holders']): Promise<void> {
  const args = holders.map((h) => `${h.pid}=${h.unit}`)
  const r = await host.$({ nothrow: true })`sh -c ${reloadScript} sh ${args}`
  const why = (r.stderr || r.stdout).trim()
  if (r.code === 3) throw new HoldersError(`rmmod hbmon failed: ${why}`)
  if (r.code !== 0) throw new Error(`modprobe hbmon failed: ${why}`)
}

// A load where none is loaded: the services an interrupted reload stopped come back with it.
const modprobeScript = `${startStoppedUnits}
modprobe hbmon 2>&1 || exit 4
start_stopped`

async function modprobe(host: Target): Promise<void> {
  const r = await host.$({ nothrow: true })`sh -c ${modprobeScript}`
  if (r.code !== 0) throw new Error(`modprobe hbmon failed: ${(r.stderr || r.stdout).trim()}`)
}

// ---- verify ------------------------------------------------------------------------------------------------

export interface Verification {
  ok: boolean
  problems: string[]
  srcversion: string
  log_ms?: number
}

// The log check: a value only this run knows goes through the module (SEND) and must reach the log file.
const logProbe = `v=$1 log=$2
hbctl -s "$v" >/dev/null 2>&1 || { echo "hbctl -s failed"; exit 1; }
i=0; while [ $i -lt 100 ]; do
  grep -q "value=$v " "$log" 2>/dev/null && { echo "found after $i"; exit 0; }
  sleep 0.1; i=$((i+1))
done
echo "no line with value=$v in $log after 10 s"; exit 1`

/** Checks the loaded module against the file, the expected srcversion, the device, hbctl and the log file. */
export async function verifyModule(host: Target, expectedSrcversion: string | undefined): Promise<Verification> {
  const c = await host.fact(ModuleCheck)
  const problems: string[] = []
  const fileSrc = c.file_srcversion
  if (!c.vermagic.startsWith(`${c.release} `))
    problems.push(`vermagic "${c.vermagic}" does not start with ${c.release}`)
  if (expectedSrcversion && fileSrc !== expectedSrcversion)
    problems.push(
      `srcversion of ${c.filename || 'the module file'} is ${fileSrc || 'none'}, built ${expectedSrcversion}`,
    )
  if (!c.lsmod) problems.push('lsmod does not list hbmon')
  if (c.sys_srcversion !== fileSrc)
    problems.push(`loaded srcversion ${c.sys_srcversion || 'none'} differs from the file's ${fileSrc || 'none'}`)
  if (!c.device) problems.push('/dev/hbmon is not a character device')
  if (c.selftest !== 'ok') problems.push(`hbctl selftest: ${c.selftest}`)
  let log_ms: number | undefined
  if (!problems.length) {
    const value = String(randomBytes(4).readUInt32BE(0) % 1_000_000_000)
    const started = Date.now()
    const r = await host.$({ nothrow: true })`sh -c ${logProbe} sh ${value} ${logFileOf(host)}`
    if (r.code !== 0) problems.push(`log: ${r.stdout.trim() || r.stderr.trim()}`)
    else log_ms = Date.now() - started
  }
  return { ok: problems.length === 0, problems, srcversion: fileSrc, ...(log_ms !== undefined ? { log_ms } : {}) }
}

// ---- releases ------------------------------------------------------------------------------------------------

export const releaseId = (manifest: string) => createHash('sha256').update(manifest).digest('hex').slice(0, 12)

/** The files of the managed set (`kernel` running, `others` installed) that exist now, as a manifest. */
export async function installedManifest(host: Target, kernel: string, others: string[] = []): Promise<ManifestEntry[]> {
  const paths = managedFiles(kernel, others)
  const stats = await statFiles(host, paths, true)
  return paths.flatMap((path, i) =>
    stats[i]!.exists && stats[i]!.type === 'file' ? [{ path, sha256: stats[i]!.sha256!, mode: stats[i]!.mode! }] : [],
  )
}

// Writes the history and the pointer atomically (temp + rename), then removes releases beyond the last KEEP. A
// write that fails (a full disk) takes its temporary file with it.
const writePointerScript = `set -e
cd ${stateDir}
trap 'rm -f history.tmp current.tmp' EXIT
printf '%s\\n' "$@" | awk 'NF' > history.tmp && mv -f history.tmp history
printf '%s\\n' "$CURRENT" > current.tmp && mv -f current.tmp current
keep=$(tail -n "$KEEP" history)
for d in releases/*/; do d=\${d%/}; id=\${d#releases/}; [ -d "$d" ] || continue
  echo "$keep" | grep -qx "$id" || [ "$id" = "$CURRENT" ] || rm -rf -- "$d"
done`

export async function writeHistory(host: Target, ids: string[], current: string, keep: number): Promise<void> {
  await host.$`env CURRENT=${current} KEEP=${String(Math.max(1, keep))} sh -c ${writePointerScript} sh ${ids}`
}

// Copies each file of the manifest into releases/ID/files/PATH (cp -p keeps the mode), then the manifest;
// the folder appears under its name only when complete. A copy that fails (a full disk) removes the partial
// folder; one whose shell died (a host that lost power, a cut connection) is removed by the next record: the
// host lock makes sure no other run is writing one.
const recordScript = `set -e
id=$1; shift
dir=${releasesDir}/$id
[ -f "$dir/manifest" ] && exit 0
rm -rf ${releasesDir}/*.tmp
trap 'rm -rf "$dir.tmp"' EXIT
mkdir -p "$dir.tmp/files"
for p in "$@"; do mkdir -p "$dir.tmp/files\${p%/*}"; cp -p -- "$p" "$dir.tmp/files$p"; done
cat > "$dir.tmp/manifest"
rm -rf "$dir"; mv "$dir.tmp" "$dir"
trap - EXIT`

export async function recordRelease(host: Target, entries: ManifestEntry[]): Promise<string> {
  const manifest = formatManifest(entries)
  const id = releaseId(manifest)
  await host.$({ input: manifest })`sh -c ${recordScript} sh ${id} ${entries.map((e) => e.path)}`
  return id
}

// Restores one release byte for byte: each file checked against the manifest, copied beside its place and
// renamed over it; files the toolkit manages but the release lacks are removed. Prints the paths it changed.
const restoreScript = `set -e
dir=${releasesDir}/$1; shift
while read -r sum mode path; do
  [ -n "$path" ] || continue
  src="$dir/files$path"
  [ "$(sha256sum < "$src" | cut -c1-64)" = "$sum" ] || { echo "corrupt copy: $src" >&2; exit 3; }
  if [ -f "$path" ] && [ "$(sha256sum < "$path" | cut -c1-64)" = "$sum" ] && [ "$(stat -c %a "$path")" = "$(echo $mode | sed 's/^0*//')" ]; then continue; fi
  mkdir -p "\${path%/*}"
  cp -p -- "$src" "$path.hbmon-restore" && chmod "$mode" "$path.hbmon-restore" && mv -f -- "$path.hbmon-restore" "$path"
  echo "$path"
done < "$dir/manifest"
for p in "$@"; do
  grep -q " $p\$" "$dir/manifest" && continue
  [ -e "$p" ] || continue
  rm -f -- "$p"; echo "$p"
done`

/**
 * Makes release `id` the installed one: files, depmod, rsyslog and udev when their files changed, the module
 * reloaded when its srcversion differs. Returns the changed paths. The module reload may throw (holders).
 */
export async function restoreRelease(
  host: Target,
  id: string,
  kernel: string,
  options: { restartHolders: boolean; others?: string[] },
): Promise<string[]> {
  const others = options.others ?? []
  const r = await host.$({ nothrow: true })`sh -c ${restoreScript} sh ${id} ${managedFiles(kernel, others)}`
  if (r.code !== 0) throw new Error(`restoring release ${id} failed: ${(r.stderr || r.stdout).trim()}`)
  const changed = r.stdout.split('\n').filter(Boolean)
  await afterFilesChanged(host, changed, [kernel, ...others])
  await ensureLoaded(host, options.restartHolders)
  return changed
}

/** The follow-ups of changed files: depmod for each kernel whose module changed, rsyslog and udev for their rules. */
export async function afterFilesChanged(host: Target, changed: string[], kernels: string[]): Promise<void> {
  for (const kernel of new Set(kernels)) if (changed.includes(modulePath(kernel))) await host.$`depmod -a ${kernel}`
  if (changed.includes(rsyslogRule)) await host.$`systemctl restart rsyslog`
  if (changed.includes(udevRule)) await host.$({ nothrow: true })`udevadm control --reload`
}

/**
 * The automatic rollback of load and verify: back to the host's current release (the last one that was
 * verified: a deploy records its release only after verify), verified again. Returns a sentence for the
 * failure message; never throws. Runs only inside a change being applied.
 */
export async function rollBackToCurrent(host: Target, restartHolders: boolean): Promise<string> {
  try {
    const [facts, kernels, { current }] = await Promise.all([factsOf(host), kernelsOf(host), host.fact(ReleaseHistory)])
    if (!current) {
      // Nothing verified ever ran here: take the broken module out rather than leave it half working.
      await host.$({ nothrow: true })`rmmod hbmon`
      return 'no earlier release to roll back to; hbmon unloaded'
    }
    const others = kernels.kernels.map((k) => k.release)
    const changed = await restoreRelease(host, current, facts.kernel, { restartHolders, others })
    const manifest = await host.fact(ReleaseManifest, current)
    const ko = manifest.find((e) => e.path === modulePath(facts.kernel))
    const check = await verifyModule(host, undefined)
    const what = `rolled back to release ${current} (${changed.length} files restored${ko ? '' : ', no module in it'})`
    return check.ok ? `${what}, verified` : `${what}, but it does not verify either: ${check.problems.join('; ')}`
  } catch (e) {
    return `rollback failed: ${e instanceof RemoteError || e instanceof Error ? e.message : String(e)}`
  }
}
