// debug: prints a message or a var's value, as Ansible's debug action (ansible/plugins/action/debug.py):
// `msg` (default "Hello world!") or `var` (a name or an expression, rendered; "VARIABLE IS NOT DEFINED!" when
// it is not). Changes nothing on the host and opens no channel.
import { defineTask } from '../src/task.ts'
import { pyRepr, renderValue, TemplateError } from '../src/template.ts'

export default defineTask<{ msg?: unknown; var?: string; verbosity?: number }>({
  name: 'debug',
  description: 'print a message or the value of a var (changes nothing)',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      msg: { description: 'a message (any value)' },
      var: { type: 'string', minLength: 1, description: 'a var name or expression' },
      verbosity: { type: 'integer', minimum: 0, description: 'shown from this -v level' },
    },
    not: { required: ['msg', 'var'] },
  },
  async run(host, args, ctx) {
    if ((args.verbosity ?? 0) > ctx.verbosity)
      return {
        changed: false,
        skipped: true,
        msg: `Skipped: verbosity ${args.verbosity}`,
        data: { skipped_reason: 'Verbosity threshold not met.' },
      }
    if (args.var === undefined) {
      const msg = args.msg ?? 'Hello world!'
      return { changed: false, msg: typeof msg === 'string' ? msg : pyRepr(msg), data: { msg } }
    }
    let value: unknown
    try {
      value = renderValue(`{{ ${args.var} }}`, host.vars)
    } catch (e) {
      if (!(e instanceof TemplateError) || !/undefined/i.test(e.message)) throw e
      value = 'VARIABLE IS NOT DEFINED!'
    }
    return {
      changed: false,
      msg: `${args.var}: ${typeof value === 'string' ? value : pyRepr(value)}`,
      data: { [args.var]: value },
    }
  },
})
