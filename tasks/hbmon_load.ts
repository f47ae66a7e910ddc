// hbmon_load: the module modprobe finds is the one running. Loads it when absent, reloads it when another
// srcversion runs; refuses (naming the pids and commands holding /dev/hbmon) when it is in use, unless
// hbmon_restart_holders is true. When the new module does not load, the host is rolled back to its current
// release (the last verified one) — its old module running again — and the task still fails.
import { defineTask } from '../src/task.ts'
import { ensureLoaded, factsOf, HoldersError, rollBackToCurrent, flagVar } from './_hbmon.ts'

export default defineTask<Record<string, never>>({
  name: 'hbmon_load',
  description: 'load or reload hbmon (refusing when in use unless allowed); roll back when it does not load',
  schema: { type: 'object', additionalProperties: false, properties: {} },
  async run(host, _args, ctx) {
    const facts = await factsOf(host)
    if (!facts.module_support)
      return {
        changed: false,
        failed: true,
        msg: `kernel ${facts.kernel} has no loadable module support (no /proc/modules): hbmon cannot run on this host`,
      }
    const restartHolders = flagVar(host.vars, 'hbmon_restart_holders')
    try {
      const done = await ensureLoaded(host, restartHolders, ctx.check)
      return done
        ? { changed: true, msg: ctx.check ? `would have ${done}` : done }
        : { changed: false, msg: 'hbmon loaded, same srcversion as its file' }
    } catch (e) {
      const why = (e as Error).message
      const rollback = await rollBackToCurrent(host, ctx, restartHolders)
      // A busy module was never unloaded: the running one still works; the rollback only put its files back.
      return { changed: !(e instanceof HoldersError), failed: true, msg: `${why}; ${rollback}` }
    }
  },
})
