// user: an account present (useradd, or usermod for what differs) or absent (userdel), as Ansible's user
// module on Linux (ansible/modules/user.py, class User) for the arguments playbooks use most: uid, group,
// groups with append, comment, home with move_home, shell, system, create_home, password (a hash), remove,
// force. Others are refused before anything connects. Registered as Ansible does: name, state, uid, group
// (the gid), comment, home, shell, groups (as given), and system/create_home or append/move_home.
import { defineTask, type Change } from '../src/task.ts'
import { GroupEntries, UserEntryFact, type GroupEntry, type UserEntry } from '../facts/system.ts'

interface UserArgs {
  name: string
  state?: 'present' | 'absent'
  uid?: number
  non_unique?: boolean
  group?: string
  groups?: string[] | string
  append?: boolean
  comment?: string
  home?: string
  move_home?: boolean
  shell?: string
  system?: boolean
  create_home?: boolean
  password?: string
  remove?: boolean
  force?: boolean
}

/** groups as Ansible takes them: a list or a comma-separated string; '' means none. */
function groupList(groups: UserArgs['groups']): string[] | undefined {
  if (groups === undefined) return undefined
  const list = typeof groups === 'string' ? groups.split(',') : groups
  return [...new Set(list.map((g) => g.trim()).filter(Boolean))]
}

export default defineTask<UserArgs>({
  name: 'user',
  description: 'an account present (uid, group, groups, comment, home, shell, password) or absent',
  aliases: { createhome: 'create_home' },
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['name'],
    properties: {
      name: { type: 'string', pattern: '^[^:,\\s]+$', description: 'a user name' },
      state: { enum: ['present', 'absent'], description: 'present or absent' },
      uid: { type: 'integer', minimum: 0, description: 'a uid' },
      non_unique: { type: 'boolean', description: 'a boolean' },
      group: { type: 'string', minLength: 1, description: 'a group name or gid' },
      groups: {
        description: 'a list of groups, or a comma-separated string',
        anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
      },
      append: { type: 'boolean', description: 'a boolean' },
      comment: { type: 'string', description: 'a string' },
      home: { type: 'string', minLength: 1, description: 'a path' },
      move_home: { type: 'boolean', description: 'a boolean' },
      shell: { type: 'string', minLength: 1, description: 'a path' },
      system: { type: 'boolean', description: 'a boolean' },
      create_home: { type: 'boolean', description: 'a boolean' },
      password: { type: 'string', description: 'a crypt(3) hash' },
      remove: { type: 'boolean', description: 'a boolean' },
      force: { type: 'boolean', description: 'a boolean' },
    },
  },
  checkInputs(args) {
    if (args.non_unique && args.uid === undefined)
      throw new Error('non_unique is True but all of the following are missing: uid')
  },
  async run(host, args) {
    const name = args.name
    const state = args.state ?? 'present'
    const groups = groupList(args.groups)
    const wanted = [...(args.group !== undefined ? [args.group] : []), ...(groups ?? [])]
    const [user, known] = (await host.gather([UserEntryFact, name], [GroupEntries, name, ...wanted])) as [
      UserEntry | undefined,
      Map<string, GroupEntry>,
    ]
    const createHome = args.create_home ?? true
    const base = { name, state }
    if (state === 'absent') {
      if (!user) return { changed: false, data: base }
      const flags = [...(args.force ? ['-f'] : []), ...(args.remove ? ['-r'] : [])]
      return {
        changed: false,
        data: base,
        changes: [
          {
            describe: `user ${name} removed`,
            apply: async () => {
              await host.$`userdel ${flags} ${name}`
              return { data: { ...base, force: args.force ?? false, remove: args.remove ?? false } }
            },
          },
        ],
      }
    }
    // A group is named or given by gid, as grp.getgrnam/getgrgid find it.
    const gidOf = async (g: string) => {
      const entry = known.get(g)
      if (entry) return entry.gid
      if (/^[0-9]+$/.test(g)) return Number(g)
      throw new Error(`Group ${g} does not exist`)
    }
    for (const g of wanted) await gidOf(g)
    const changes: Change[] = []
    const extra: Record<string, unknown> = {}
    if (!user) {
      const ownGroup = args.group === undefined && known.has(name)
      const flags = [
        ...(args.uid !== undefined ? ['-u', String(args.uid), ...(args.non_unique ? ['-o'] : [])] : []),
        ...(args.group !== undefined ? ['-g', args.group] : ownGroup ? ['-N'] : []),
        ...(groups?.length ? ['-G', groups.join(',')] : []),
        ...(args.comment !== undefined ? ['-c', args.comment] : []),
        ...(args.home !== undefined ? ['-d', args.home] : []),
        ...(args.shell !== undefined ? ['-s', args.shell] : []),
        ...(args.password !== undefined ? ['-p', args.password] : []),
        ...(createHome ? ['-m'] : ['-M']),
        ...(args.system ? ['-r'] : []),
      ]
      changes.push({ describe: `user ${name} added`, apply: async () => void (await host.$`useradd ${flags} ${name}`) })
      Object.assign(extra, { system: args.system ?? false, create_home: createHome })
    } else {
      const flags: string[] = []
      if (args.uid !== undefined && user.uid !== args.uid)
        flags.push('-u', String(args.uid), ...(args.non_unique ? ['-o'] : []))
      if (args.group !== undefined) {
        const gid = await gidOf(args.group)
        if (user.gid !== gid) flags.push('-g', String(gid))
      }
      if (groups !== undefined) {
        const current = new Set(user.memberOf)
        const differ = [
          ...new Set([...current].filter((g) => !groups.includes(g)).concat(groups.filter((g) => !current.has(g)))),
        ]
        if (
          groups.length === 0
            ? current.size > 0 && !args.append
            : args.append
              ? groups.some((g) => differ.includes(g))
              : differ.length > 0
        )
          flags.push(...(args.append ? ['-a'] : []), '-G', groups.join(','))
      }
      if (args.comment !== undefined && user.comment !== args.comment) flags.push('-c', args.comment)
      if (args.home !== undefined && user.home !== args.home)
        flags.push('-d', args.home, ...(args.move_home ? ['-m'] : []))
      if (args.shell !== undefined && user.shell !== args.shell) flags.push('-s', args.shell)
      if (args.password !== undefined && user.password.replace(/^!+/, '') !== args.password.replace(/^!+/, ''))
        flags.push('-p', args.password)
      if (flags.length)
        changes.push({
          describe: `user ${name}: ${flags.filter((f) => f.startsWith('-')).join(' ')}`,
          apply: async () => void (await host.$`usermod ${flags} ${name}`),
        })
      Object.assign(extra, { append: args.append ?? false, move_home: args.move_home ?? false })
      // As Ansible: a home that does not exist is made (from /etc/skel) when create_home holds.
      const home = args.home ?? user.home
      if (createHome && !flags.includes('-d') && !user.homeExists && home)
        changes.push({
          describe: `home ${home} created`,
          apply: async () =>
            void (await host.$`sh -c ${'mkdir -p -- "$1" && cp -a /etc/skel/. "$1" 2>/dev/null; chown -R "$2:$3" -- "$1"'} sh ${home} ${String(user.uid)} ${String(user.gid)}`),
        })
    }
    const dataOf = (now: UserEntry | undefined) => ({
      ...base,
      ...extra,
      ...(args.password !== undefined ? { password: 'NOT_LOGGING_PASSWORD' } : {}),
      ...(now ? { uid: now.uid, group: now.gid, comment: now.comment, home: now.home, shell: now.shell } : {}),
      ...(args.groups !== undefined ? { groups: (groups ?? []).join(',') } : {}),
    })
    if (!changes.length) return { changed: false, data: dataOf(user) }
    // The registered values are the account as it is once the changes are made.
    const last = changes[changes.length - 1]!
    const apply = last.apply
    last.apply = async () => {
      await apply()
      return { data: dataOf(await host.fact(UserEntryFact, name)) }
    }
    return { changed: false, data: dataOf(user), changes }
  },
})
