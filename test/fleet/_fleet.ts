// Helpers for the fleet tests: run the CLI as a user would, and read the light hosts' sshd logs.
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Lab } from '../../lab/lab.ts'

export const root = fileURLToPath(new URL('../..', import.meta.url))

export interface DeployRun {
  code: number | null
  stdout: string
  stderr: string
  seconds: number
  report?: any
}

/** `node bin/deploy.js ARGS --json FILE` under CI=1 (plain output); the parsed report when it was written. */
export function deploy(args: string[], json?: string): Promise<DeployRun> {
  const started = Date.now()
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, 'bin/deploy.js'), ...args, ...(json ? ['--json', json] : [])], {
      cwd: root,
      env: { ...process.env, CI: '1', SSH_AUTH_SOCK: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => (stdout += c))
    child.stderr.on('data', (c: Buffer) => (stderr += c))
    child.on('close', (code) => {
      const report = json && existsSync(json) ? JSON.parse(readFileSync(json, 'utf8')) : undefined
      resolve({ code, stdout, stderr, seconds: (Date.now() - started) / 1000, report })
    })
  })
}

/** How many connections a light host's sshd has logged so far. */
export function connections(lab: Lab, name: string): number {
  const log = join(lab.dir, 'light', name, 'sshd.log')
  return existsSync(log) ? (readFileSync(log, 'utf8').match(/Connection from /g) ?? []).length : 0
}

/** Per host, the status of each task, in order ("name=status"). */
export function statuses(report: any, host: string): string[] {
  return (report.hosts[host]?.tasks ?? []).map((t: any) => `${t.task}=${t.status}`)
}
