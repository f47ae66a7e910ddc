// The built dist/ (which `npm test` makes first, as users run it) loads the native addons its bundles rely on.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from 'uvu'
import * as assert from 'uvu/assert'

const root = fileURLToPath(new URL('..', import.meta.url))
const binding = join(
  dirname(createRequire(import.meta.url).resolve('ssh2/package.json')),
  'lib/protocol/crypto/build/Release/sshcrypto.node',
)

test("dist's transport uses ssh2's native crypto when ssh2 has it (else every packet costs a JavaScript cipher)", () => {
  // The build compiles it when npm's install could not (.ci/run installs the compiler): missing is a failure.
  assert.ok(existsSync(binding), `${binding} is not built: npm run setup, then npm run build says why`)
  const script = `await import(${JSON.stringify(join(root, 'dist/src/ssh.js'))}); console.log(JSON.stringify(process.report.getReport().sharedObjects))`
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })
  assert.is(r.status, 0, r.stderr)
  assert.ok((JSON.parse(r.stdout) as string[]).includes(binding), `dist/src/ssh.js did not load ${binding}`)
})

test.run()
