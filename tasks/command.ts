// command: runs a program on the host without a shell, as Ansible's command: the words of `cmd` (split like
// a POSIX shell would, quotes respected) are passed literally, so $VAR, *, | and > mean nothing. Use `shell`
// for those. Changed unless `creates` exists / `removes` is absent (or changed_when says otherwise); under
// --check it only reports what it would run, as Ansible does.
import { defineTask } from '../src/task.ts'
import { isTemplated } from '../src/template.ts'
import { commonProperties, quoteWord, runCommand, splitWords, type CommandArgs } from './_command.ts'

export default defineTask<CommandArgs>({
  name: 'command',
  description: 'run a program (no shell); changed unless creates/removes say otherwise',
  freeForm: 'cmd',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: { ...commonProperties, argv: { type: 'array', items: { type: 'string' }, minItems: 1, description: 'a list of words' } },
    oneOf: [{ required: ['cmd'] }, { required: ['argv'] }],
  },
  checkInputs(args) {
    if (args.cmd !== undefined && !isTemplated(args.cmd)) splitWords(args.cmd)
  },
  run: (host, args, ctx) => runCommand(host, (args.argv ?? splitWords(args.cmd!)).map(quoteWord).join(' '), args, ctx),
})
