// A fact is what a task reads on a host before it decides anything: a POSIX sh script (its arguments are $1...)
// and a pure parser of the script's output (pyinfra's FactBase: `command` + `process`). The parser needs no
// host, so every fact is tested on output recorded from the lab's Debian 12 and 13 VMs and light hosts
// (test/facts/, recorded with `npm run lab -- record-facts`).
//
// Facts are reads: they change nothing, so they run under --check too. Several facts of one host run as one
// remote command (gather), because a round trip costs more than the scripts: each fact's output is framed by
// a random marker line that carries its exit code. Each script runs in a subshell of that command with its
// arguments as $1...: its `exit` and variables are its own, and it costs a fork rather than a new shell.
import { randomBytes } from 'node:crypto'
import { quote } from './util.ts'

export interface Fact<T> {
  /** Names the fact in errors and in test/facts/fixtures/<name>/. */
  name: string
  /** Run in a subshell with ARGS as $1... (as `sh -c SCRIPT sh ARGS...` would, without starting a shell). */
  script: string
  /** Turns the script's stdout and exit code into the fact; throws when the output is not what it expects. */
  parse(stdout: string, exitCode: number, args: string[]): T
  /**
   * Set when the args are items of this many args each and the fact an array of one entry per item (the
   * paths of FileStats): the calls of one gather then run as one, with every distinct item once, and each call
   * is given the entries of its own items. A script's start costs more than its items.
   */
  perItem?: number
}

/** Identity, for typing a fact module's exports. */
export function defineFact<T>(fact: Fact<T>): Fact<T> {
  return fact
}

/** One fact and its arguments, as gather takes them. */
export type FactCall<T = unknown> = readonly [Fact<T>, ...string[]]

type Results<C extends readonly FactCall[]> = { [K in keyof C]: C[K] extends FactCall<infer T> ? T : never }

/** What a gather needs from a host: run one command and get its stdout, stderr and exit code. */
export type Exec = (command: string) => Promise<{ code: number; stdout: string; stderr: string }>

/**
 * The command that runs several facts in one go, and the parser that splits its output back into one output per
 * call. With `merge` (the default), the calls of a perItem fact run as one, where the first of them is.
 */
export function gatherCommand(
  calls: readonly FactCall[],
  { merge = true }: { merge?: boolean } = {},
): { command: string; split(stdout: string): (FactOutput | undefined)[] } {
  const mark = `--hbmon-fact-${randomBytes(8).toString('hex')}--`
  // What runs: each call, or for a perItem fact the union of its calls' items (indexed by the first call).
  const runs: { fact: Fact<unknown>; args: string[]; merged: boolean }[] = []
  const runOf: number[] = []
  const byFact = new Map<Fact<unknown>, number>()
  for (const [fact, ...args] of calls) {
    const width = merge ? fact.perItem : undefined
    const at = width ? byFact.get(fact) : undefined
    if (width && at !== undefined) {
      const run = runs[at]!
      const have = new Set(itemKeys(run.args, width))
      for (const key of itemKeys(args, width)) {
        if (have.has(key)) continue
        have.add(key)
        run.args.push(...key.split('\0'))
      }
      run.merged = true
      runOf.push(at)
    } else {
      if (width) byFact.set(fact, runs.length)
      runOf.push(runs.length)
      runs.push({ fact, args: [...args], merged: false })
    }
  }
  const command = runs
    .map(
      ({ fact, args }) =>
        `printf '%s\\n' ${mark}; (set -- ${args.map(quote).join(' ')}\n${fact.script}\n); printf '\\n%s %s\\n' ${mark} "$?"`,
    )
    .join('\n')
  return {
    command,
    split(stdout) {
      const outputs: FactOutput[] = []
      let rest = stdout
      for (const run of runs) {
        const start = rest.indexOf(`${mark}\n`)
        const end = rest.indexOf(`\n${mark} `, start)
        if (start < 0 || end < 0) break
        const eol = rest.indexOf('\n', end + 1)
        outputs.push({
          stdout: rest.slice(start + mark.length + 1, end),
          code: Number(rest.slice(end + mark.length + 2, eol < 0 ? undefined : eol)),
          ...(run.merged ? { args: run.args } : {}),
        })
        rest = rest.slice(eol < 0 ? rest.length : eol + 1)
      }
      return runOf.map((i) => outputs[i])
    },
  }
}

/** Each item of `args` (`width` args, joined by NUL, which no argument can hold). */
function itemKeys(args: readonly string[], width: number): string[] {
  const keys: string[] = []
  for (let i = 0; i < args.length; i += width) keys.push(args.slice(i, i + width).join('\0'))
  return keys
}

export interface FactOutput {
  stdout: string
  code: number
  /** The args the script ran with, when it ran for several calls of a perItem fact at once. */
  args?: string[]
}

/** A fact whose script ran but whose output did not parse, or that did not run at all. */
export class FactError extends Error {
  override name = 'FactError'
}

/** Runs the facts in one remote command and parses each; a fact that does not parse throws a FactError. */
export async function gather<const C extends readonly FactCall[]>(exec: Exec, ...calls: C): Promise<Results<C>> {
  const { command, split } = gatherCommand(calls)
  const result = await exec(command)
  return parseFacts(calls, split(result.stdout), result)
}

/** Parses each call's output (as gatherCommand's split gives them), saying what the command said if one is off. */
export function parseFacts<const C extends readonly FactCall[]>(
  calls: C,
  outputs: (FactOutput | undefined)[],
  result: { code: number; stderr: string },
): Results<C> {
  return calls.map(([fact, ...args], i) => {
    const output = outputs[i]
    if (!output) {
      const why = (result.stderr.trim() || `exit ${result.code}`).split('\n').slice(-3).join(' | ')
      throw new FactError(`fact ${fact.name} did not run: ${why}`)
    }
    try {
      if (!output.args) return fact.parse(output.stdout, output.code, args)
      // A run for several calls: this call's entries, by its items' places among the run's.
      const width = fact.perItem!
      const ran = itemKeys(output.args, width)
      const all = fact.parse(output.stdout, output.code, output.args) as unknown[]
      return itemKeys(args, width).map((key) => all[ran.indexOf(key)])
    } catch (e) {
      const stderr = result.stderr.trim().split('\n').slice(-3).join(' | ')
      throw new FactError(`fact ${fact.name}: ${(e as Error).message}${stderr ? ` (stderr: ${stderr})` : ''}`)
    }
  }) as Results<C>
}
