// hbmon_access: who may use /dev/hbmon and what the root helper may restart for them. Creates the device group
// (hbmon_device_group, default hbmon; the udev rule gives /dev/hbmon that group and mode 0660), writes one
// /etc/hbmon/units/NAME per entry of hbmon_units ({ name, unit, user }: the registration NAME that user may
// claim, and the systemd unit the helper restarts for it), and the module's helper_map (NAME:UID, resolved on
// the host) to /etc/modprobe.d/hbmon-units.conf — and to the loaded module at once, so a new mapping needs no
// reload. The kernel refuses HBMON_ACT_HELPER for any (name, uid) not in the map; the helper checks the unit
// file's user against the uid the kernel passes before it restarts anything (see SECURITY.md).
import { FileContent } from '../facts/files.ts'
import { GroupExists, UserIds } from '../facts/system.ts'
import { defineTask, type Change } from '../src/task.ts'
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

const mapParam = '/sys/module/hbmon/parameters/helper_map'

export default defineTask<Record<string, never>>({
  name: 'hbmon_access',
  description: 'device group, /etc/hbmon/units/NAME files and the module helper_map from hbmon_units',
  schema: { type: 'object', additionalProperties: false, properties: {} },
  async run(host, _args, ctx) {
    const group = String(host.vars.hbmon_device_group ?? 'hbmon')
    if (!/^[a-z_][a-z0-9_-]*$/i.test(group)) throw new Error(`hbmon_device_group ${group} is not a group name`)
    const units = checkUnits(host.vars.hbmon_units)
    const users = [...new Set(units.map((u) => u.user))]
    const [groupExists, uids, loadedMap] = await host.gather(
      [GroupExists, group],
      [UserIds, ...users],
      [FileContent, mapParam],
    )
    const changes: Change[] = []
    if (!groupExists && group !== 'root')
      changes.push({
        describe: `group ${group} created`,
        apply: async () => void (await host.$`groupadd --system ${group}`),
      })
    // Users must exist for their uid; under --check a missing user is only left out of the map.
    const missing = units.filter((u) => !uids.has(u.user))
    if (missing.length)
      changes.push({
        describe: `users ${missing.map((u) => u.user).join(', ')} must exist by now (they do not yet)`,
        apply: () =>
          Promise.reject(new Error(`hbmon_units: no such user ${missing.map((u) => u.user).join(', ')} on this host`)),
      })
    const map = units
      .filter((u) => uids.has(u.user))
      .map((u) => `${u.name}:${uids.get(u.user)}`)
      .join(',')
    for (const u of units) {
      const content = `# ${host.vars.hbmon_managed ?? 'Managed by hbmon deploy'}\n# The helper restarts UNIT for registration ${u.name}, only when its registrant runs as USER.\nunit=${u.unit}\nuser=${u.user}\n`
      const put = await putFile(
        host,
        {
          source: Buffer.from(content),
          dest: `${unitsDir}/${u.name}`,
          mode: 0o644,
          owner: 'root',
          group: 'root',
          makeParents: true,
        },
        ctx,
      )
      changes.push(...(put.changes ?? []))
    }
    const conf = `# ${host.vars.hbmon_managed ?? 'Managed by hbmon deploy'}\n# NAME:UID pairs that may ask for the restart helper (from hbmon_units).\noptions hbmon helper_map=${map}\n`
    const put = await putFile(
      host,
      { source: Buffer.from(conf), dest: unitsConf, mode: 0o644, owner: 'root', group: 'root' },
      ctx,
    )
    changes.push(...(put.changes ?? []))
    // The loaded module takes the map at once (the file is for the next load).
    if (loadedMap !== undefined && loadedMap.trim() !== map)
      changes.push({
        describe: `helper_map of the loaded module: ${map || '(empty)'}`,
        apply: async () => void (await host.$`sh -c ${'printf "%s" "$1" > "$2"'} sh ${map || ' '} ${mapParam}`),
      })
    return { changed: false, changes, data: { group, helper_map: map, units: units.map((u) => u.name) } }
  },
})
