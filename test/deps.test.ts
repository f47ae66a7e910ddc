// The import graph follows the house's rules (.dependency-cruiser.cjs): no cycle, a bottom layer that imports
// nothing of the project, an engine that never imports tasks, the lab or tests. The fixture breaks each rule
// once, so a config that stopped checking would fail here too.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { fileURLToPath } from 'node:url'
import { $ } from 'zx'

const root = fileURLToPath(new URL('..', import.meta.url))
const config = `${root}.dependency-cruiser.cjs`
const depcruise = `${root}node_modules/.bin/depcruise`

test('the repository has no dependency violation', async () => {
  const r = await $({
    cwd: root,
    nothrow: true,
  })`${depcruise} src facts tasks lab bench test bin build --config ${config}`
  assert.is(r.exitCode, 0, r.stdout + r.stderr)
  assert.match(r.stdout, /no dependency violations found \((\d{2,}) modules/)
})

test('a cycle, a bottom layer reaching up and the engine importing a task are each caught', async () => {
  const r = await $({ cwd: `${root}test/fixtures/deps`, nothrow: true })`${depcruise} src tasks --config ${config}`
  assert.is.not(r.exitCode, 0)
  assert.match(r.stdout, 'error util-imports-nothing: src/util.ts → src/inventory.ts')
  assert.match(r.stdout, 'error no-circular: src/inventory.ts')
  assert.match(r.stdout, 'error engine-does-not-know-its-users: src/rollout.ts → tasks/copy.ts')
})

test.run()
