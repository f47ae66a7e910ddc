// hbmon_facts: what the hbmon tasks decide from — kernel release, arch, distribution, kbuild headers, gcc,
// Secure Boot, module support, the loaded hbmon's srcversion and the host's current release; and the installed
// kernels (with their headers) and the next boot's (ansible_facts.hbmon_kernels). One remote
// command and its parser (_hbmon.ts); the result is ansible_facts.hbmon for the rest of the play. With
// require_module_support (deploy.yml), a kernel that cannot load modules fails the host at once.
import { defineTask } from '../src/task.ts'
import { HbmonHost } from '../facts/hbmon.ts'
import { InstalledKernels } from '../facts/system.ts'

export default defineTask<{ require_module_support?: boolean }>({
  name: 'hbmon_facts',
  description:
    'gather what hbmon needs to know about a host (kernel, headers, gcc, Secure Boot, loaded module, release)',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      require_module_support: {
        type: 'boolean',
        description: 'fail a host whose kernel cannot load modules (default false)',
      },
    },
  },
  async run(host, args) {
    const [hbmon, kernels] = await host.gather([HbmonHost], [InstalledKernels])
    // Deploy fails such a host here, before anything is written to it, rather than at load.
    if (args.require_module_support && !hbmon.module_support)
      return {
        changed: false,
        failed: true,
        msg: `kernel ${hbmon.kernel} has no loadable module support (no /proc/modules): hbmon cannot run on this host`,
        facts: { hbmon, hbmon_kernels: kernels },
        data: { hbmon, kernels },
      }
    const sb = hbmon.secure_boot === 'enabled' ? ', Secure Boot on (the module must be signed)' : ''
    const msg =
      `${hbmon.kernel} ${hbmon.arch} ${hbmon.distribution} ${hbmon.distribution_version}, headers ${hbmon.headers ? 'yes' : `no (${hbmon.headers_package})`}, ` +
      `gcc ${hbmon.gcc || 'none'}${hbmon.module_support ? '' : ', NO module support'}${sb}, loaded ${hbmon.loaded_srcversion || '-'}, release ${hbmon.current_release || '-'}`
    const others = kernels.kernels.filter((k) => k.release !== kernels.running)
    const more = others.length
      ? `; also installed: ${others.map((k) => `${k.release}${k.headers ? '' : ' (no headers)'}`).join(', ')}`
      : ''
    const next = `; next boot: ${kernels.next || kernels.next_from}`
    return {
      changed: false,
      msg: msg + more + next,
      facts: { hbmon, hbmon_kernels: kernels },
      data: { hbmon, kernels },
    }
  },
})
