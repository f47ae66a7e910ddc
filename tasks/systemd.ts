// systemd: a unit started/stopped/restarted/reloaded, enabled or disabled, masked or unmasked, and
// daemon-reload, as Ansible's systemd module (see _systemd.ts). Fails on a host not running systemd.
import { defineTask } from '../src/task.ts'
import { checkSystemdArgs, runSystemd, systemdAliases, systemdProperties, type SystemdArgs } from './_systemd.ts'

export default defineTask<SystemdArgs>({
  name: 'systemd',
  description: 'a systemd unit started, stopped, restarted or reloaded; enabled; masked; daemon-reload',
  aliases: systemdAliases,
  schema: { type: 'object', additionalProperties: false, properties: systemdProperties },
  checkInputs: (args) => checkSystemdArgs(args),
  run: (host, args) => runSystemd(host, args),
})
