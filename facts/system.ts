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
