// hbmon_uninstall: unloads hbmon (refusing when in use unless hbmon_restart_holders), removes every file the
// toolkit installed (the managed set and whatever the current release lists), its state under /var/lib/hbmon,
// then depmod and an rsyslog restart. The log file stays: it is data, not something we installed.
import { statFiles } from '../facts/files.ts'
import { HbmonHost, ModuleStatus, ReleaseHistory, ReleaseManifest, stateDir } from '../facts/hbmon.ts'
import { InstalledKernels } from '../facts/system.ts'
import { defineTask } from '../src/task.ts'
import { describeHolders, flagVar, managedFiles, rsyslogRule, stopHolders } from './_hbmon.ts'

export default defineTask<Record<string, never>>({
  name: 'hbmon_uninstall',
  description: 'unload hbmon and remove everything the toolkit installed',
  schema: { type: 'object', additionalProperties: false, properties: {} },
  async run(host) {
    const [facts, history, state, kernels] = await host.gather(
      [HbmonHost],
      [ReleaseHistory],
      [ModuleStatus, 'all'],
      [InstalledKernels],
    )
    const others = kernels.kernels.map((k) => k.release)
    const listed = history.current
      ? (await host.fact(ReleaseManifest, history.current).catch(() => [])).map((e) => e.path)
      : []
    const paths = [...new Set([...managedFiles(facts.kernel, others), ...listed, stateDir, '/usr/lib/hbmon'])]
    const found = await statFiles(host, paths)
    const existing = paths.filter((_, i) => found[i]!.exists)
    const loaded = facts.module_support ? state.loaded : ''
    const what = [...(loaded ? [`unload hbmon ${loaded}`] : []), ...existing.map((p) => `remove ${p}`)]
    if (!what.length) return { changed: false, msg: 'hbmon is not installed' }
    if (loaded && (state.holders.length || state.refcnt > 0) && !flagVar(host.vars, 'hbmon_restart_holders'))
      return {
        changed: false,
        failed: true,
        msg: `hbmon is in use by ${describeHolders(state.holders) || `refcnt ${state.refcnt}`}; not unloading it (set hbmon_restart_holders: true to stop them)`,
      }
    return {
      changed: false,
      changes: [
        {
          describe: what.join(', '),
          async apply() {
            if (loaded) {
              // The same stop as a reload's: TERM, then KILL after 5 s.
              if (state.holders.length) await stopHolders(host, state.holders)
              await host.$`rmmod hbmon`
            }
            if (existing.length) await host.$`rm -rf -- ${existing}`
            if (facts.module_support)
              for (const kernel of new Set([facts.kernel, ...others]))
                await host.$({ nothrow: true })`depmod -a ${kernel}`
            if (existing.includes(rsyslogRule)) await host.$({ nothrow: true })`systemctl restart rsyslog`
          },
        },
      ],
    }
  },
})
