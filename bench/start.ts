// Exec → first connection, on its own and without a lab: `tsx bench/start.ts [RUNS] [ADDRESS] [BIN...]` (default
// 15 runs, 127.0.151.2, this checkout's bin/deploy.js; several BINs, as another checkout's, are compared in turn).
// The same measure as bench/fleet.ts's startTime (the benchmark's playbook against one host whose
// address is a listener noting the TCP connect), with the floors measured in the same run, interleaved with
// deploy's runs so that the machine's load weighs on all of them alike:
//   - `node -e 0`: exec → exit of a bare Node;
//   - a bare connect: exec → connect of `node -e "net.connect(...)"`, the least any Node tool can take.
// Prints the fastest and the median of each, in ms.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const runs = Number(process.argv[2] ?? 15)
const address = process.argv[3] ?? '127.0.151.2'
const port = 2222
const bins = process.argv.length > 4 ? process.argv.slice(4) : [join(root, 'bin/deploy.js')]

const work = mkdtempSync(join(tmpdir(), 'hbmon-start-'))
for (const file of ['site.yml', 'bench.conf.j2']) copyFileSync(join(root, 'bench/fleet', file), join(work, file))
writeFileSync(join(work, 'payload.bin'), randomBytes(1 << 20))
const inventory = join(work, 'inventory.yml')
writeFileSync(
  inventory,
  `all:\n  hosts:\n    start:\n      ansible_host: ${address}\n      ansible_port: ${port}\n      ansible_user: root\n`,
)

let arrived: (() => void) | undefined
const server = createServer((socket) => (arrived?.(), socket.destroy()))
await new Promise<void>((resolve) => server.listen(port, address, resolve))

/** ms from spawn() to the listener's connection (connect: true) or to the child's exit. */
async function once(args: string[], connect: boolean): Promise<number> {
  const started = process.hrtime.bigint()
  const ms = () => Number(process.hrtime.bigint() - started) / 1e6
  const connected = new Promise<number>((resolve) => (arrived = () => resolve(ms())))
  const child = spawn(process.execPath, args, {
    cwd: work,
    env: { ...process.env, CI: '1', SSH_AUTH_SOCK: '' },
    stdio: 'ignore',
  })
  const closed = new Promise<number>((resolve) => child.on('close', () => resolve(connect ? NaN : ms())))
  const result = connect ? await Promise.race([connected, closed]) : await closed
  await closed
  arrived = undefined
  return result
}

const series: Record<string, number[]> = { 'node -e 0 (exit)': [], 'bare connect': [] }
for (const bin of bins) series[bins.length > 1 ? bin : 'deploy'] = []
const bare = `require('net').connect(${port}, '${address}').on('error', () => {}).on('close', () => {})`
try {
  for (let i = 0; i < runs; i++) {
    series['node -e 0 (exit)']!.push(await once(['-e', '0'], false))
    series['bare connect']!.push(await once(['-e', bare], true))
    for (const bin of bins)
      series[bins.length > 1 ? bin : 'deploy']!.push(await once([bin, '-i', inventory, 'site.yml'], true))
  }
} finally {
  server.close()
  rmSync(work, { recursive: true, force: true })
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
for (const [name, xs] of Object.entries(series))
  console.log(
    `${name.padEnd(28)} fastest ${Math.min(...xs).toFixed(0)} ms, median ${median(xs).toFixed(0)} ms  (${runs} runs)`,
  )
