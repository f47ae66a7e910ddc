// hbmon_frames_dest: the destination MAC of this host's frames (the fact hbmon_frames_dest, used by the
// module options in deploy.yml). hbmon_dest_mac wins; else the monitor's MAC gathered earlier in the run by
// hbmon_monitor_address; see chooseDest in _monitor.ts for the rest. The loaded module takes a new value at
// its next load (dest_mac is read-only at run time).
import { FileContent } from '../facts/files.ts'
import { defineTask } from '../src/task.ts'
import { chooseDest, currentDest } from './_monitor.ts'

export default defineTask<Record<string, never>>({
  name: 'hbmon_frames_dest',
  description: "where this host's frames go: hbmon_dest_mac, else the monitor's MAC, else broadcast",
  schema: { type: 'object', additionalProperties: false, properties: {} },
  async run(host, _args, ctx) {
    const conf = await host.fact(FileContent, '/etc/modprobe.d/hbmon.conf')
    const choice = chooseDest(
      host.vars,
      (name) => ctx.factsOf(name),
      conf === undefined ? undefined : currentDest(conf),
    )
    return {
      changed: false,
      msg: `${choice.mac} (${choice.reason})`,
      facts: { hbmon_frames_dest: choice.mac },
      data: { ...choice },
    }
  },
})
