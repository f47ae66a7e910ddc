// hbmon_status: one line per host for the status playbook's table — kernel, distribution, headers, gcc,
// Secure Boot, the loaded module (srcversion, refcnt, holders), the current release, and the kernel the next
// boot uses with whether hbmon is ready for it (its module for that release, the running srcversion, loaded at
// boot). Read only. With require_next_boot (playbooks/preflight.yml) a host whose next boot would come up
// without hbmon fails, saying why.
import { defineTask } from '../src/task.ts'
import { bootProblems, HbmonHost, KernelModules, ModuleStatus } from '../facts/hbmon.ts'
import { InstalledKernels } from '../facts/system.ts'
import { describeHolders } from './_hbmon.ts'

export default defineTask<{ require_next_boot?: boolean }>({
  name: 'hbmon_status',
  description: 'report facts and hbmon state of the host, and whether its next boot has hbmon (read only)',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      require_next_boot: {
        type: 'boolean',
        description: 'fail the host when its next boot would come up without hbmon (default false)',
      },
    },
  },
  async run(host, args) {
    // Every fact in one command; a kernel without module support has no module state to report.
    const [facts, state, kernels, files] = await host.gather(
      [HbmonHost],
      [ModuleStatus, 'all'],
      [InstalledKernels],
      [KernelModules],
    )
    const module = facts.module_support ? state : undefined
    const loaded = !module
      ? 'no module support'
      : module.loaded
        ? `loaded ${module.loaded}${module.file && module.file !== module.loaded ? ` (file ${module.file})` : ''} refcnt ${module.refcnt}${module.holders.length ? ` by ${describeHolders(module.holders)}` : ''}`
        : 'not loaded'
    const expected = module?.loaded || module?.file || ''
    const problems = !facts.module_support
      ? ['the kernel has no module support']
      : !kernels.next
        ? [`next boot ${kernels.next_from}`]
        : bootProblems(files, kernels.next, expected)
    const ready = problems.length === 0
    const noHeaders = kernels.kernels.filter((k) => !k.headers).map((k) => k.release)
    const row = [
      host.name.padEnd(12),
      `${facts.distribution} ${facts.distribution_version}`.padEnd(10),
      `${facts.kernel} ${facts.arch}`.padEnd(30),
      `headers ${facts.headers ? 'yes' : 'no '}`,
      `gcc ${facts.gcc || '-'}`.padEnd(10),
      `sb ${facts.secure_boot}`.padEnd(14),
      `release ${facts.current_release || '-'}`.padEnd(20),
      loaded,
    ].join('  ')
    const next = `next boot ${kernels.next || '?'}${kernels.next_from && kernels.next ? ` (${kernels.next_from})` : ''}: ${ready ? 'hbmon ready' : `NO hbmon: ${problems.join('; ')}`}`
    const extra = [
      next,
      ...(noHeaders.length ? [`no headers for ${noHeaders.join(', ')}`] : []),
      ...(facts.module_support && !files.hook ? ['no kernel hook (kernels installed later get no hbmon)'] : []),
    ]
    const data = {
      hbmon: facts,
      module: module ?? null,
      kernels,
      next_boot: { release: kernels.next, from: kernels.next_from, ready, problems },
      modules: files.modules,
      load_at_boot: files.load_at_boot,
      hook: files.hook,
    }
    return {
      changed: false,
      ...(args.require_next_boot && !ready ? { failed: true } : {}),
      msg: `${row}\n${' '.repeat(14)}${extra.join('; ')}`,
      data,
    }
  },
})
