// Where a host's hbmon frames go: the choice deploy.yml's hbmon_frames_dest makes, as a pure function of the
// host's vars, the monitor hosts' facts from this run and the host's current setting (tested on its own).
export const broadcast = 'ff:ff:ff:ff:ff:ff'
const macRe = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/

export function isMac(value: unknown): value is string {
  return typeof value === 'string' && macRe.test(value.toLowerCase())
}

export interface DestChoice {
  mac: string
  /** Why this MAC, for the task's message. */
  reason: string
}

/**
 * hbmon_dest_mac when set; else the one monitor's MAC from its facts in this run (hbmon_monitor_address);
 * broadcast when several monitors are in the group (each receives every frame); when the monitor's facts are
 * missing (limited out, unreachable): the host's current dest_mac, so that a partial deploy changes nothing,
 * else broadcast — which reaches the monitor too. No `monitor` group: broadcast, the module's default.
 */
export function chooseDest(
  vars: Record<string, unknown>,
  monitorFacts: (host: string) => Record<string, unknown> | undefined,
  current: string | undefined,
): DestChoice {
  const set = vars.hbmon_dest_mac
  if (set !== undefined && set !== null && set !== '') {
    if (!isMac(set))
      throw new Error(`hbmon_dest_mac: expected a MAC address like 52:54:00:12:34:56, got ${JSON.stringify(set)}`)
    return { mac: set.toLowerCase(), reason: 'hbmon_dest_mac' }
  }
  const group = String(vars.hbmon_monitor_group ?? 'monitor')
  const monitors = ((vars.groups as Record<string, string[]> | undefined)?.[group] ?? []) as string[]
  if (monitors.length === 0) return { mac: broadcast, reason: `broadcast: no host in group ${group}` }
  if (monitors.length > 1)
    return {
      mac: broadcast,
      reason: `broadcast: ${monitors.length} monitors in group ${group} (${monitors.join(', ')}) each receive every frame`,
    }
  const monitor = monitors[0]!
  const facts = monitorFacts(monitor)?.hbmon_monitor as { mac?: string; iface?: string } | undefined
  if (facts && isMac(facts.mac))
    return { mac: facts.mac.toLowerCase(), reason: `the monitor ${monitor}'s ${facts.iface ?? 'interface'}` }
  if (current && isMac(current))
    return {
      mac: current.toLowerCase(),
      reason: `unchanged: the monitor ${monitor}'s MAC is not known in this run (limited out or unreachable)`,
    }
  return {
    mac: broadcast,
    reason: `broadcast: the monitor ${monitor}'s MAC is not known in this run (limited out or unreachable)`,
  }
}

/** dest_mac from an `options hbmon ...` line of /etc/modprobe.d/hbmon.conf. */
export function currentDest(modprobeConf: string): string | undefined {
  return /(?:^|\s)dest_mac=(\S+)/m.exec(
    modprobeConf
      .split('\n')
      .filter((l) => /^\s*options\s+hbmon\s/.test(l))
      .join('\n'),
  )?.[1]
}
