// hbmon_verify: proves the rollout on the host — modinfo's vermagic starts with uname -r, the file's
// srcversion is the one built for this host, lsmod lists hbmon, /sys/module/hbmon/srcversion equals the file's,
// /dev/hbmon exists, `hbctl selftest` registers and beats, and a value sent through the module reaches the log
// file (rsyslog rule included). On failure the host is rolled back to its current release, which is verified
// in turn, and the task fails.
import { defineTask } from '../src/task.ts'
import { artifactOf, flagVar, rollBackToCurrent, verifyModule } from './_hbmon.ts'

export default defineTask<{ srcversion?: string; rollback?: boolean }>({
  name: 'hbmon_verify',
  description: 'check the loaded hbmon (modinfo, lsmod, srcversion, /dev/hbmon, selftest, a line in the log)',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      srcversion: { type: 'string', description: 'the expected srcversion (default: the one built for this host)' },
      rollback: { type: 'boolean', description: 'roll back to the current release on failure (default true)' },
    },
  },
  async run(host, args) {
    const expected = args.srcversion ?? artifactOf(host)?.srcversion
    // Verifying sends a value through the module to the log: an action, so it is a change the engine applies
    // (and reports skipped under --check) — one that reports changed only when it had to roll back.
    return {
      changed: false,
      changes: [
        {
          describe: 'verify hbmon',
          unpredictable: 'verify runs only for real (it talks to the module)',
          async apply() {
            const result = await verifyModule(host, expected)
            const data = { ...result, expected_srcversion: expected ?? '' }
            if (result.ok)
              return {
                changed: false,
                msg: `hbmon ${result.srcversion} verified (log line after ${result.log_ms} ms)`,
                data,
              }
            const rollback =
              args.rollback === false
                ? 'not rolled back'
                : await rollBackToCurrent(host, flagVar(host.vars, 'hbmon_restart_holders'))
            return {
              changed: args.rollback !== false,
              failed: true,
              msg: `verify failed: ${result.problems.join('; ')}; ${rollback}`,
              data,
            }
          },
        },
      ],
    }
  },
})
