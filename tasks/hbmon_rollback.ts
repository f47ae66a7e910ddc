// hbmon_rollback: back to the release before the current one (or `to`): its files restored byte for byte
// (each checked against its manifest), files it did not have removed, depmod, rsyslog/udev when their rules
// changed, that module reloaded and verified. The history drops the releases after it, so a second rollback
// goes one further back.
import { HbmonHost, ReleaseHistory, ReleaseManifest } from '../facts/hbmon.ts'
import { InstalledKernels } from '../facts/system.ts'
import { defineTask } from '../src/task.ts'
import { flagVar, restoreRelease, verifyModule, writeHistory } from './_hbmon.ts'

export default defineTask<{ to?: string }>({
  name: 'hbmon_rollback',
  description: 'restore the previous hbmon release (files, module), then verify it',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      to: {
        type: 'string',
        pattern: '^[0-9a-f]{12}$',
        description: 'a release id (default: the one before the current)',
      },
    },
  },
  async run(host, args) {
    const [facts, history, kernels] = await host.gather([HbmonHost], [ReleaseHistory], [InstalledKernels])
    const at = history.ids.lastIndexOf(history.current)
    const target = args.to ?? (at > 0 ? history.ids[at - 1] : undefined)
    if (!target)
      return {
        changed: false,
        failed: true,
        msg: `no release before ${history.current || '(none)'} to roll back to (history: ${history.ids.join(' ') || 'empty'})`,
      }
    if (!history.ids.includes(target))
      return {
        changed: false,
        failed: true,
        msg: `release ${target} is not on the host (history: ${history.ids.join(' ')})`,
      }
    const manifest = await host.fact(ReleaseManifest, target)
    return {
      changed: false,
      changes: [
        {
          describe: `roll back ${history.current} → ${target} (${manifest.length} files)`,
          async apply() {
            const changed = await restoreRelease(host, target, facts.kernel, {
              restartHolders: flagVar(host.vars, 'hbmon_restart_holders'),
              others: kernels.kernels.map((k) => k.release),
            })
            const keep = Number(host.vars.hbmon_keep_releases) || 5
            await writeHistory(host, history.ids.slice(0, history.ids.indexOf(target) + 1), target, keep)
            const check = await verifyModule(host, undefined)
            const data = { from: history.current, release: target, restored: changed, srcversion: check.srcversion }
            if (!check.ok)
              return {
                failed: true,
                msg: `rolled back to ${target} but it does not verify: ${check.problems.join('; ')}`,
                data,
              }
            return {
              changed: changed.length > 0 || target !== history.current,
              msg: `rolled back ${history.current} → ${target} (${changed.length} files), hbmon ${check.srcversion} verified`,
              data,
              facts: { hbmon_release: target },
            }
          },
        },
      ],
    }
  },
})
