// group: a group present (added, or its gid changed) or absent, as Ansible's group module on Linux
// (ansible/modules/group.py): groupadd [-g GID [-o]] [-r] NAME, groupmod -g GID [-o] NAME, groupdel NAME.
// Registered: name, state, and once the group exists, gid and system.
import { defineTask } from '../src/task.ts'
import { GroupEntries } from '../facts/system.ts'

interface GroupArgs {
  name: string
  state?: 'present' | 'absent'
  gid?: number
  system?: boolean
  non_unique?: boolean
}

export default defineTask<GroupArgs>({
  name: 'group',
  description: 'a group present (gid, system) or absent',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['name'],
    properties: {
      name: { type: 'string', pattern: '^[^:,\\s]+$', description: 'a group name' },
      state: { enum: ['present', 'absent'], description: 'present or absent' },
      gid: { type: 'integer', minimum: 0, description: 'a gid' },
      system: { type: 'boolean', description: 'a boolean' },
      non_unique: { type: 'boolean', description: 'a boolean' },
    },
  },
  checkInputs(args) {
    if (args.non_unique && args.gid === undefined)
      throw new Error('non_unique is True but all of the following are missing: gid')
  },
  async run(host, args) {
    const name = args.name
    const state = args.state ?? 'present'
    const entry = (await host.fact(GroupEntries, name)).get(name)
    const system = args.system ?? false
    const now = async () => {
      const after = (await host.fact(GroupEntries, name)).get(name)
      return { data: { name, state, ...(after ? { system, gid: after.gid } : {}) } }
    }
    const unique = args.non_unique ? ['-o'] : []
    const base = { changed: false, data: { name, state, ...(entry ? { system, gid: entry.gid } : {}) } }
    if (state === 'absent') {
      if (!entry) return base
      return {
        ...base,
        changes: [{ describe: `group ${name} removed`, apply: async () => (await host.$`groupdel ${name}`, now()) }],
      }
    }
    if (!entry) {
      const gid = args.gid !== undefined ? ['-g', String(args.gid), ...unique] : []
      const flags = [...gid, ...(system ? ['-r'] : [])]
      return {
        ...base,
        changes: [
          { describe: `group ${name} added`, apply: async () => (await host.$`groupadd ${flags} ${name}`, now()) },
        ],
      }
    }
    if (args.gid === undefined || entry.gid === args.gid) return base
    const gid = String(args.gid)
    return {
      ...base,
      changes: [
        {
          describe: `group ${name}: gid ${entry.gid} → ${gid}`,
          apply: async () => (await host.$`groupmod -g ${gid} ${unique} ${name}`, now()),
        },
      ],
    }
  },
})
