// Runs every test file as its own process and prints one plain summary line that CI reads.
//
// uvu swallows errors thrown in before/after hooks and still exits 0, and a crashed file prints no
// summary at all. So a file counts its tests as failed unless uvu says every one of them passed:
// failed = total + skipped - passed (a skipped test is not a passed one).
import { spawn } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const filters = process.argv.slice(2)

// Unit tests first; suites that boot hosts (test/lab, test/vm, test/fleet ...) after them.
function findTests(dir: string): string[] {
  const found: string[] = []
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry)
    if (entry === 'node_modules' || entry.startsWith('.')) continue
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

interface FileResult {
  file: string
  total: number
  passed: number
  code: number | null
  seconds: number
}

function runFile(file: string): Promise<FileResult> {
  const started = Date.now()
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FORCE_COLOR: '0' },
    })
    let out = ''
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      process.stdout.write(chunk)
    })
    child.stderr.on('data', (chunk: Buffer) => process.stderr.write(chunk))
    child.on('close', (code) => {
      const plain = out.replace(/\x1b\[[0-9;]*m/g, '')
      const total = Number(/Total:\s+(\d+)/.exec(plain)?.[1] ?? 0)
      const passed = Number(/Passed:\s+(\d+)/.exec(plain)?.[1] ?? 0)
      const skipped = Number(/Skipped:\s+(\d+)/.exec(plain)?.[1] ?? 0)
      resolve({ file, total: total + skipped, passed, code, seconds: (Date.now() - started) / 1000 })
    })
  })
}

let passed = 0
let failed = 0
for (const file of files) {
  const name = relative(root, file)
  process.stdout.write(`\n# ${name}\n`)
  const result = await runFile(file)
  // A file that ran no test, or exited non-zero with no failed test to show for it, counts one more failure.
  const unseen = result.total === 0 || (result.code !== 0 && result.passed === result.total)
  const fileFailed = result.total - result.passed + (unseen ? 1 : 0)
  passed += result.passed
  failed += fileFailed
  process.stdout.write(
    `# ${name}: ${result.passed} passed, ${fileFailed} failed (${result.seconds.toFixed(1)} s, exit ${result.code})\n`,
  )
}

if (files.length === 0) {
  process.stdout.write(`no test file matches ${filters.join(' ')}\n`)
  failed++
}
process.stdout.write(`\n${passed} passed, ${failed} failed\n`)
process.exit(failed === 0 ? 0 : 1)
