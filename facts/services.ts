// Facts about a host's services: its service manager (Ansible's ansible_service_mgr) and what systemd says of
// one unit (what Ansible's systemd module reads before it decides).
import { defineFact } from '../src/fact.ts'

const proc1Map: Record<string, string> = {
  procd: 'openwrt_init',
  'runit-init': 'runit',
  svscan: 'svc',
  'openrc-init': 'openrc',
}

/**
 * ansible_service_mgr as Ansible's Linux collector (module_utils/facts/system/service_mgr.py) finds it: PID 1's
 * name (/proc/1/comm, else /sbin/init's link target) unless it is `init` or ends in `sh`; else systemd when
 * systemctl exists and systemd's run directory does (sd_booted), upstart, openrc, systemd offline (/sbin/init
 * a link to systemd), sysvinit (/etc/init.d), or `service`.
 */
export const ServiceManager = defineFact<string>({
  name: 'service_manager',
  script: `if [ -r /proc/1/comm ]; then printf 'comm %s\\n' "$(cat /proc/1/comm)"; fi
[ -L /sbin/init ] && printf 'init %s\\n' "$(readlink /sbin/init)"
command -v systemctl >/dev/null && echo systemctl
command -v initctl >/dev/null && echo initctl
for d in /run/systemd/system/ /dev/.run/systemd/ /dev/.systemd/; do [ -e "$d" ] && echo canary; done
[ -e /etc/init/ ] && echo etc-init
[ -e /sbin/openrc ] && echo openrc
[ -e /etc/init.d/ ] && echo init.d
true`,
  parse(stdout, code) {
    if (code !== 0) throw new Error(`exit ${code}`)
    const lines = stdout.split('\n')
    const value = (key: string) => lines.find((l) => l.startsWith(`${key} `))?.slice(key.length + 1)
    const has = (key: string) => lines.includes(key)
    let proc1 = value('comm') ?? value('init')
    if (proc1 !== undefined) proc1 = proc1.split('/').pop()!.trim()
    if (proc1 !== undefined && (proc1 === 'init' || proc1.endsWith('sh'))) proc1 = undefined
    if (proc1) return proc1Map[proc1] ?? proc1
    if (has('systemctl') && has('canary')) return 'systemd'
    if (has('initctl') && has('etc-init')) return 'upstart'
    if (has('openrc')) return 'openrc'
    if (has('systemctl') && value('init')?.split('/').pop() === 'systemd') return 'systemd'
    if (has('init.d')) return 'sysvinit'
    return 'service'
  },
})

export interface SystemdUnitState {
  /** systemd is running (/run/systemd/system exists: sd_booted). */
  booted: boolean
  /** systemctl exists. */
  systemctl: boolean
  /** `systemctl show UNIT`: exit code, stderr, and its properties (parse_systemctl_show). */
  show: { code: number; stderr: string; properties: Record<string, string> }
  /** `systemctl is-enabled UNIT`: exit code and output (trimmed). */
  isEnabled: { code: number; out: string }
  /** /etc/init.d/UNIT exists (or UNIT, when it is a path). */
  sysv: boolean
  /** A start link for it in some runlevel (/etc/rc?.d/S??UNIT). */
  sysvEnabled: boolean
}

/** The systemd module's parse_systemctl_show: KEY=VALUE lines; only Exec* values may span lines ({ ... }). */
export function parseSystemctlShow(lines: string[]): Record<string, string> {
  const parsed: Record<string, string> = {}
  let multi: string[] = []
  let key: string | undefined
  for (const line of lines) {
    if (key === undefined) {
      const at = line.indexOf('=')
      if (at < 0) continue
      const k = line.slice(0, at)
      const v = line.slice(at + 1)
      if (k.startsWith('Exec') && v.trimStart().startsWith('{') && !v.trimEnd().endsWith('}')) {
        key = k
        multi.push(v)
        continue
      }
      parsed[k] = v.trim()
    } else {
      multi.push(line)
      if (line.trimEnd().endsWith('}')) {
        parsed[key] = multi.join('\n').trim()
        multi = []
        key = undefined
      }
    }
  }
  return parsed
}

/** What systemd knows of a unit: `systemctl show`, `systemctl is-enabled`, and its SysV script. Args: UNIT. */
export const SystemdUnit = defineFact<SystemdUnitState>({
  name: 'systemd_unit',
  script: `u=$1
[ -d /run/systemd/system ] && echo booted
case $u in /*) s=$u ;; *) s=/etc/init.d/$u ;; esac
[ -e "$s" ] && echo sysv
if [ -d /etc/rc0.d/ ]; then set -- /etc/rc?.d/S??"$u"; else set -- /etc/init.d/rc?.d/S??"$u"; fi
[ -e "$1" ] && echo sysv-enabled
command -v systemctl >/dev/null || exit 0
echo systemctl
e=$(systemctl is-enabled "$u" 2>/dev/null); printf 'is-enabled %s %s\\n' "$?" "$(printf '%s' "$e" | tr '\\n' ' ')"
t=$(mktemp -d) || exit 1
systemctl show "$u" >"$t/o" 2>"$t/e"; printf 'show-code %s\\n' "$?"
sed 's/^/show /' "$t/o"; sed 's/^/show-err /' "$t/e"; rm -rf "$t"`,
  parse(stdout, code) {
    if (code !== 0) throw new Error(`exit ${code}`)
    const lines = stdout.split('\n')
    const has = (key: string) => lines.includes(key)
    const values = (key: string) => lines.filter((l) => l.startsWith(`${key} `)).map((l) => l.slice(key.length + 1))
    const enabled = /^(\d+) ?(.*)$/.exec(values('is-enabled')[0] ?? '')
    return {
      booted: has('booted'),
      systemctl: has('systemctl'),
      show: {
        code: Number(values('show-code')[0] ?? 1),
        stderr: values('show-err').join('\n'),
        properties: parseSystemctlShow(values('show')),
      },
      isEnabled: { code: enabled ? Number(enabled[1]) : 1, out: (enabled?.[2] ?? '').trim() },
      sysv: has('sysv'),
      sysvEnabled: has('sysv-enabled'),
    }
  },
})
