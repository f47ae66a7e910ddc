// command: runs a program on the host without a shell, as Ansible's command: the words of `cmd` (split like
// a POSIX shell would, quotes respected) are passed as they are, so *, | and > mean nothing (use `shell`);
// like Ansible's module, $VAR, ${VAR} and a leading ~ in a word are expanded from the host's environment. Changed unless `creates` exists / `removes` is absent (or changed_when says otherwise); under
// --check it only reports what it would run, as Ansible does.
import { Environment } from '../facts/system.ts'
import { defineTask } from '../src/task.ts'
import { isTemplated } from '../src/template.ts'
import { commandReads, commonProperties, quoteWord, runCommand, splitWords, type CommandArgs } from './_command.ts'

// Ansible's command module expands $VAR, ${VAR} and a leading ~ in each word (expand_argument_vars, on by
// default) with Python's os.path.expandvars/expanduser, in the environment the command runs in: unknown
// variables and ~user stay as written.

function expandVars(word: string, env: Record<string, string>): string {
  return word.replace(/\$(\w+|\{[^}]*\})/g, (whole, name: string) => {
    const key = name.startsWith('{') && name.endsWith('}') ? name.slice(1, -1) : name
    return Object.hasOwn(env, key) ? env[key]! : whole
  })
}

function expandUser(word: string, env: Record<string, string>): string {
  if (!word.startsWith('~')) return word
  const end = word.indexOf('/', 1) < 0 ? word.length : word.indexOf('/', 1)
  if (end !== 1 || env.HOME === undefined) return word
  return (env.HOME.replace(/\/+$/, '') || '/') + word.slice(end)
}

const expands = (words: string[]) => words.some((w) => w.includes('$') || w.startsWith('~'))

export default defineTask<CommandArgs>({
  name: 'command',
  description: 'run a program (no shell); changed unless creates/removes say otherwise',
  freeForm: 'cmd',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      ...commonProperties,
      argv: { type: 'array', items: { type: 'string' }, minItems: 1, description: 'a list of words' },
    },
    oneOf: [{ required: ['cmd'] }, { required: ['argv'] }],
  },
  checkInputs(args) {
    if (args.cmd !== undefined && !isTemplated(args.cmd)) splitWords(args.cmd)
  },
  reads: (args) => [
    ...(expands(args.argv ?? splitWords(args.cmd!)) ? [[Environment] as const] : []),
    ...commandReads(args),
  ],
  async run(host, args) {
    let words = args.argv ?? splitWords(args.cmd!)
    if (expands(words)) {
      const env = await host.fact(Environment)
      words = words.map((w) => expandUser(expandVars(w, env), env))
    }
    return runCommand(host, words.map(quoteWord).join(' '), args)
  },
})
