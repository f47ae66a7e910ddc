// Loops as ansible/executor/task_executor.py runs them: the items (TaskExecutor._get_loop_items with the
// items, dict and fileglob lookups), the vars each iteration sees (_run_loop: the loop var, ansible_loop_var,
// the index var), and the one result a looped task registers and is counted by (TaskExecutor.run): changed
// when an item changed, failed when one failed ("One or more items failed"), skipped when all were, each
// item's result under `results` with its item. `until` is per execution: retries + 1 attempts (`retries`
// defaults to 3), `delay` seconds apart, `attempts` registered; exhausted, the result fails with attempts
// = retries, as Ansible 2.14 counts them.
import { existsSync, readdirSync, statSync } from 'node:fs'
import { basename, dirname, isAbsolute, join, resolve } from 'node:path'
import type { Loop } from './playbook.ts'
import { render, renderValue } from './template.ts'
import { describe, fnmatchRegExp, type Vars } from './util.ts'

/** The items of a loop for one host (its vars); throws when they are not what the loop takes. `baseDirs`: where
 * with_fileglob looks (the task's role and file directories, then the playbook's). */
export function loopItems(loop: Loop, vars: Vars, baseDirs: string | string[]): unknown[] {
  const value = renderValue(loop.value, vars)
  switch (loop.kind) {
    case 'loop':
      if (!Array.isArray(value))
        throw new Error(`Invalid data passed to 'loop', it requires a list, got this instead: ${describe(value)}`)
      return value
    case 'items':
      // listify_lookup_plugin_terms, then the items lookup's one level of flattening.
      return [value].flat().flatMap((term) => (Array.isArray(term) ? term : [term]))
    case 'dict':
      if (!value || typeof value !== 'object' || Array.isArray(value))
        throw new Error(`with_dict expects a dict, got ${describe(value)}`)
      return Object.entries(value).map(([key, v]) => ({ key, value: v }))
    case 'fileglob':
      return [value].flat().flatMap((term) => fileglob(String(term), baseDirs))
  }
}

/**
 * The fileglob lookup: files (not directories) matching the pattern's last part, in the pattern's directory
 * searched as Ansible does (`files/DIR` beside the playbook, then `DIR`; an absolute directory as is).
 * DIFFERENCE: sorted by name (Python's glob returns the directory's order, which is not stable).
 */
export function fileglob(pattern: string, baseDirs: string | string[]): string[] {
  const dir = dirname(pattern)
  const candidates = isAbsolute(pattern)
    ? [dir]
    : [baseDirs].flat().flatMap((base) => [join(base, 'files', dir), join(base, dir)])
  const found = candidates.find((d) => existsSync(d) && statSync(d).isDirectory())
  if (!found) return []
  const match = fnmatchRegExp(basename(pattern))
  return readdirSync(found)
    .filter((name) => match.test(name) && (name[0] !== '.' || basename(pattern)[0] === '.'))
    .map((name) => resolve(found, name))
    .filter((path) => statSync(path).isFile())
    .sort()
}

/** The vars an iteration sees: the loop var, ansible_loop_var, and the index var when loop_control names one. */
export function itemVars(loop: Loop, vars: Vars, item: unknown, index: number): Vars {
  return {
    ...vars,
    ansible_loop_var: loop.loopVar,
    [loop.loopVar]: item,
    ...(loop.indexVar ? { ansible_index_var: loop.indexVar, [loop.indexVar]: index } : {}),
  }
}

/** What an item's result registers besides the task's own fields. */
export function itemFields(loop: Loop, item: unknown, index: number): Vars {
  return {
    [loop.loopVar]: item,
    ansible_loop_var: loop.loopVar,
    ...(loop.indexVar ? { [loop.indexVar]: index, ansible_index_var: loop.indexVar } : {}),
  }
}

/** The label shown for an item: loop_control.label, else the item. */
export function itemLabel(loop: Loop, vars: Vars): string {
  return render(loop.label ?? `{{ ${loop.loopVar} }}`, vars)
}

export interface ItemOutcome {
  changed: boolean
  failed: boolean
  skipped: boolean
  /** The item's registered result (with its item fields). */
  registered: Vars
}

/** The looped task's one result, as TaskExecutor.run builds it from the items. */
export function loopResult(items: ItemOutcome[]): {
  changed: boolean
  failed: boolean
  skipped: boolean
  msg: string
  registered: Vars
} {
  const changed = items.some((i) => i.changed)
  const failed = items.some((i) => i.failed)
  const skipped = items.length > 0 && items.every((i) => i.skipped)
  const msg = skipped ? 'All items skipped' : failed ? 'One or more items failed' : 'All items completed'
  return {
    changed,
    failed,
    skipped,
    msg,
    registered: {
      results: items.map((i) => i.registered),
      changed,
      msg,
      skipped,
      ...(failed ? { failed: true } : {}),
    },
  }
}

/** The result a loop with no items registers (and the task is skipped). */
export const noItems: Vars = { changed: false, skipped: true, skipped_reason: 'No items in the list', results: [] }

/** How many times a task runs at most: until with retries (Ansible: retries + 1, default retries 3), else once. */
export function attemptsOf(task: { until?: unknown[]; retries: number }): number {
  if (!task.until) return 1
  return task.retries <= 0 ? 1 : task.retries + 1
}
