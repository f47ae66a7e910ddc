// apt: Debian packages from the host's configured repositories, as Ansible's apt module (see _apt.ts).
import { defineTask } from '../src/task.ts'
import { aptAliases, aptSchema, checkAptArgs, runApt, type AptArgs } from './_apt.ts'

export default defineTask<AptArgs>({
  name: 'apt',
  description: 'Debian packages present, absent or latest (apt-get), update_cache with cache_valid_time',
  aliases: aptAliases,
  schema: aptSchema,
  checkInputs: (args) => checkAptArgs(args),
  run: (host, args, ctx) => runApt(host, args, ctx),
})
