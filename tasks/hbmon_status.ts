// hbmon_status: one line per host for the status playbook's table — kernel, distribution, headers, gcc,
// Secure Boot, the loaded module (srcversion, refcnt, holders) and the current release. Read only.
import { defineTask } from '../src/task.ts'
import { HbmonHost, ModuleStatus } from '../facts/hbmon.ts'
import { describeHolders } from './_hbmon.ts'

export default defineTask<Record<string, never>>({
  name: 'hbmon_status',
  description: 'report facts and hbmon state of the host (read only)',
  schema: { type: 'object', additionalProperties: false, properties: {} },
  async run(host) {
    // Both facts in one command; a kernel without module support has no module state to report.
    const [facts, state] = await host.gather([HbmonHost], [ModuleStatus, 'all'])
    const module = facts.module_support ? state : undefined
    const loaded = !module
      ? 'no module support'
      : module.loaded
        ? `loaded ${module.loaded}${module.file && module.file !== module.loaded ? ` (file ${module.file})` : ''} refcnt ${module.refcnt}${module.holders.length ? ` by ${describeHolders(module.holders)}` : ''}`
        : 'not loaded'
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
    return { changed: false, msg: row, data: { hbmon: facts, module: module ?? null } }
  },
})
