#!/usr/bin/env node
// Runs the compiled CLI (dist/, made by `npm run build`, which `npm ci` runs through `prepare`): a start then
// costs no TypeScript compilation. When dist/ is missing or older than a source file (a checkout edited since
// its last build), runs the TypeScript sources through tsx instead, so `npx deploy` always runs the sources as
// they are.
//
// CommonJS (bin/package.json): an ES module entry would start Node's ES module loader, ~5-10 ms of a start
// that loads no ES module until it meets a -M task.
'use strict'
const { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } = require('node:fs')
const Module = require('node:module')
const { dirname, join } = require('node:path')
const vm = require('node:vm')

const root = join(__dirname, '..')
const stamp = join(root, 'dist/.stamp')

// What the build reads: the TypeScript of these directories and the JSON schemas (a README is not one).
function distIsCurrent() {
  if (!existsSync(stamp)) return false
  const built = statSync(stamp).mtimeMs
  for (const dir of ['src', 'src/schemas', 'facts', 'tasks']) {
    const base = join(root, dir)
    for (const entry of readdirSync(base))
      if (/\.(ts|json)$/.test(entry) && statSync(join(base, entry)).mtimeMs > built) return false
  }
  return true
}

/**
 * The bundle (dist/src/deploy.cjs, one CommonJS file: the engine, its packages and the built-in tasks), loaded
 * as require() would, but compiled with V8's code cache: a start then neither parses nor compiles its ~1.5 MB
 * again (Node 20 caches no code of its own). The cache is written beside the bundle by the first run without a
 * usable one (none, or V8 rejected it: another Node, another build), once the run is over; a cache that cannot
 * be read, or written (a read-only install), only costs the compilation. A script compiled from the cache
 * cannot import() on Node 20: the bundle imports what it finds at run time (-M tasks, tsx, zx) through ours.
 */
function loadBundle() {
  const file = join(root, 'dist/src/deploy.cjs')
  const cacheFile = `${file}.${process.version}-${process.arch}.v8cache`
  let cachedData
  try {
    cachedData = readFileSync(cacheFile)
  } catch {}
  const script = new vm.Script(
    `(function (exports, require, module, __filename, __dirname) {${readFileSync(file, 'utf8')}\n})`,
    { filename: file, cachedData },
  )
  const module = new Module(file)
  module.filename = file
  const require = Module.createRequire(file)
  // The bundle's modules for the dist/ files that re-export them (a -M task's `hbmon/task`): this instance.
  require.cache[file] = module
  script.runInThisContext().call(module.exports, module.exports, require, module, file, dirname(file))
  module.loaded = true
  module.exports.setModuleImporter((specifier) => import(specifier))
  const saveCache = () => {
    if (cachedData && !script.cachedDataRejected) return
    const temp = `${cacheFile}.${process.pid}`
    try {
      writeFileSync(temp, script.createCachedData())
      renameSync(temp, cacheFile)
    } catch {
      rmSync(temp, { force: true })
    }
  }
  return { bundle: module.exports, saveCache }
}

async function run() {
  if (distIsCurrent()) {
    const { bundle, saveCache } = loadBundle()
    process.exitCode = await bundle.main(process.argv.slice(2))
    // After the run: the cache then holds the functions it compiled too.
    saveCache()
  } else {
    const { register } = await import('tsx/esm/api')
    register()
    const cli = await import('../src/cli.ts')
    process.exitCode = await cli.main(process.argv.slice(2))
  }
}
// A rejection is unhandled: Node prints it and exits 1, as it did for the ES module's top-level await.
run()
