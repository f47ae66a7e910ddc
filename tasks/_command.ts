// What command and shell share: their args, creates/removes decided on the host, and running the line.
import type { Target, TaskContext, TaskResult } from '../src/task.ts'
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

const globScript =
  'IFS=; if [ -n "$2" ]; then cd -- "$2" || exit 2; fi; for f in $1; do [ -e "$f" ] && exit 0; done; exit 1'

/** creates/removes, decided on the host; the shared part of command and shell. */
export async function runCommand(host: Target, line: string, args: CommandArgs, ctx: TaskContext): Promise<TaskResult> {
  const would = ctx.check ? 'Would' : 'Did'
  // The pattern is an argument, never part of the script: with IFS empty, $1 is globbed but not split, and
  // nothing in it is run. Relative to chdir, as the command module checks it after changing directory.
  const exists = async (glob: string) =>
    (await host.$({ nothrow: true })`sh -c ${globScript} sh ${glob} ${args.chdir ?? ''}`).code === 0
  if (args.creates && (await exists(args.creates)))
    return { changed: false, msg: `${would} not run: ${args.creates} exists` }
  if (args.removes && !(await exists(args.removes)))
    return { changed: false, msg: `${would} not run: ${args.removes} does not exist` }
  if (ctx.check) {
    const decided = args.creates !== undefined || args.removes !== undefined
    return decided
      ? { changed: true, msg: `would run: ${line}` }
      : { changed: false, skipped: true, msg: `would run: ${line} (commands do not run under --check)` }
  }
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
      changed: true,
      failed: true,
      msg: `non-zero return code ${result.code}${stderr ? `: ${stderr.split('\n').slice(-3).join(' | ')}` : ''}`,
      data,
    }
  return { changed: true, data }
}
