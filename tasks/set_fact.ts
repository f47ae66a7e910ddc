// set_fact: host vars for the rest of the run, at the precedence of registered vars, as Ansible's set_fact
// (ansible/plugins/action/set_fact.py). Each key must be a valid variable name; values are already rendered
// (a whole-string "{{ expr }}" keeps its type). `cacheable` is accepted (there is no fact cache to write).
import { defineTask } from '../src/task.ts'

export default defineTask<Record<string, unknown>>({
  name: 'set_fact',
  description: 'set host vars for the rest of the run',
  schema: {
    type: 'object',
    minProperties: 1,
    propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_]*$', description: 'a variable name' },
    properties: { cacheable: { type: 'boolean', description: 'a boolean' } },
    description: 'a mapping of variable names to values',
  },
  async run(_host, args) {
    const { cacheable: _cacheable, ...vars } = args
    return { changed: false, vars, data: { ansible_facts: vars } }
  },
})
