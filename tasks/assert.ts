// assert: every condition of `that` holds, or the host fails, as Ansible's assert action
// (ansible/plugins/action/assert.py): the first false condition is reported (evaluated_to, assertion), with
// fail_msg (alias msg) or "Assertion failed"; success_msg or "All assertions passed". Conditions are Jinja
// expressions without braces, as in `when`, compiled before anything connects.
import { defineTask } from '../src/task.ts'
import { checkTemplate, evaluateCondition, isTemplated } from '../src/template.ts'

interface AssertArgs {
  that: string | boolean | (string | boolean)[]
  fail_msg?: unknown
  success_msg?: unknown
  quiet?: boolean
}

const conditions = (that: AssertArgs['that']) => [that].flat()

export default defineTask<AssertArgs>({
  name: 'assert',
  description: 'fail the host unless every condition holds',
  aliases: { msg: 'fail_msg' },
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['that'],
    properties: {
      that: {
        description: 'a condition or a list of conditions',
        anyOf: [{ type: ['string', 'boolean'] }, { type: 'array', items: { type: ['string', 'boolean'] } }],
      },
      fail_msg: { description: 'the message when a condition is false' },
      success_msg: { description: 'the message when all hold' },
      quiet: { type: 'boolean', description: 'a boolean' },
    },
  },
  checkInputs(args) {
    for (const c of conditions(args.that)) if (typeof c === 'string' && !isTemplated(c)) checkTemplate(`{{ ${c} }}`)
  },
  async run(host, args) {
    for (const c of conditions(args.that)) {
      if (evaluateCondition(c, host.vars)) continue
      const msg = args.fail_msg ?? 'Assertion failed'
      return {
        changed: false,
        failed: true,
        msg: typeof msg === 'string' ? msg : JSON.stringify(msg),
        data: { assertion: c, evaluated_to: false },
      }
    }
    const msg = args.quiet ? undefined : (args.success_msg ?? 'All assertions passed')
    return {
      changed: false,
      ...(msg !== undefined ? { msg: String(msg) } : {}),
      data: { ...(msg !== undefined ? { msg } : {}) },
    }
  },
})
