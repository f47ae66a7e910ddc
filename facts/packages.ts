// Facts about a host's packages: which package manager it has (Ansible's ansible_pkg_mgr) and, for the apt
// task, what apt and dpkg know of some packages (what python-apt's Cache tells Ansible's apt module).
import { defineFact } from '../src/fact.ts'

// ansible/module_utils/facts/system/pkg_mgr.py's PKG_MGRS: the last one whose path exists wins.
const pkgMgrs: [string, string][] = [
  ['/usr/bin/rpm-ostree', 'atomic_container'],
  ['/usr/bin/yum', 'yum'],
  ['/usr/bin/dnf', 'dnf'],
  ['/usr/bin/apt-get', 'apt'],
  ['/usr/bin/zypper', 'zypper'],
  ['/usr/sbin/urpmi', 'urpmi'],
  ['/usr/bin/pacman', 'pacman'],
  ['/bin/opkg', 'opkg'],
  ['/usr/pkg/bin/pkgin', 'pkgin'],
  ['/opt/local/bin/pkgin', 'pkgin'],
  ['/opt/tools/bin/pkgin', 'pkgin'],
  ['/opt/local/bin/port', 'macports'],
  ['/usr/local/bin/brew', 'homebrew'],
  ['/opt/homebrew/bin/brew', 'homebrew'],
  ['/sbin/apk', 'apk'],
  ['/usr/sbin/pkg', 'pkgng'],
  ['/usr/sbin/swlist', 'swdepot'],
  ['/usr/bin/emerge', 'portage'],
  ['/usr/sbin/pkgadd', 'svr4pkg'],
  ['/usr/bin/pkg', 'pkg5'],
  ['/usr/bin/xbps-install', 'xbps'],
  ['/usr/local/sbin/pkg', 'pkgng'],
  ['/usr/bin/swupd', 'swupd'],
  ['/usr/sbin/sorcery', 'sorcery'],
  ['/usr/bin/installp', 'installp'],
  ['/QOpenSys/pkgs/bin/yum', 'yum'],
]

/**
 * ansible_pkg_mgr as Ansible's Linux collector finds it: the last package manager of its list whose program
 * exists; `apt` becomes `apt_rpm` when rpm owns /usr/bin/apt-get; `unknown` when none exists. (Its Fedora,
 * Amazon and RHEL version rules choose between yum and dnf, which this toolkit does not drive.)
 */
export const PackageManager = defineFact<string>({
  name: 'package_manager',
  script: `for p in ${pkgMgrs.map(([p]) => p).join(' ')}; do [ -e "$p" ] && echo "$p"; done
[ -e /usr/bin/rpm ] && /usr/bin/rpm -q --whatprovides /usr/bin/apt-get >/dev/null 2>&1 && echo apt_rpm; true`,
  parse(stdout, code) {
    if (code !== 0) throw new Error(`exit ${code}`)
    const lines = stdout.split('\n').filter(Boolean)
    let name = 'unknown'
    for (const [path, manager] of pkgMgrs) if (lines.includes(path)) name = manager
    if (name === 'apt' && lines.includes('apt_rpm')) name = 'apt_rpm'
    return name
  },
})

export interface AptPackage {
  /** dpkg's state (installed, config-files, half-installed ...), '' when dpkg does not know it. */
  status: string
  /** The installed version ('' when not installed). */
  installed: string
  /** apt's candidate (pins and priorities applied), '' for none. */
  candidate: string
  /** Every version apt knows, as its policy lists them (newest first). Empty: virtual, or unknown to apt. */
  versions: string[]
  /** apt knows the name (a package, or a virtual package that something provides). */
  known: boolean
  /** The packages that provide it (for a virtual package). */
  providers: string[]
  /** Marked as automatically installed (apt-mark showauto). */
  auto: boolean
  /** dpkg lists files of it (installed, or removed with its configuration left). */
  hasFiles: boolean
}

export interface AptState {
  /** mtime of /var/lib/apt/periodic/update-success-stamp, else of /var/lib/apt/lists, else 0 (seconds). */
  cacheTime: number
  /** The host's clock (seconds), for cache_valid_time. */
  now: number
  packages: Map<string, AptPackage>
}

/**
 * What apt and dpkg know of the named packages: `apt-cache policy` (candidate and version table), dpkg's status,
 * /var/lib/apt/extended_states (auto-installed), dpkg's file lists, the providers of a virtual package, and
 * the apt lists' age. Args: PACKAGE...
 */
export const AptPackages = defineFact<AptState>({
  name: 'apt_packages',
  script: `export LC_ALL=C
s=/var/lib/apt/periodic/update-success-stamp l=/var/lib/apt/lists
if [ -e $s ]; then m=$(stat -c %Y $s); elif [ -e $l ]; then m=$(stat -c %Y $l); else m=0; fi
echo "cache $m $(date +%s)"
[ $# -gt 0 ] || exit 0
command -v apt-cache >/dev/null || exit 3
policy=$(apt-cache policy -- "$@" 2>/dev/null)
printf '%s\\n' "$policy" | sed 's/^/policy /'
dpkg-query -W -f='dpkg \${binary:Package} \${db:Status-Status} \${Version}\\n' -- "$@" 2>/dev/null
for p; do
  dpkg-query -L -- "$p" 2>/dev/null | grep -q . && echo "files $p"
  awk -v p="$p" '/^Package:/ { n = $2 } /^Auto-Installed: 1/ && n == p { print "auto " p }' /var/lib/apt/extended_states 2>/dev/null
  # A name apt knows with no version of its own: who provides it.
  if printf '%s\\n' "$policy" | awk -v p="$p:" '$0 == p { s = 1; next } /^[^ ]/ { s = 0 } s && /^ (\\*\\*\\*|   ) [^ ]+ [0-9-]+$/ { v = 1 } END { exit !v }'; then :; else
    apt-cache showpkg -- "$p" 2>/dev/null | sed -n '/^Reverse Provides:/,$p' | sed '1d; s/^/provides '"$p"' /'
  fi
done
true`,
  parse(stdout, code, names) {
    if (code === 3) throw new Error('apt-cache is not installed')
    if (code !== 0) throw new Error(`exit ${code}`)
    const lines = stdout.split('\n')
    const head = /^cache (\d+) (\d+)$/.exec(lines[0] ?? '')
    if (!head) throw new Error(`unexpected first line: ${lines[0]}`)
    const packages = new Map<string, AptPackage>(
      names.map((n) => [
        n,
        {
          status: '',
          installed: '',
          candidate: '',
          versions: [],
          known: false,
          providers: [],
          auto: false,
          hasFiles: false,
        },
      ]),
    )
    let section: AptPackage | undefined
    let inTable = false
    for (const line of lines.slice(1)) {
      const at = line.indexOf(' ')
      const kind = at < 0 ? line : line.slice(0, at)
      const rest = at < 0 ? '' : line.slice(at + 1)
      if (kind === 'policy') {
        if (/^\S.*:$/.test(rest)) {
          // "hello:" (or "name:arch:")
          section = packages.get(rest.slice(0, -1)) ?? packages.get(rest.slice(0, -1).replace(/:[^:]+$/, ''))
          if (section) section.known = true
          inTable = false
        } else if (section && /^ {2}Candidate: /.test(rest)) {
          const c = rest.trim().slice('Candidate: '.length)
          section.candidate = c === '(none)' ? '' : c
        } else if (section && /^ {2}Version table:/.test(rest)) inTable = true
        else if (section && inTable) {
          const v = /^ (?:\*\*\*| {3}) (\S+) -?\d+$/.exec(rest)
          if (v) section.versions.push(v[1]!)
        }
        continue
      }
      const words = rest.split(' ')
      if (kind === 'dpkg') {
        const name = words[0]!
        const p = packages.get(name) ?? packages.get(name.replace(/:[^:]+$/, ''))
        if (!p) continue
        p.status = words[1] ?? ''
        if (p.status === 'installed') p.installed = words[2] ?? ''
      } else if (kind === 'files') {
        const p = packages.get(rest)
        if (p) p.hasFiles = true
      } else if (kind === 'auto') {
        const p = packages.get(rest)
        if (p) p.auto = true
      } else if (kind === 'provides') {
        const p = packages.get(words[0]!)
        if (p && words[1] && !p.providers.includes(words[1])) p.providers.push(words[1])
      }
    }
    return { cacheTime: Number(head[1]), now: Number(head[2]), packages }
  },
})
