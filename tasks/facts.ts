// facts: what the engine knows about a host before the play's tasks (Ansible's gather_facts runs it first).
// One command, one parser. The facts are ansible_facts.NAME and ansible_NAME in templates and `when`:
// kernel (uname -r), architecture (uname -m), hostname, distribution_id / distribution_version /
// distribution_name (ID, VERSION_ID, PRETTY_NAME of /etc/os-release). DIFFERENCE: Ansible's `distribution`
// is "Debian"; ours is os-release's ID, "debian", under another name so that nobody confuses the two.
import { System } from '../facts/system.ts'
import { defineTask } from '../src/task.ts'

export default defineTask<Record<string, never>>({
  name: 'facts',
  description: 'gather kernel release, architecture, hostname and distribution',
  schema: { type: 'object', additionalProperties: false, properties: {} },
  async run(host) {
    const facts = { ...(await host.fact(System)) }
    return { changed: false, facts, data: { ansible_facts: facts } }
  },
})
