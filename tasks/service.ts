// service: as Ansible's service action, the host's service manager's module (ansible_service_mgr, else the
// service_mgr fact read on the host). On a systemd host that is the systemd module (_systemd.ts), with its
// arguments and results. Another service manager (SysV scripts, upstart, OpenRC, a container whose PID 1 is
// the service itself) fails the task saying which: npx deploy manages systemd units only. The SysV-only
// arguments (pattern, runlevel, sleep, arguments), which Ansible drops with a warning on systemd hosts, are
// refused before connecting.
import { ServiceManager } from '../facts/services.ts'
import { defineTask } from '../src/task.ts'
import { checkSystemdArgs, runSystemd, systemdAliases, systemdProperties, type SystemdArgs } from './_systemd.ts'

type ServiceArgs = SystemdArgs & { use?: 'auto' | 'systemd' }

export default defineTask<ServiceArgs>({
  name: 'service',
  description: 'a service started, stopped, restarted or reloaded, and enabled (systemd hosts)',
  aliases: systemdAliases,
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['name'],
    properties: {
      ...systemdProperties,
      use: { enum: ['auto', 'systemd'], description: 'auto or systemd (the only service manager npx deploy drives)' },
    },
  },
  checkInputs: ({ use: _, ...args }) => checkSystemdArgs(args),
  async run(host, { use = 'auto', ...args }) {
    const known = host.facts.service_mgr
    const manager = use !== 'auto' ? use : typeof known === 'string' ? known : await host.fact(ServiceManager)
    if (manager !== 'systemd')
      return {
        changed: false,
        failed: true,
        msg: `service: this host's service manager is ${manager} (ansible_service_mgr), not systemd; npx deploy manages systemd units only`,
      }
    return runSystemd(host, args)
  },
})
