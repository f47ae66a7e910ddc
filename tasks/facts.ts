// facts: what the engine knows about a host before the play's tasks (Ansible's gather_facts runs it first).
// One command, one parser. The facts are ansible_facts.NAME and ansible_NAME in templates and `when`:
// kernel (uname -r), architecture (uname -m), hostname, distribution_id / distribution_version /
// distribution_name (ID, VERSION_ID, PRETTY_NAME of /etc/os-release). DIFFERENCE: Ansible's `distribution`
// is "Debian"; ours is os-release's ID, "debian", under another name so that nobody confuses the two.
import { defineTask, type Target } from '../src/task.ts'

const probe = `uname -r; uname -m; hostname; (. /etc/os-release 2>/dev/null; echo "\${ID:-}"; echo "\${VERSION_ID:-}"; echo "\${PRETTY_NAME:-}")`

export async function gatherFacts(host: Target): Promise<Record<string, string>> {
  const { stdout } = await host.$`sh -c ${probe}`
  const [kernel = '', architecture = '', hostname = '', id = '', version = '', name = ''] = stdout.split('\n')
  return { kernel, architecture, hostname, distribution_id: id, distribution_version: version, distribution_name: name }
}

export default defineTask<Record<string, never>>({
  name: 'facts',
  description: 'gather kernel release, architecture, hostname and distribution',
  schema: { type: 'object', additionalProperties: false, properties: {} },
  async run(host) {
    const facts = await gatherFacts(host)
    return { changed: false, facts, data: { ansible_facts: facts } }
  },
})
