// What command and shell share: their args, creates/removes decided on the host, and running the line.
import { GlobMatches } from '../facts/files.ts'
import type { FactCall } from '../src/fact.ts'
import type { Target, TaskResult } from '../src/task.ts'
import { quote as quoteWord, splitWords } from '../src/util.ts'

export { quoteWord, splitWords }

export interface CommandArgs {
  cmd?: string
  argv?: string[]
  chdir?: string
  creates?: string
  removes?: string
  stdin?: string
}

export const commonProperties = {
  cmd: { type: 'string', description: 'a command line' },
  chdir: { type: 'string', description: 'a remote directory' },
  creates: { type: 'string', description: 'a remote path (glob)' },
  removes: { type: 'string', description: 'a remote path (glob)' },
  stdin: { type: 'string', description: 'text for the standard input' },
}

/** What runCommand reads (for the `reads` of command and shell): the creates and removes globs. */
export function commandReads(args: CommandArgs): FactCall[] {
  return [args.creates, args.removes].flatMap((glob) => (glob ? [globCall(glob, args)] : []))
}

const globCall = (glob: string, args: CommandArgs) => [GlobMatches, glob, args.chdir ?? ''] as const

/** creates/removes, decided on the host; the shared part of command and shell. Running is the change. */
export async function runCommand(host: Target, line: string, args: CommandArgs): Promise<TaskResult> {
  const matches = async (glob: string) => (await host.gather(globCall(glob, args)))[0]
  if (args.creates && (await matches(args.creates)))
    return { changed: false, msg: `Did not run: ${args.creates} exists` }
  if (args.removes && !(await matches(args.removes)))
    return { changed: false, msg: `Did not run: ${args.removes} does not exist` }
  // Under --check, a command whose creates/removes let us decide is reported as it would run; any other is
  // skipped, as Ansible's command module does.
  const decided = args.creates !== undefined || args.removes !== undefined
  return {
    changed: false,
    changes: [
      {
        describe: `would run: ${line}`,
        ...(decided ? {} : { unpredictable: `would run: ${line} (commands do not run under --check)` }),
        async apply() {
          const full = args.chdir ? `cd ${quoteWord(args.chdir)} && ${line}` : line
          const result = await host.$({
            nothrow: true,
            ...(args.stdin !== undefined ? { input: args.stdin } : {}),
          })`sh -c ${full}`
          const stdout = result.stdout.replace(/[\r\n]+$/, '')
          const stderr = result.stderr.replace(/[\r\n]+$/, '')
          const data = { cmd: line, rc: result.code, stdout, stderr, stdout_lines: stdout ? stdout.split('\n') : [] }
          if (result.code !== 0)
            return {
              failed: true,
              msg: `non-zero return code ${result.code}${stderr ? `: ${stderr.split('\n').slice(-3).join(' | ')}` : ''}`,
              data,
            }
          return { msg: undefined, data }
        },
      },
    ],
  }
}
