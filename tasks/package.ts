// package: the host's package manager's module, as Ansible's package action picks it (ansible_pkg_mgr, else
// the pkg_mgr fact read on the host). apt is the one this toolkit drives (_apt.ts); on a host with another
// package manager the task fails saying which, and `use:` other than auto/apt is refused before connecting.
import { PackageManager } from '../facts/packages.ts'
import { defineTask } from '../src/task.ts'
import { aptAliases, aptSchema, checkAptArgs, runApt, type AptArgs } from './_apt.ts'

type PackageArgs = AptArgs & { use?: 'auto' | 'apt' }

export default defineTask<PackageArgs>({
  name: 'package',
  description: "packages with the host's package manager (apt: see apt)",
  aliases: aptAliases,
  schema: {
    ...aptSchema,
    properties: {
      ...aptSchema.properties,
      use: { enum: ['auto', 'apt'], description: 'auto or apt (the only package manager npx deploy drives)' },
    },
  },
  checkInputs: ({ use: _, ...args }) => checkAptArgs(args, 'package'),
  async run(host, { use = 'auto', ...args }, ctx) {
    const known = host.facts.pkg_mgr
    const manager = use !== 'auto' ? use : typeof known === 'string' ? known : await host.fact(PackageManager)
    if (manager === 'unknown') return { changed: false, failed: true, msg: 'Could not find a module for unknown.' }
    if (manager !== 'apt')
      return {
        changed: false,
        failed: true,
        msg: `package: this host's package manager is ${manager} (ansible_pkg_mgr); npx deploy drives apt only`,
      }
    return runApt(host, args, ctx)
  },
})
