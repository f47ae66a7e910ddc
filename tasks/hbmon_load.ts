// hbmon_load: the module modprobe finds is the one running. Loads it when absent, reloads it when another
// srcversion runs; refuses (naming the pids and commands holding /dev/hbmon) when it is in use, unless
// hbmon_restart_holders is true. When the new module does not load, the host is rolled back to its current
// release (the last verified one) — its old module running again — and the task still fails.
import { defineTask, type Change } from '../src/task.ts'
import { factsOf, flagVar, HoldersError, loadChange, rollBackToCurrent } from './_hbmon.ts'

export default defineTask<Record<string, never>>({
  name: 'hbmon_load',
  description: 'load or reload hbmon (refusing when in use unless allowed); roll back when it does not load',
  schema: { type: 'object', additionalProperties: false, properties: {} },
  async run(host) {
    const facts = await factsOf(host)
    if (!facts.module_support)
      return {
        changed: false,
        failed: true,
        msg: `kernel ${facts.kernel} has no loadable module support (no /proc/modules): hbmon cannot run on this host`,
      }
    const restartHolders = flagVar(host.vars, 'hbmon_restart_holders')
    // A new module that does not load takes the host back to its current release, old module running.
    const rollBack = (why: string, changed: boolean): Change => ({
      describe: `${why}; roll back to the current release`,
      apply: async () => ({ changed, failed: true, msg: `${why}; ${await rollBackToCurrent(host, restartHolders)}` }),
    })
    let load: Change | undefined
    try {
      load = await loadChange(host, restartHolders)
    } catch (e) {
      // In use and not allowed to stop its holders: the running module was never touched, only its files go back.
      if (e instanceof HoldersError) return { changed: false, failed: true, changes: [rollBack(e.message, false)] }
      throw e
    }
    if (!load) return { changed: false, msg: 'hbmon loaded, same srcversion as its file' }
    const change = load
    return {
      changed: false,
      changes: [
        {
          describe: change.describe,
          async apply() {
            try {
              await change.apply()
            } catch (e) {
              return rollBack((e as Error).message, !(e instanceof HoldersError)).apply()
            }
          },
        },
      ],
    }
  },
})
