// Runs every test file as its own process and prints one plain summary line that CI reads.
//
// uvu swallows errors thrown in before/after hooks and still exits 0, and a crashed file prints no
// summary at all. So a file counts its tests as failed unless uvu says every one of them passed:
// failed = total + skipped - passed (a skipped test is not a passed one).
//
// Each file also runs inside a fence, so that one file's failure never becomes another's and nothing
// outlives the run:
// - its own TMPDIR (empty at the end, or the file fails naming what it left);
// - a mark in its environment (HBMON_TEST_MARK) that every process it starts inherits, QEMU and sshd
//   daemons included: any marked process still running afterwards is a leak, named and ended;
// - mounts under its TMPDIR or the repository, and the lab's nft tables (their comment names the lab's
//   directory), compared with what existed before the file: new ones are leaks, named and removed;
// - a time limit (HBMON_TEST_FILE_TIMEOUT seconds, default 1500): an overrun names the test that was running
//   (test/progress.ts records it) and costs minutes, not CI's whole budget.
// SIGINT/SIGTERM of the runner stops the running file the same way and sweeps before exiting.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs'
import { tmpdir, userInfo } from 'node:os'
import { join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildDist } from '../build/dist.ts'
import { ensurePackages } from '../lab/packages.ts'

const root = fileURLToPath(new URL('..', import.meta.url))
const progressModule = fileURLToPath(new URL('progress.ts', import.meta.url))
const filters = process.argv.slice(2)
const fileLimitMs = Number(process.env.HBMON_TEST_FILE_TIMEOUT ?? 1500) * 1000
const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms))

// Unit tests first; suites that boot hosts (test/lab (lab/ itself), test/vm, test/fleet ...) after them.
function findTests(dir: string): string[] {
  const found: string[] = []
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry)
    // test/faults and test/slow run when named (npm run test:faults, test:kernels): a fault or a kernel package
    // installed and two reboots under TCG cost 20-40 minutes each, more than CI's budget leaves.
    const slow = [join(root, 'test/faults'), join(root, 'test/slow')]
    if (entry === 'node_modules' || entry.startsWith('.') || slow.includes(path)) continue
    if (statSync(path).isDirectory()) found.push(...findTests(path))
    else if (entry.endsWith('.test.ts')) found.push(path)
  }
  return found
}

// A filter that names an existing test file runs that file even outside test/ (the runner's own tests use this).
const named = filters.filter((f) => f.endsWith('.test.ts') && existsSync(f)).map((f) => resolve(f))
const all = named.length > 0 ? named : findTests(join(root, 'test'))
const byDepth = (file: string) => relative(join(root, 'test'), file).split('/').length
const files = all
  .filter((file) => named.length > 0 || filters.length === 0 || filters.some((f) => relative(root, file).includes(f)))
  .sort((a, b) => byDepth(a) - byDepth(b) || a.localeCompare(b))

// --- what a file may leave behind -------------------------------------------------------------------

interface Fence {
  mark: string
  tmp: string
  progress: string
  mountsBefore: Set<string>
  tablesBefore: Set<string>
}

function mountPoints(): Set<string> {
  const lines = readFileSync('/proc/self/mountinfo', 'utf8').trim().split('\n')
  // Field 5 is the mount point, with spaces and the like written as octal escapes.
  return new Set(
    lines.map((line) =>
      line.split(' ')[4]!.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))),
    ),
  )
}

function nftTables(): Set<string> {
  const listed = spawnSync('nft', ['list', 'tables'], { encoding: 'utf8' })
  if (listed.status !== 0) return new Set()
  return new Set(
    listed.stdout
      .split('\n')
      .filter((l) => l.startsWith('table '))
      .map((l) => l.slice('table '.length).trim()),
  )
}

/** The processes that carry this file's mark: started by it, wherever they were reparented to. */
function markedProcesses(mark: string): Array<{ pid: number; comm: string }> {
  const needle = `\0HBMON_TEST_MARK=${mark}\0`
  const found: Array<{ pid: number; comm: string }> = []
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry)
    if (!Number.isInteger(pid) || pid === process.pid) continue
    try {
      if (!`\0${readFileSync(`/proc/${pid}/environ`, 'latin1')}`.includes(needle)) continue
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      if (stat.replace(/^.*\) /s, '').startsWith('Z')) continue // ended, only not reaped yet
      found.push({ pid, comm: /\((.*)\)/s.exec(stat)?.[1] ?? '?' })
    } catch {
      // gone meanwhile, or a kernel thread
    }
  }
  return found
}

function within(path: string, dirs: string[]): boolean {
  return dirs.some((dir) => path === dir || path.startsWith(`${dir}/`))
}

/** Names what the file left behind and removes it. Returns one line per kind of leak. */
async function sweep(fence: Fence): Promise<string[]> {
  const leaks: string[] = []
  const ours = [fence.tmp, root.replace(/\/$/, '')]

  const procs = markedProcesses(fence.mark)
  if (procs.length > 0) {
    leaks.push(`processes still running: ${procs.map((p) => `${p.pid} (${p.comm})`).join(', ')}`)
    for (const { pid } of procs) for (const sig of ['SIGCONT', 'SIGTERM'] as const) tryKill(pid, sig)
    for (let i = 0; i < 50 && markedProcesses(fence.mark).length > 0; i++) await sleep(100)
    for (const { pid } of markedProcesses(fence.mark)) tryKill(pid, 'SIGKILL')
    for (let i = 0; i < 50 && markedProcesses(fence.mark).length > 0; i++) await sleep(100)
  }

  const mounts = [...mountPoints()].filter((m) => !fence.mountsBefore.has(m) && within(m, ours))
  if (mounts.length > 0) {
    leaks.push(`mounts left: ${mounts.join(', ')}`)
    for (const m of mounts.sort((a, b) => b.length - a.length)) spawnSync('umount', ['-l', m])
  }

  for (const table of nftTables()) {
    if (fence.tablesBefore.has(table) || !/ hbmon_/.test(` ${table}`)) continue
    const text = spawnSync('nft', ['list', 'table', ...table.split(' ')], { encoding: 'utf8' }).stdout ?? ''
    const labDir = /comment "lab (.*)"/.exec(text)?.[1]
    if (labDir === undefined || !within(labDir, ours)) continue
    leaks.push(`nft table left: ${table} (lab ${labDir})`)
    spawnSync('nft', ['delete', 'table', ...table.split(' ')])
  }

  const left = existsSync(fence.tmp) ? readdirSync(fence.tmp).filter((entry) => entry !== tsxCache) : []
  if (left.length > 0) leaks.push(`temporary files left in TMPDIR: ${left.join(', ')}`)
  // --one-file-system: never follow a mount that could not be removed into the machine's own files.
  spawnSync('rm', ['-rf', '--one-file-system', fence.tmp])
  rmSync(fence.progress, { force: true })
  return leaks
}

function tryKill(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig)
  } catch {
    // already gone
  }
}

// --- running one file --------------------------------------------------------------------------------

interface FileResult {
  total: number
  passed: number
  code: number | null
  seconds: number
  /** Why the runner stopped the file: its time limit, or an interrupt of the whole run. */
  stopped?: string
}

const tsxCache = `tsx-${userInfo().uid}`
const runDir = mkdtempSync(join(tmpdir(), 'hbmon-test-run-'))
let current: { child: ChildProcess; fence: Fence; stop: (why: string) => void } | undefined
let interrupted: NodeJS.Signals | undefined

function runningTest(fence: Fence): string {
  try {
    const { test, started } = JSON.parse(readFileSync(fence.progress, 'utf8')) as { test: string; started: number }
    return `test "${test}" (running for ${Math.round((Date.now() - started) / 1000)} s)`
  } catch {
    return 'no test started yet (module setup)'
  }
}

function runFile(file: string, index: number): Promise<FileResult & { fence: Fence }> {
  const started = Date.now()
  const fence: Fence = {
    mark: `${process.pid}-${index}`,
    tmp: join(runDir, `tmp-${index}`),
    progress: join(runDir, `progress-${index}.json`),
    mountsBefore: mountPoints(),
    tablesBefore: nftTables(),
  }
  mkdirSync(fence.tmp)
  // tsx keeps its compile cache in TMPDIR/tsx-UID: point that at the usual one, so each file does not
  // compile everything again (the link is removed with the directory; the cache is not).
  mkdirSync(join(tmpdir(), tsxCache), { recursive: true })
  symlinkSync(join(tmpdir(), tsxCache), join(fence.tmp, tsxCache))
  return new Promise((done) => {
    // detached: the file gets its own process group, so that stopping it reaches everything it spawned.
    const child = spawn(process.execPath, ['--import', 'tsx', '--import', progressModule, file], {
      cwd: root,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        FORCE_COLOR: '0',
        // Each VM suite's lab resumes the boot the first one saved (lab/vms.ts): seconds instead of minutes.
        HBMON_LAB_BOOT_SNAPSHOTS: process.env.HBMON_LAB_BOOT_SNAPSHOTS ?? '1',
        // One artifact cache for the run: a module built for a kernel release by one VM suite is not built
        // again by the next (suites that must build use a cache of their own).
        HBMON_TEST_ARTIFACT_CACHE: process.env.HBMON_TEST_ARTIFACT_CACHE ?? join(runDir, 'artifacts'),
        TMPDIR: fence.tmp,
        HBMON_TEST_MARK: fence.mark,
        HBMON_TEST_PROGRESS: fence.progress,
      },
    })
    let out = ''
    let stopped: string | undefined
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      process.stdout.write(chunk)
    })
    child.stderr!.on('data', (chunk: Buffer) => process.stderr.write(chunk))
    // SIGTERM first: the file's labs take themselves down (lab.ts); then the whole group is killed.
    const stop = (why: string) => {
      if (stopped) return
      stopped = why
      tryKill(child.pid!, 'SIGTERM')
      setTimeout(() => tryKill(-child.pid!, 'SIGKILL'), 30_000).unref()
    }
    const timer = setTimeout(() => stop(`over its ${fileLimitMs / 1000} s limit in ${runningTest(fence)}`), fileLimitMs)
    current = { child, fence, stop }
    child.on('close', (code) => {
      clearTimeout(timer)
      tryKill(-child.pid!, 'SIGKILL') // anything of its group that did not leave with it
      current = undefined
      const plain = out.replace(/\x1b\[[0-9;]*m/g, '')
      const total = Number(/Total:\s+(\d+)/.exec(plain)?.[1] ?? 0)
      const passed = Number(/Passed:\s+(\d+)/.exec(plain)?.[1] ?? 0)
      const skipped = Number(/Skipped:\s+(\d+)/.exec(plain)?.[1] ?? 0)
      done({ total: total + skipped, passed, code, seconds: (Date.now() - started) / 1000, stopped, fence })
    })
  })
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    interrupted = sig
    if (current) current.stop(`the run was interrupted (${sig}) in ${runningTest(current.fence)}`)
  })
}

// On a fresh machine `npm test` is the first command: the Debian packages come first, saying so.
ensurePackages((line) => process.stdout.write(`${line}\n`))
// The tests run what users run: bin/deploy.js runs dist/, so build it from the sources as they are now (not
// again in a runner a test starts: its parent built it).
if (!process.env.HBMON_TEST_MARK) await buildDist()

let passed = 0
let failed = 0
for (const [index, file] of files.entries()) {
  if (interrupted) break
  const name = relative(root, file)
  process.stdout.write(`\n# ${name}\n`)
  const result = await runFile(file, index)
  const leaks = await sweep(result.fence)
  // A file that ran no test, or exited non-zero with no failed test to show for it, counts one more failure;
  // so does a file the runner had to stop, or one that left something behind.
  const unseen = result.total === 0 || (result.code !== 0 && result.passed === result.total)
  const extra = unseen || result.stopped || leaks.length > 0 ? 1 : 0
  const fileFailed = result.total - result.passed + extra
  passed += result.passed
  failed += fileFailed
  if (result.stopped) process.stdout.write(`# ${name}: stopped: ${result.stopped}\n`)
  for (const leak of leaks) process.stdout.write(`# ${name}: leaked: ${leak}\n`)
  process.stdout.write(
    `# ${name}: ${result.passed} passed, ${fileFailed} failed (${result.seconds.toFixed(1)} s, exit ${result.code})\n`,
  )
}

rmSync(runDir, { recursive: true, force: true })
if (files.length === 0) {
  process.stdout.write(`no test file matches ${filters.join(' ')}\n`)
  failed++
}
if (interrupted) {
  process.stdout.write(`\ninterrupted by ${interrupted}\n`)
  failed++
}
process.stdout.write(`\n${passed} passed, ${failed} failed\n`)
process.exit(interrupted ? 130 : failed === 0 ? 0 : 1)
