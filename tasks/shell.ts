// shell: runs a command line with /bin/sh on the host (pipes, redirections, $VARS work), as Ansible's shell.
// Same rules as command for creates/removes, changed and --check.
import { defineTask } from '../src/task.ts'
import { commandReads, commonProperties, runCommand, type CommandArgs } from './_command.ts'

export default defineTask<CommandArgs>({
  name: 'shell',
  description: 'run a command line with sh; changed unless creates/removes say otherwise',
  freeForm: 'cmd',
  schema: { type: 'object', additionalProperties: false, properties: commonProperties, required: ['cmd'] },
  reads: commandReads,
  run: (host, args) => runCommand(host, args.cmd!, args),
})
