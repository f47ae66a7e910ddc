// fail: fails the host with a message, as Ansible's fail action (default "Failed as requested from task").
import { defineTask } from '../src/task.ts'
import { pyRepr } from '../src/template.ts'

export default defineTask<{ msg?: unknown }>({
  name: 'fail',
  description: 'fail the host with a message',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: { msg: { description: 'the message (any value)' } },
  },
  async run(_host, args) {
    const msg = args.msg ?? 'Failed as requested from task'
    return { changed: false, failed: true, msg: typeof msg === 'string' ? msg : pyRepr(msg) }
  },
})
