import { readFileSync } from 'node:fs'

// Process helpers for the lab: it only ever signals processes it started, by the pids it recorded.
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** True while the process runs; a zombie (ended, not yet reaped by its parent) counts as gone. */
export function alive(pid: number | undefined): boolean {
  if (!pid) return false
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  return processState(pid) !== 'Z'
}

/** The one-letter state from /proc/PID/stat (R, S, T, Z ...), or undefined when there is no such process. */
export function processState(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8')
      .replace(/^.*\) /s, '')
      .split(' ')[0]
  } catch {
    return undefined
  }
}

export function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name)
  } catch {
    // already gone
  }
}

export async function waitGone(pid: number, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) if (!alive(pid)) return true
  return !alive(pid)
}

/** SIGTERM, then SIGKILL after the grace period; resolves once the process is gone. */
export async function terminate(pid: number, graceMs = 10_000): Promise<void> {
  if (!alive(pid)) return
  signal(pid, 'SIGTERM')
  if (await waitGone(pid, graceMs)) return
  signal(pid, 'SIGKILL')
  if (!(await waitGone(pid, 5000))) throw new Error(`process ${pid} did not end`)
}
