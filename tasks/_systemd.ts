// What systemd and service share: Ansible's systemd module (ansible/modules/systemd.py, 2.14) step by step:
// daemon_reload/daemon_reexec, then `systemctl show` (registered as `status`: every property, as the unit was
// before the task), masked (mask/unmask), enabled (enable/disable, decided on `is-enabled` after any mask),
// state started/stopped/restarted/reloaded (decided on ActiveState). Registered: name, changed, status, and
// `enabled` / `state` when asked for. Its messages: "Could not find the requested service NAME: host",
// "Unable to start service NAME: ...", "Error loading unit file ...".
//
// The module is one function that runs the steps against the host (`live`) or only reads and says what it
// would do (--check, as the module's check_mode). `run` does the reading pass to decide whether anything would
// change; the change it returns runs the module's live pass, which reads again where Ansible reads again (after
// a daemon-reload, after a mask), so --check and a real run decide exactly as the module does.
import { SystemdUnit, type SystemdUnitState } from '../facts/services.ts'
import type { Target, TaskResult } from '../src/task.ts'

export interface SystemdArgs {
  name?: string
  state?: 'started' | 'stopped' | 'restarted' | 'reloaded'
  enabled?: boolean
  masked?: boolean
  daemon_reload?: boolean
  daemon_reexec?: boolean
  force?: boolean
  no_block?: boolean
  scope?: 'system'
}

const bool = { type: 'boolean', description: 'a boolean' }

export const systemdProperties = {
  name: { type: 'string', minLength: 1, description: 'a unit name' },
  state: {
    enum: ['started', 'stopped', 'restarted', 'reloaded'],
    description: 'started, stopped, restarted or reloaded',
  },
  enabled: bool,
  masked: bool,
  daemon_reload: bool,
  daemon_reexec: bool,
  force: bool,
  no_block: bool,
  scope: { const: 'system', description: 'system (user and global scopes are not supported)' },
}

export const systemdAliases = {
  service: 'name',
  unit: 'name',
  'daemon-reload': 'daemon_reload',
  'daemon-reexec': 'daemon_reexec',
}

/** The module's argument rules: required_one_of and required_by. */
export function checkSystemdArgs(args: SystemdArgs): void {
  const given = (k: keyof SystemdArgs) => args[k] !== undefined && !(k.startsWith('daemon_') && args[k] === false)
  if (!(['state', 'enabled', 'masked', 'daemon_reload', 'daemon_reexec'] as const).some(given))
    throw new Error('one of the following is required: state, enabled, masked, daemon_reload, daemon_reexec')
  for (const k of ['state', 'enabled', 'masked'] as const)
    if (args[k] !== undefined && args.name === undefined)
      throw new Error(`missing parameter(s) required by '${k}': name`)
}

const validEnabledStates = [
  'enabled',
  'enabled-runtime',
  'linked',
  'linked-runtime',
  'masked',
  'masked-runtime',
  'static',
  'indirect',
  'disabled',
  'generated',
  'transient',
]

interface Outcome {
  changed: boolean
  failed?: string
  data: Record<string, unknown>
}

/** The systemd module: with live false it only reads (check mode); with live true it acts. */
export async function systemdModule(host: Target, args: SystemdArgs, live: boolean): Promise<Outcome> {
  const unit = args.name
  const result: Record<string, unknown> = { name: unit ?? null, status: {} }
  let changed = false
  const fail = (msg: string): Outcome => ({ changed, failed: msg, data: result })
  if (unit !== undefined)
    for (const glob of ['*', '?', '['])
      if (unit.includes(glob))
        return fail(
          `This module does not currently support using glob patterns, found '${glob}' in service name: ${unit}`,
        )
  const flags = [...(args.no_block ? ['--no-block'] : []), ...(args.force ? ['--force'] : [])]
  const systemctl = (...words: string[]) => host.$({ nothrow: true })`systemctl ${flags} ${words}`
  // Refused: a host where systemd is not running (a container, a chroot, another init).
  const facts: SystemdUnitState = await host.fact(SystemdUnit, unit ?? '-')
  if (!facts.systemctl) return fail('systemd: systemctl is not installed on this host')
  if (!facts.booted)
    return fail('systemd: this host is not running systemd (no /run/systemd/system); npx deploy manages systemd only')
  for (const [wanted, verb] of [
    [args.daemon_reload, 'daemon-reload'],
    [args.daemon_reexec, 'daemon-reexec'],
  ] as const)
    if (wanted && live) {
      const r = await systemctl(verb)
      if (r.code !== 0) return fail(`failure ${r.code} during ${verb}: ${r.stderr}`)
    }
  if (unit === undefined) return { changed, data: result }
  const now = live && (args.daemon_reload || args.daemon_reexec) ? await host.fact(SystemdUnit, unit) : facts
  const ignored = (text: string) => !text.includes('=') && /ignoring (request|command)/.test(text)
  let isSystemd = false
  const status = now.show.properties
  if (now.show.code === 0 && !ignored(now.show.stderr) && Object.keys(status).length) {
    result.status = status
    isSystemd = 'LoadState' in status && status.LoadState !== 'not-found'
    const isMasked = status.LoadState === 'masked'
    if (isSystemd && !isMasked && 'LoadError' in status)
      return fail(`Error loading unit file '${unit}': ${status.LoadError}`)
  } else if (validEnabledStates.includes(now.isEnabled.out)) isSystemd = true
  const found = isSystemd || now.sysv
  const missing = `Could not find the requested service ${unit}: host`
  let isEnabled = now.isEnabled
  if (args.masked !== undefined) {
    const masked = isEnabled.out === 'masked'
    if (masked !== args.masked) {
      changed = true
      if (live) {
        const r = await systemctl(args.masked ? 'mask' : 'unmask', unit)
        if (r.code !== 0 && !found) return fail(missing)
        const again = await host.$({ nothrow: true })`systemctl is-enabled ${unit}`
        isEnabled = { code: again.code, out: again.stdout.trim() }
      }
    }
  }
  if (args.enabled !== undefined) {
    const action = args.enabled ? 'enable' : 'disable'
    if (!found) return fail(missing)
    let enabled = false
    if (isEnabled.code === 0) enabled = !['indirect', 'alias'].includes(isEnabled.out)
    else if (isEnabled.code === 1 && now.sysv && !isEnabled.out.endsWith('disabled') && now.sysvEnabled) enabled = true
    result.enabled = enabled
    if (enabled !== args.enabled) {
      changed = true
      if (live) {
        const r = await systemctl(action, unit)
        if (r.code !== 0) return fail(`Unable to ${action} service ${unit}: ${r.stdout}${r.stderr}`)
      }
      result.enabled = !enabled
    }
  }
  if (args.state !== undefined) {
    if (!found) return fail(missing)
    result.state = args.state
    const active = result.status as Record<string, string>
    if (!('ActiveState' in active)) return fail('Service is in unknown state')
    const running = ['active', 'activating'].includes(active.ActiveState!)
    let action: string | undefined
    if (args.state === 'started') action = running ? undefined : 'start'
    else if (args.state === 'stopped') action = running || active.ActiveState === 'deactivating' ? 'stop' : undefined
    else {
      action = running ? args.state.slice(0, -2) : 'start'
      result.state = 'started'
    }
    if (action) {
      changed = true
      if (live) {
        const r = await systemctl(action, unit)
        if (r.code !== 0) return fail(`Unable to ${action} service ${unit}: ${r.stderr}`)
      }
    }
  }
  return { changed, data: result }
}

/** The task: the reading pass decides; the change runs the live pass (see the header). */
export async function runSystemd(host: Target, args: SystemdArgs): Promise<TaskResult> {
  checkSystemdArgs(args)
  const dry = await systemdModule(host, args, false)
  const reload = Boolean(args.daemon_reload || args.daemon_reexec)
  if (dry.failed && !(reload && dry.data.status !== undefined && !/not running systemd|not installed/.test(dry.failed)))
    return { changed: false, failed: true, msg: dry.failed, data: dry.data }
  if (!dry.changed && !reload) return { changed: false, data: dry.data }
  const verbs = [
    reload ? (args.daemon_reexec ? 'daemon-reexec' : 'daemon-reload') : '',
    args.masked !== undefined ? (args.masked ? 'mask' : 'unmask') : '',
    args.enabled !== undefined ? (args.enabled ? 'enable' : 'disable') : '',
    args.state ?? '',
  ].filter(Boolean)
  return {
    changed: false,
    data: dry.data,
    changes: [
      {
        describe: `${args.name ?? 'systemd'}: ${verbs.join(', ')}`,
        quiet: !dry.changed,
        apply: async () => {
          const live = await systemdModule(host, args, true)
          if (live.failed) return { failed: true, msg: live.failed, data: live.data, changed: live.changed }
          return { changed: live.changed, data: live.data }
        },
      },
    ],
  }
}
