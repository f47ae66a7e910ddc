// Facts about hbmon on a host: the kernel it builds for, the module loaded and its file, the checks verify
// makes, and the release history under /var/lib/hbmon.
import { defineFact } from '../src/fact.ts'

export const stateDir = '/var/lib/hbmon'
export const releasesDir = `${stateDir}/releases`
export const currentPointer = `${stateDir}/current`
export const historyFile = `${stateDir}/history`

// key=value lines, so that a missing tool leaves an empty value instead of shifting the others.
function keyValues(stdout: string): Map<string, string> {
  const kv = new Map<string, string>()
  for (const line of stdout.split('\n')) {
    const eq = line.indexOf('=')
    if (eq > 0) kv.set(line.slice(0, eq), line.slice(eq + 1).trim())
  }
  return kv
}

export interface HbmonFacts {
  kernel: string
  arch: string
  distribution: string
  distribution_version: string
  /** /lib/modules/$(uname -r)/build exists: kbuild can build against the running kernel. */
  headers: boolean
  headers_package: string
  gcc: string
  /** enabled | disabled | unsupported (mokutil says so) | unknown (no mokutil). */
  secure_boot: string
  /** The kernel loads modules at all (/proc/modules exists). */
  module_support: boolean
  /** srcversion of the loaded hbmon, '' when it is not loaded. */
  loaded_srcversion: string
  /** The release /var/lib/hbmon/current points to, '' when none. */
  current_release: string
}

/** What hbmon_build, install and load decide from: the running kernel, its headers, gcc, the loaded module. */
export const HbmonHost = defineFact<HbmonFacts>({
  name: 'hbmon_host',
  script: `r=$(uname -r)
echo "kernel=$r"
echo "arch=$(uname -m)"
( . /etc/os-release 2>/dev/null; echo "distribution=\${ID:-}"; echo "distribution_version=\${VERSION_ID:-}" )
[ -d "/lib/modules/$r/build" ] && echo headers=yes || echo headers=no
echo "gcc=$(gcc -dumpfullversion 2>/dev/null || gcc -dumpversion 2>/dev/null)"
if command -v mokutil >/dev/null 2>&1; then echo "secure_boot=$(mokutil --sb-state 2>&1 | head -n 1)"; else echo secure_boot=; fi
[ -e /proc/modules ] && echo modules=yes || echo modules=no
echo "loaded=$(cat /sys/module/hbmon/srcversion 2>/dev/null)"
echo "current=$(cat ${currentPointer} 2>/dev/null)"`,
  parse(stdout) {
    const kv = keyValues(stdout)
    const kernel = kv.get('kernel') ?? ''
    if (!kernel) throw new Error('no kernel release in the output')
    const sb = kv.get('secure_boot') ?? ''
    return {
      kernel,
      arch: kv.get('arch') ?? '',
      distribution: kv.get('distribution') ?? '',
      distribution_version: kv.get('distribution_version') ?? '',
      headers: kv.get('headers') === 'yes',
      headers_package: `linux-headers-${kernel}`,
      gcc: kv.get('gcc') ?? '',
      secure_boot: !sb
        ? 'unknown'
        : /enabled/i.test(sb)
          ? 'enabled'
          : /disabled/i.test(sb)
            ? 'disabled'
            : /support/i.test(sb)
              ? 'unsupported'
              : 'unknown',
      module_support: kv.get('modules') === 'yes',
      loaded_srcversion: kv.get('loaded') ?? '',
      current_release: kv.get('current') ?? '',
    }
  },
})

export interface ModuleState {
  loaded: string // srcversion of the loaded module, '' if none
  file: string // srcversion of the file modprobe would load, '' if none
  refcnt: number
  /** Every process with /dev/hbmon open; `unit` is its systemd service when it runs in one ('' otherwise). */
  holders: { pid: number; comm: string; unit: string }[]
}

/**
 * The loaded module against its file, and who holds /dev/hbmon. Holders (every process with /dev/hbmon open)
 * are looked for only when $1 is `all` or a reload is coming (the loaded module is not the file's): walking
 * /proc is slow on a small VM. Args: all|when-reloading.
 */
export const ModuleStatus = defineFact<ModuleState>({
  name: 'module_status',
  script: `loaded=$(cat /sys/module/hbmon/srcversion 2>/dev/null); file=$(modinfo -F srcversion hbmon 2>/dev/null)
echo "loaded=$loaded"; echo "file=$file"
echo "refcnt=$(cat /sys/module/hbmon/refcnt 2>/dev/null || echo 0)"
if [ -n "$loaded" ] && [ "$loaded" != "$file" -o "$1" = all ]; then
  find /proc/[0-9]*/fd -maxdepth 1 -lname /dev/hbmon 2>/dev/null | cut -d/ -f3 | sort -u | while read -r pid; do
    echo "holder=$pid $(cat /proc/$pid/comm 2>/dev/null)"
    cg=$(sed -n 's|^0::||p' /proc/$pid/cgroup 2>/dev/null)
    case $cg in /user.slice/*) ;; *.service) echo "unit=$pid \${cg##*/}" ;; esac
  done
fi; true`,
  parse(stdout) {
    const state: ModuleState = { loaded: '', file: '', refcnt: 0, holders: [] }
    for (const line of stdout.split('\n')) {
      const eq = line.indexOf('=')
      const [key, value] = [line.slice(0, eq), line.slice(eq + 1)]
      if (key === 'loaded') state.loaded = value.trim()
      if (key === 'file') state.file = value.trim()
      if (key === 'refcnt') state.refcnt = Number(value) || 0
      if (key === 'holder') {
        const [pid, ...comm] = value.split(' ')
        state.holders.push({ pid: Number(pid), comm: comm.join(' '), unit: '' })
      }
      if (key === 'unit') {
        const [pid, unit] = value.split(' ')
        const holder = state.holders.find((h) => h.pid === Number(pid))
        if (holder && unit) holder.unit = unit
      }
    }
    return state
  },
})

export interface ModuleChecks {
  release: string
  vermagic: string
  file_srcversion: string
  filename: string
  lsmod: boolean
  sys_srcversion: string
  device: boolean
  /** 'ok', or 'failed: <hbctl's last line>'. */
  selftest: string
}

/** What verify checks in one go: modinfo, lsmod, /sys/module, /dev/hbmon and `hbctl selftest`. */
export const ModuleCheck = defineFact<ModuleChecks>({
  name: 'module_check',
  script: `r=$(uname -r)
echo "release=$r"
echo "vermagic=$(modinfo -F vermagic hbmon 2>/dev/null)"
echo "file_srcversion=$(modinfo -F srcversion hbmon 2>/dev/null)"
echo "filename=$(modinfo -n hbmon 2>/dev/null)"
lsmod | grep -q '^hbmon ' && echo lsmod=yes || echo lsmod=no
echo "sys_srcversion=$(cat /sys/module/hbmon/srcversion 2>/dev/null)"
[ -c /dev/hbmon ] && echo dev=yes || echo dev=no
out=$(hbctl selftest 2>&1) && echo selftest=ok || echo "selftest=failed: $(echo "$out" | tail -n 1)"`,
  parse(stdout) {
    const kv = keyValues(stdout)
    if (!kv.get('release')) throw new Error('no kernel release in the output')
    return {
      release: kv.get('release') ?? '',
      vermagic: kv.get('vermagic') ?? '',
      file_srcversion: kv.get('file_srcversion') ?? '',
      filename: kv.get('filename') ?? '',
      lsmod: kv.get('lsmod') === 'yes',
      sys_srcversion: kv.get('sys_srcversion') ?? '',
      device: kv.get('dev') === 'yes',
      selftest: kv.get('selftest') ?? 'did not run',
    }
  },
})

export interface History {
  current: string
  /** Oldest first; the last one is current when a deploy recorded it. */
  ids: string[]
}

/** /var/lib/hbmon/current and history. */
export const ReleaseHistory = defineFact<History>({
  name: 'release_history',
  script: `cat ${currentPointer} 2>/dev/null; echo ---; cat ${historyFile} 2>/dev/null; true`,
  parse(stdout) {
    const [current = '', rest = ''] = stdout.split('---\n')
    return {
      current: current.trim(),
      ids: rest
        .split('\n')
        .map((s) => s.trim())
        .filter(Boolean),
    }
  },
})

export interface ManifestEntry {
  sha256: string
  mode: number
  path: string
}

/** `sha256 mode path` lines, sorted by path: the release's id is a hash of it, so one content is one release. */
export function formatManifest(entries: ManifestEntry[]): string {
  return [...entries]
    .sort((a, b) => (a.path < b.path ? -1 : 1))
    .map((e) => `${e.sha256} ${e.mode.toString(8).padStart(4, '0')} ${e.path}\n`)
    .join('')
}

export function parseManifest(text: string): ManifestEntry[] {
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      const [sha256 = '', mode = '0', ...path] = l.split(' ')
      if (!/^[0-9a-f]{64}$/.test(sha256) || !/^[0-7]+$/.test(mode) || !path.length)
        throw new Error(`not a manifest line: ${l}`)
      return { sha256, mode: parseInt(mode, 8), path: path.join(' ') }
    })
}

/** The manifest of a release kept on the host. Args: ID. */
export const ReleaseManifest = defineFact<ManifestEntry[]>({
  name: 'release_manifest',
  script: `cat -- "${releasesDir}/$1/manifest"`,
  parse(stdout, code, [id]) {
    if (code !== 0) throw new Error(`release ${id} has no manifest on the host (${releasesDir}/${id}/manifest)`)
    return parseManifest(stdout)
  },
})

export interface KernelModule {
  /** srcversion of /lib/modules/RELEASE/updates/hbmon.ko, '' when there is no such file. */
  srcversion: string
  /** The release its vermagic names. */
  vermagic: string
  /** What `modinfo -k RELEASE -n hbmon` finds (modprobe's choice after depmod), '' when nothing. */
  found: string
}

export interface BootFiles {
  /** /etc/modules-load.d/hbmon.conf exists: systemd loads hbmon at boot. */
  load_at_boot: boolean
  /** The kernel-install hook is in /etc/kernel/postinst.d. */
  hook: boolean
  modules: Record<string, KernelModule>
}

/**
 * What a boot into each kernel would load: hbmon's file per release, whether it loads at boot, whether the kernel
 * hook is in place. Args: RELEASE... (none: every release under /lib/modules).
 */
export const KernelModules = defineFact<BootFiles>({
  name: 'kernel_modules',
  script: `[ $# -gt 0 ] || set -- $(ls /lib/modules 2>/dev/null)
[ -f /etc/modules-load.d/hbmon.conf ] && echo boot=yes || echo boot=no
[ -x /etc/kernel/postinst.d/hbmon ] && echo hook=yes || echo hook=no
for r in "$@"; do
  f=/lib/modules/$r/updates/hbmon.ko
  s=-; v=-
  if [ -f "$f" ]; then s=$(modinfo -F srcversion "$f" 2>/dev/null); v=$(modinfo -F vermagic "$f" 2>/dev/null | cut -d' ' -f1); fi
  echo "module=$r \${s:--} \${v:--} $(modinfo -k "$r" -n hbmon 2>/dev/null || echo -)"
done`,
  parse(stdout) {
    const files: BootFiles = { load_at_boot: false, hook: false, modules: {} }
    for (const line of stdout.split('\n')) {
      const eq = line.indexOf('=')
      const [key, value] = [line.slice(0, eq), line.slice(eq + 1).trim()]
      if (key === 'boot') files.load_at_boot = value === 'yes'
      if (key === 'hook') files.hook = value === 'yes'
      if (key === 'module') {
        const [release, srcversion, vermagic, found] = value.split(' ').map((v) => (v === '-' ? '' : v))
        if (!release || found === undefined) throw new Error(`not a module line: ${line}`)
        files.modules[release] = { srcversion: srcversion!, vermagic: vermagic!, found }
      }
    }
    return files
  },
})

/**
 * Whether a boot into `release` comes up with hbmon: its module file is there, built for that release, the one
 * modprobe finds, of the expected srcversion (the running one's; any when '' is expected), and loaded at boot.
 * Returns what is missing, [] when ready.
 */
export function bootProblems(files: BootFiles, release: string, expectedSrcversion: string): string[] {
  const m = files.modules[release]
  const problems: string[] = []
  if (!m?.srcversion) problems.push(`no hbmon module for ${release}`)
  else {
    if (m.vermagic !== release) problems.push(`the module for ${release} was built for ${m.vermagic || 'nothing'}`)
    if (m.found !== `/lib/modules/${release}/updates/hbmon.ko`)
      problems.push(`modprobe would load ${m.found || 'nothing'} under ${release} (depmod not run?)`)
    if (expectedSrcversion && m.srcversion !== expectedSrcversion)
      problems.push(`its srcversion is ${m.srcversion}, the running hbmon's ${expectedSrcversion}`)
  }
  if (!files.load_at_boot) problems.push('not loaded at boot (no /etc/modules-load.d/hbmon.conf)')
  return problems
}
