// hbmon_uninstall: unloads hbmon (refusing when in use unless hbmon_restart_holders), removes every file the
// toolkit installed (the managed set and whatever the current release lists), its state under /var/lib/hbmon,
// then depmod and an rsyslog restart. The log file stays: it is data, not something we installed.
import { defineTask } from '../src/task.ts'
import { statFiles } from './_files.ts'
import {
  describeHolders,
  factsOf,
  managedFiles,
  moduleState,
  readHistory,
  readReleaseManifest,
  rsyslogRule,
  stateDir,
  flagVar,
} from './_hbmon.ts'

export default defineTask<Record<string, never>>({
  name: 'hbmon_uninstall',
  description: 'unload hbmon and remove everything the toolkit installed',
  schema: { type: 'object', additionalProperties: false, properties: {} },
  async run(host, _args, ctx) {
    const facts = await factsOf(host)
    const history = await readHistory(host)
    const listed = history.current
      ? (await readReleaseManifest(host, history.current).catch(() => [])).map((e) => e.path)
      : []
    const paths = [...new Set([...managedFiles(facts.kernel), ...listed, stateDir, '/usr/lib/hbmon'])]
    const found = await statFiles(host, paths)
    const existing = paths.filter((_, i) => found[i]!.exists)
    const state = facts.module_support
      ? await moduleState(host, 'all')
      : { loaded: '', file: '', refcnt: 0, holders: [] }
    const what = [...(state.loaded ? [`unload hbmon ${state.loaded}`] : []), ...existing.map((p) => `remove ${p}`)]
    if (!what.length) return { changed: false, msg: 'hbmon is not installed' }
    if (ctx.check) return { changed: true, msg: `would ${what.join(', ')}` }
    if (state.loaded) {
      if ((state.holders.length || state.refcnt > 0) && !flagVar(host.vars, 'hbmon_restart_holders'))
        return {
          changed: false,
          failed: true,
          msg: `hbmon is in use by ${describeHolders(state.holders) || `refcnt ${state.refcnt}`}; not unloading it (set hbmon_restart_holders: true to stop them)`,
        }
      if (state.holders.length) await host.$({ nothrow: true })`kill -KILL ${state.holders.map((h) => String(h.pid))}`
      await host.$`rmmod hbmon`
    }
    if (existing.length) await host.$`rm -rf -- ${existing}`
    if (facts.module_support) await host.$({ nothrow: true })`depmod -a ${facts.kernel}`
    if (existing.includes(rsyslogRule)) await host.$({ nothrow: true })`systemctl restart rsyslog`
    return { changed: true, msg: what.join(', ') }
  },
})
