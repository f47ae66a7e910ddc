// Reading an input file (inventory, playbook, -e @file) with a size bound: the YAML parser holds a few dozen
// bytes per byte of input (a 50 MB inventory took 14 s and 2.2 GB), so a file that no hand wrote is refused
// before it is read. Real inventories of thousands of hosts stay well under the limit.
import { readFileSync, statSync } from 'node:fs'
import { InputError } from './util.ts'

export const maxInputBytes = 8 * 1024 * 1024

/** The text of `file`, or an InputError naming it (`what`: "the inventory", "the playbook", ...). */
export function readInput(file: string, what: string): string {
  let size: number
  try {
    size = statSync(file).size
    if (size > maxInputBytes)
      throw new InputError(
        `${what} is ${(size / 1024 / 1024).toFixed(1)} MiB; input files are limited to ${maxInputBytes / 1024 / 1024} MiB`,
        file,
      )
    return readFileSync(file, 'utf8')
  } catch (e) {
    if (e instanceof InputError) throw e
    throw new InputError(`cannot read ${what}: ${(e as Error).message}`, file)
  }
}
