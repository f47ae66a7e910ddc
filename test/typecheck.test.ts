// Strict TypeScript is part of the contract: the whole tree type-checks with no error.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { fileURLToPath } from 'node:url'
import { $ } from 'zx'

const root = fileURLToPath(new URL('..', import.meta.url))

test('tsc --noEmit reports no error', async () => {
  const result = await $({ cwd: root, nothrow: true, quiet: true })`npx tsc --noEmit`
  assert.is(result.exitCode, 0, result.stdout + result.stderr)
})

test.run()
