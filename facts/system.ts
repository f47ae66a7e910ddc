// Facts about the host as a system: what `facts` gathers for templates, the login environment, users, groups,
// installed Debian packages.
import { defineFact } from '../src/fact.ts'

export interface SystemFacts {
  kernel: string
  architecture: string
  hostname: string
  distribution_id: string
  distribution_version: string
  distribution_name: string
}

/** uname -r / -m, hostname and /etc/os-release's ID, VERSION_ID and PRETTY_NAME. */
export const System = defineFact<SystemFacts>({
  name: 'system',
  script: `uname -r; uname -m; hostname; (. /etc/os-release 2>/dev/null; echo "\${ID:-}"; echo "\${VERSION_ID:-}"; echo "\${PRETTY_NAME:-}")`,
  parse(stdout, code) {
    const [kernel = '', architecture = '', hostname = '', id = '', version = '', name = ''] = stdout.split('\n')
    if (code !== 0 || !kernel || !architecture) throw new Error(`uname printed nothing (exit ${code})`)
    return {
      kernel,
      architecture,
      hostname,
      distribution_id: id,
      distribution_version: version,
      distribution_name: name,
    }
  },
})

/** The environment commands run in (`env -0`, so values may hold newlines). */
export const Environment = defineFact<Record<string, string>>({
  name: 'environment',
  script: 'env -0',
  parse(stdout, code) {
    if (code !== 0) throw new Error(`env failed (exit ${code})`)
    const entries = stdout
      .split('\0')
      .filter((line) => line.includes('='))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)] as const)
    return Object.fromEntries(entries)
  },
})

/** Whether a group exists (getent). Args: GROUP. */
export const GroupExists = defineFact<boolean>({
  name: 'group_exists',
  script: 'getent group "$1" >/dev/null',
  parse: (_stdout, code) => code === 0,
})

export interface GroupEntry {
  gid: number
  members: string[]
}

/** The group database's entry (getent: /etc/group, or NSS) of each group that exists. Args: GROUP... */
export const GroupEntries = defineFact<Map<string, GroupEntry>>({
  name: 'group_entries',
  script: `for g in "$@"; do getent group -- "$g" || printf '%s\\n' "-"; done`,
  parse(stdout, code, names) {
    if (code !== 0) throw new Error(`getent group failed (exit ${code})`)
    const lines = stdout.split('\n')
    const groups = new Map<string, GroupEntry>()
    names.forEach((name, i) => {
      const line = lines[i]
      if (line === undefined) throw new Error(`no line for group ${name}`)
      if (line === '-') return
      const [, , gid, members = ''] = line.split(':')
      if (!/^[0-9]+$/.test(gid ?? '')) throw new Error(`unexpected group entry for ${name}: ${line}`)
      groups.set(name, { gid: Number(gid), members: members ? members.split(',') : [] })
    })
    return groups
  },
})

export interface UserEntry {
  uid: number
  gid: number
  comment: string
  home: string
  shell: string
  /** The shadow password field ('' when shadow is not readable). */
  password: string
  /** The groups whose member list names the user (the supplementary groups, as /etc/group has them). */
  memberOf: string[]
  homeExists: boolean
}

/** A user's passwd and shadow entries, its group memberships and whether its home exists. Args: USER. */
export const UserEntryFact = defineFact<UserEntry | undefined>({
  name: 'user_entry',
  script: `e=$(getent passwd -- "$1") || exit 3
printf 'passwd %s\\n' "$e"
printf 'shadow %s\\n' "$(getent shadow -- "$1" | cut -d: -f2)"
getent group | awk -F: -v u="$1" '{ n = split($4, m, ","); for (i = 1; i <= n; i++) if (m[i] == u) print "member " $1 }'
h=$(printf '%s' "$e" | cut -d: -f6); [ -n "$h" ] && [ -e "$h" ] && echo home; true`,
  parse(stdout, code, [name]) {
    if (code === 3) return undefined
    if (code !== 0) throw new Error(`getent passwd ${name} failed (exit ${code})`)
    const entry: UserEntry = {
      uid: -1,
      gid: -1,
      comment: '',
      home: '',
      shell: '',
      password: '',
      memberOf: [],
      homeExists: false,
    }
    for (const line of stdout.split('\n')) {
      const at = line.indexOf(' ')
      const [key, value] = at < 0 ? [line, ''] : [line.slice(0, at), line.slice(at + 1)]
      if (key === 'passwd') {
        const f = value.split(':')
        if (f.length < 7 || !/^[0-9]+$/.test(f[2]!) || !/^[0-9]+$/.test(f[3]!))
          throw new Error(`unexpected passwd entry for ${name}: ${value}`)
        Object.assign(entry, { uid: Number(f[2]), gid: Number(f[3]), comment: f[4], home: f[5], shell: f[6] })
      } else if (key === 'shadow') entry.password = value
      else if (key === 'member') entry.memberOf.push(value)
      else if (key === 'home') entry.homeExists = true
    }
    if (entry.uid < 0) throw new Error(`no passwd entry for ${name}`)
    return entry
  },
})

/** The uid of each user that exists; users that do not are absent from the map. Args: USER... */
export const UserIds = defineFact<Map<string, number>>({
  name: 'user_ids',
  script: `for u in "$@"; do printf '%s %s\\n' "$u" "$(id -u -- "$u" 2>/dev/null)"; done`,
  parse(stdout) {
    const uids = new Map<string, number>()
    for (const line of stdout.split('\n')) {
      const [user, uid] = line.trim().split(' ')
      if (user && uid && /^[0-9]+$/.test(uid)) uids.set(user, Number(uid))
    }
    return uids
  },
})

/** Which of the named Debian packages are installed (dpkg status "ii"), at which version. Args: PACKAGE... */
export const InstalledPackages = defineFact<Map<string, string>>({
  name: 'installed_packages',
  // A package dpkg never heard of is only named on stderr (and makes dpkg-query exit 1).
  script: `dpkg-query -W -f '\${Package} \${db:Status-Abbrev} \${Version}\\n' "$@" 2>/dev/null; true`,
  parse(stdout) {
    const installed = new Map<string, string>()
    for (const line of stdout.split('\n')) {
      const [name, status, version] = line.split(/\s+/)
      if (name && status === 'ii') installed.set(name, version ?? '')
    }
    return installed
  },
})

export interface InstalledKernel {
  release: string
  /** /boot/vmlinuz-RELEASE exists. */
  image: boolean
  /** /lib/modules/RELEASE/build holds kbuild's Makefile: modules can be built for it. */
  headers: boolean
}

export interface Kernels {
  running: string
  /** The release the next boot uses, '' when it cannot be told (see next_from). */
  next: string
  /** grub (GRUB's default entry, when it is the first one), /vmlinuz (the link), or why next is unknown. */
  next_from: string
  /** Every release under /lib/modules with an image in /boot, and the running one; oldest first. */
  kernels: InstalledKernel[]
}

/** Orders kernel releases as dpkg orders versions, near enough for 6.1.0-50-amd64 < 6.1.0-56-amd64 < 6.12.9. */
export function compareReleases(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true })
}

/**
 * The kernels installed on the host: each release under /lib/modules with its /boot image and kbuild headers,
 * the running one, and the one the next boot uses — GRUB's first entry when /boot/grub/grub.cfg exists and
 * its default is 0 (Debian's GRUB_DEFAULT), else the /vmlinuz link that Debian's kernel packages keep.
 * A /lib/modules directory without an image (what a removed kernel leaves) is not a kernel.
 */
export const InstalledKernels = defineFact<Kernels>({
  name: 'installed_kernels',
  script: `echo "running=$(uname -r)"
for d in /lib/modules/*/; do
  [ -d "$d" ] || continue
  r=\${d%/}; r=\${r##*/}
  [ -e "/boot/vmlinuz-$r" ] && i=yes || i=no
  [ -e "$d/build/Makefile" ] && h=yes || h=no
  echo "kernel=$r $i $h"
done
if [ -f /boot/grub/grub.cfg ]; then
  echo "grub_default=$(sed -n 's/^[[:space:]]*set default="\\{0,1\\}\\([^"]*\\)"\\{0,1\\}[[:space:]]*$/\\1/p' /boot/grub/grub.cfg | head -n 1)"
  echo "grub_first=$(sed -n 's|^[[:space:]]*linux[[:space:]]\\{1,\\}[^[:space:]]*/vmlinuz-\\([^[:space:]]*\\).*|\\1|p' /boot/grub/grub.cfg | head -n 1)"
fi
echo "vmlinuz=$(readlink /vmlinuz 2>/dev/null || readlink /boot/vmlinuz 2>/dev/null)"`,
  parse(stdout, code) {
    if (code !== 0) throw new Error(`exit ${code}`)
    let running = ''
    let vmlinuz = ''
    let grub: { default: string; first: string } | undefined
    const found: InstalledKernel[] = []
    for (const line of stdout.split('\n')) {
      const eq = line.indexOf('=')
      const [key, value] = [line.slice(0, eq), line.slice(eq + 1).trim()]
      if (key === 'running') running = value
      else if (key === 'kernel') {
        const [release = '', image, headers] = value.split(' ')
        if (!release || !image || !headers) throw new Error(`not a kernel line: ${line}`)
        found.push({ release, image: image === 'yes', headers: headers === 'yes' })
      } else if (key === 'grub_default') grub = { default: value, first: grub?.first ?? '' }
      else if (key === 'grub_first') grub = { default: grub?.default ?? '', first: value }
      else if (key === 'vmlinuz') vmlinuz = value
    }
    if (!running) throw new Error('no running kernel in the output')
    const kernels = found.filter((k) => k.image || k.release === running)
    // A kernel without /lib/modules (one built without modules, a container's host) still runs.
    if (!kernels.some((k) => k.release === running)) kernels.push({ release: running, image: false, headers: false })
    kernels.sort((a, b) => compareReleases(a.release, b.release))
    const linked = /vmlinuz-(.+)$/.exec(vmlinuz)?.[1] ?? ''
    let next = ''
    let next_from = ''
    if (grub && grub.default !== '' && grub.default !== '0')
      next_from = `unknown: GRUB's default is ${JSON.stringify(grub.default)}, not its first entry`
    else if (grub) [next, next_from] = grub.first ? [grub.first, 'grub'] : ['', 'unknown: no entry in grub.cfg']
    else if (linked) [next, next_from] = [linked, '/vmlinuz']
    else next_from = 'unknown: no GRUB and no /vmlinuz link'
    return { running, next, next_from, kernels }
  },
})
