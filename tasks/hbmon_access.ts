// hbmon_access: who may use /dev/hbmon and what the root helper may restart for them. Creates the device group
// (hbmon_device_group, default hbmon; the udev rule gives /dev/hbmon that group and mode 0660), writes one
// /etc/hbmon/units/NAME per entry of hbmon_units ({ name, unit, user }: the registration NAME that user may
// claim, and the systemd unit the helper restarts for it), and the module's helper_map (NAME:UID, resolved on
// the host) to /etc/modprobe.d/hbmon-units.conf — and to the loaded module at once, so a new mapping needs no
// reload. The kernel refuses HBMON_ACT_HELPER for any (name, uid) not in the map; the helper checks the unit
// file's user against the uid the kernel passes before it restarts anything (see SECURITY.md).
import { defineTask, type TaskResult } from '../src/task.ts'
import { putFile } from './_files.ts'
import { unitsConf, unitsDir } from './_hbmon.ts'

interface UnitMapping {
  name: string
  unit: string
  user: string
}

// The module's name rule (printable ASCII, no blanks) minus the map's separators; the rest stay on one line.
const nameRe = /^[\x21-\x7e]{1,31}$/
const unitRe = /^[A-Za-z0-9@:._\\-]+$/
const userRe = /^[a-z_][a-z0-9_.-]*\$?$/i

export function checkUnits(value: unknown): UnitMapping[] {
  if (value === undefined || value === null || value === '') return []
  if (!Array.isArray(value)) throw new Error('hbmon_units must be a list of { name, unit, user }')
  const seen = new Set<string>()
  return value.map((entry, i) => {
    const e = entry as Partial<UnitMapping>
    const where = `hbmon_units[${i}]`
    if (typeof e?.name !== 'string' || !nameRe.test(e.name) || /[:,/]/.test(e.name) || e.name.startsWith('.'))
      throw new Error(`${where}.name must be 1-31 printable characters without blanks, ':', ',', '/' or a leading '.'`)
    if (typeof e.unit !== 'string' || !unitRe.test(e.unit)) throw new Error(`${where}.unit must be a systemd unit name`)
    if (typeof e.user !== 'string' || !userRe.test(e.user)) throw new Error(`${where}.user must be a user name`)
    if (seen.has(e.name)) throw new Error(`${where}.name ${e.name} is mapped twice`)
    seen.add(e.name)
    return { name: e.name, unit: e.unit, user: e.user }
  })
}

const groupScript = `g=$1
[ "$g" = root ] && exit 0
getent group "$g" >/dev/null && exit 0
groupadd --system "$g" && echo created`

const uidScript = `for u in "$@"; do printf '%s %s\\n' "$u" "$(id -u -- "$u" 2>/dev/null)"; done`

const mapParam = '/sys/module/hbmon/parameters/helper_map'

export default defineTask<Record<string, never>>({
  name: 'hbmon_access',
  description: 'device group, /etc/hbmon/units/NAME files and the module helper_map from hbmon_units',
  schema: { type: 'object', additionalProperties: false, properties: {} },
  async run(host, _args, ctx) {
    const group = String(host.vars.hbmon_device_group ?? 'hbmon')
    if (!/^[a-z_][a-z0-9_-]*$/i.test(group)) throw new Error(`hbmon_device_group ${group} is not a group name`)
    const units = checkUnits(host.vars.hbmon_units)
    const changes: string[] = []
    const results: TaskResult[] = []

    const exists = (await host.$({ nothrow: true })`getent group ${group}`).code === 0
    if (!exists && group !== 'root') {
      changes.push(`group ${group} created`)
      if (!ctx.check) await host.$`sh -c ${groupScript} sh ${group}`
    }

    // Users must exist for their uid; under --check a missing user is reported, not fatal.
    const uids = new Map<string, string>()
    if (units.length) {
      const out = (await host.$`sh -c ${uidScript} sh ${[...new Set(units.map((u) => u.user))]}`).stdout
      for (const line of out.split('\n')) {
        const [user, uid] = line.trim().split(' ')
        if (user && uid) uids.set(user, uid)
      }
      const missing = units.filter((u) => !uids.has(u.user))
      if (missing.length && !ctx.check)
        throw new Error(`hbmon_units: no such user ${missing.map((u) => u.user).join(', ')} on this host`)
    }
    const map = units
      .filter((u) => uids.has(u.user))
      .map((u) => `${u.name}:${uids.get(u.user)}`)
      .join(',')

    if (units.length && !ctx.check) await host.$`mkdir -p -m 0755 ${unitsDir}`
    for (const u of units) {
      const content = `# ${host.vars.hbmon_managed ?? 'Managed by hbmon deploy'}\n# The helper restarts UNIT for registration ${u.name}, only when its registrant runs as USER.\nunit=${u.unit}\nuser=${u.user}\n`
      results.push(
        await putFile(
          host,
          { source: Buffer.from(content), dest: `${unitsDir}/${u.name}`, mode: 0o644, owner: 'root', group: 'root' },
          ctx,
        ),
      )
    }
    const conf = `# ${host.vars.hbmon_managed ?? 'Managed by hbmon deploy'}\n# NAME:UID pairs that may ask for the restart helper (from hbmon_units).\noptions hbmon helper_map=${map}\n`
    results.push(
      await putFile(
        host,
        { source: Buffer.from(conf), dest: unitsConf, mode: 0o644, owner: 'root', group: 'root' },
        ctx,
      ),
    )
    changes.push(...results.filter((r) => r.changed).map((r) => r.msg ?? 'changed'))

    // The loaded module takes the map at once (the file is for the next load).
    const loaded = await host.$({ nothrow: true })`cat ${mapParam}`
    if (loaded.code === 0 && loaded.stdout.trim() !== map) {
      changes.push(`helper_map of the loaded module: ${map || '(empty)'}`)
      if (!ctx.check) await host.$`sh -c ${'printf "%s" "$1" > "$2"'} sh ${map || ' '} ${mapParam}`
    }
    return {
      changed: changes.length > 0,
      ...(changes.length ? { msg: changes.join('; ') } : {}),
      ...(ctx.diff ? { diff: results.flatMap((r) => r.diff ?? []) } : {}),
      data: { group, helper_map: map, units: units.map((u) => u.name) },
    }
  },
})
