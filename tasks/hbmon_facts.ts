// hbmon_facts: what the hbmon tasks decide from — kernel release, arch, distribution, kbuild headers, gcc,
// Secure Boot, module support, the loaded hbmon's srcversion and the host's current release. One remote
// command and its parser (_hbmon.ts); the result is ansible_facts.hbmon for the rest of the play. With
// require_module_support (deploy.yml), a kernel that cannot load modules fails the host at once.
import { defineTask } from '../src/task.ts'
import { HbmonHost } from '../facts/hbmon.ts'

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
    const hbmon = await host.fact(HbmonHost)
    // Deploy fails such a host here, before anything is written to it, rather than at load.
    if (args.require_module_support && !hbmon.module_support)
      return {
        changed: false,
        failed: true,
        msg: `kernel ${hbmon.kernel} has no loadable module support (no /proc/modules): hbmon cannot run on this host`,
        facts: { hbmon },
        data: { hbmon },
      }
    const sb = hbmon.secure_boot === 'enabled' ? ', Secure Boot on (the module must be signed)' : ''
    const msg =
      `${hbmon.kernel} ${hbmon.arch} ${hbmon.distribution} ${hbmon.distribution_version}, headers ${hbmon.headers ? 'yes' : `no (${hbmon.headers_package})`}, ` +
      `gcc ${hbmon.gcc || 'none'}${hbmon.module_support ? '' : ', NO module support'}${sb}, loaded ${hbmon.loaded_srcversion || '-'}, release ${hbmon.current_release || '-'}`
    return { changed: false, msg, facts: { hbmon }, data: { hbmon } }
  },
})
