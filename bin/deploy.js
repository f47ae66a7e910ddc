#!/usr/bin/env node
// Runs the compiled CLI (dist/, made by `npm run build`, which `npm ci` runs through `prepare`): a start then
// costs no TypeScript compilation. When dist/ is missing or older than a source file (a checkout edited since
// its last build), runs the TypeScript sources through tsx instead, so `npx deploy` always runs the sources as
// they are.
import { existsSync, readdirSync, statSync } from 'node:fs'

const root = new URL('../', import.meta.url)
const stamp = new URL('dist/.stamp', root)

// What the build reads: the TypeScript of these directories and the JSON schemas (a README is not one).
function distIsCurrent() {
  if (!existsSync(stamp)) return false
  const built = statSync(stamp).mtimeMs
  for (const dir of ['src', 'src/schemas', 'facts', 'tasks']) {
    const base = new URL(`${dir}/`, root)
    for (const entry of readdirSync(base))
      if (/\.(ts|json)$/.test(entry) && statSync(new URL(entry, base)).mtimeMs > built) return false
  }
  return true
}

let cli
if (distIsCurrent()) cli = await import('../dist/src/cli.js')
else {
  const { register } = await import('tsx/esm/api')
  register()
  cli = await import('../src/cli.ts')
}
process.exitCode = await cli.main(process.argv.slice(2))
