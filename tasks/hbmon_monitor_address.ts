// hbmon_monitor_address: the health monitor's MAC on the segment it listens on, as a fact
// (ansible_facts.hbmon_monitor = { iface, mac }) that deploy.yml's hbmon_frames_dest reads on every other host.
// The interface: `iface`, else hbmon_monitor_iface, else hbmon_iface.
import { FileContent } from '../facts/files.ts'
import { defineTask } from '../src/task.ts'
import { isMac } from './_monitor.ts'

export default defineTask<{ iface?: string }>({
  name: 'hbmon_monitor_address',
  description: "the monitor's MAC on its segment, as the fact hbmon_monitor",
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: { iface: { type: 'string', minLength: 1, description: 'an interface name' } },
  },
  async run(host, args) {
    const iface = String(args.iface ?? host.vars.hbmon_monitor_iface ?? host.vars.hbmon_iface ?? '')
    if (!iface) throw new Error('no interface: set hbmon_monitor_iface (or hbmon_iface) for the monitor host')
    if (iface.includes('/') || iface.startsWith('.')) throw new Error(`${iface} is not an interface name`)
    const address = await host.fact(FileContent, `/sys/class/net/${iface}/address`)
    const mac = (address ?? '').trim().toLowerCase()
    if (!isMac(mac))
      throw new Error(
        `${iface}: no such Ethernet interface on ${host.name} (${address === undefined ? 'absent' : mac})`,
      )
    return { changed: false, msg: `${iface} ${mac}`, facts: { hbmon_monitor: { iface, mac } }, data: { iface, mac } }
  },
})
