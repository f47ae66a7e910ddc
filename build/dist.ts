// The build: `npm run build` (and `npm ci`, through `prepare`) compiles the engine, facts and tasks into dist/,
// which bin/deploy.js runs, so that a start costs no TypeScript compilation. esbuild bundles each entry with
// its dependencies (one file read instead of hundreds: yaml, ajv and node-ssh load in a tenth of the time) and
// splits what entries share into chunks, so the engine, the tasks and a `-M` module importing `hbmon/task`
// share one instance of every module.
//
// dist/ mirrors the source tree (dist/src, dist/facts, dist/tasks), so a path a module finds from its own
// import.meta.url (../tasks/, ./schemas/, ../kernel/, ../playbooks/) still points at the same thing: the
// directories that hold data are symlinks back to the source tree. The JSON schemas are compiled to
// validators here (ajv's standalone code), so a run does not compile them. dist/.stamp is written last:
// bin/deploy.js runs dist only when the stamp is newer than every source file.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Ajv } from 'ajv'
import standalone from 'ajv/dist/standalone/index.js'
import { build, type Plugin } from 'esbuild'
import { builtinTasks, Registry, taskManifest } from '../src/task.ts'
import { readSchema, schemaFiles, schemaKey, schemaPresets, type SchemaPreset } from '../src/yaml.ts'

const root = fileURLToPath(new URL('..', import.meta.url))
const dist = join(root, 'dist')

/** The directories whose .ts files bin/deploy.js compares with dist/.stamp. */
export const sourceDirs = ['src', 'facts', 'tasks']

// Project files stay separate modules (the plugin keeps relative imports as imports of the built .js file);
// packages are bundled into the chunks.
const keepRelative: Plugin = {
  name: 'keep-relative-imports',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, (args) =>
      args.kind === 'entry-point' || args.importer.includes('/node_modules/')
        ? undefined
        : { path: args.path.replace(/\.ts$/, '.js'), external: true },
    )
  },
}

// node-ssh uses ssh2's Client alone, but its `import SSH2 from 'ssh2'` would bundle ssh2's index, which also
// loads ssh2's server, key generation and HTTP agents (~20 ms of CPU at every start): it gets the Client only.
const ssh2ClientOnly: Plugin = {
  name: 'ssh2-client-only',
  setup(b) {
    b.onResolve({ filter: /^ssh2$/ }, (args) =>
      args.importer.includes('/node_modules/node-ssh/') ? { path: 'ssh2', namespace: 'ssh2-client-only' } : undefined,
    )
    b.onLoad({ filter: /.*/, namespace: 'ssh2-client-only' }, () => ({
      contents: "module.exports = { Client: require('ssh2/lib/client.js') }",
      loader: 'js',
      resolveDir: root,
    }))
  },
}

// ssh2's native crypto (AES-GCM and ChaCha20-Poly1305 in C, one socket write per packet) is built into its
// own folder by its install script; its `require('./crypto/build/Release/sshcrypto.node')`, relative to the
// bundle, would find nothing in dist/ and ssh2 would fall back to JavaScript crypto: a cipher object per packet
// and three socket writes per packet. The require goes to the package's file instead (still optional: ssh2
// falls back when it is missing).
const ssh2Binding: Plugin = {
  name: 'ssh2-native-crypto',
  setup(b) {
    b.onResolve({ filter: /\/sshcrypto\.node$/ }, (args) =>
      args.importer.includes('/node_modules/ssh2/')
        ? { path: 'ssh2/lib/protocol/crypto/build/Release/sshcrypto.node', external: true }
        : undefined,
    )
  },
}

/**
 * Builds ssh2's native crypto when its install script could not. That script runs node-gyp without saying where
 * Node's headers are, so node-gyp downloads them from nodejs.org (or fails offline, or when npm skips install
 * scripts), and ssh2 then falls back to its JavaScript crypto without a word: a cipher object and three socket
 * writes per packet (30 light hosts, a cold rollout: 1.8 s wall with it, 2.5 s without). Node 20 from
 * NodeSource's Debian package or from nodejs.org's tarball carries its headers beside itself (PREFIX/include/
 * node), so node-gyp is pointed there: no download. Needs g++, make and python3 (lab/setup.sh installs them);
 * without them, or without the headers, it says so and the build goes on (SSH works, slower).
 */
export function buildSsh2Crypto(): void {
  let dir: string
  try {
    dir = join(dirname(createRequire(import.meta.url).resolve('ssh2/package.json')), 'lib/protocol/crypto')
  } catch {
    return
  }
  const binding = join(dir, 'build/Release/sshcrypto.node')
  if (existsSync(binding)) return
  const prefix = dirname(dirname(process.execPath))
  const gyp = [
    process.env.npm_config_node_gyp, // npm's own, in its scripts (npm ci's prepare)
    join(prefix, 'lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
  ].find((f) => f && existsSync(f))
  let headers = ''
  try {
    headers = readFileSync(join(prefix, 'include/node/node_version.h'), 'utf8')
  } catch {}
  const version = ['MAJOR', 'MINOR', 'PATCH'].map(
    (p) => new RegExp(`#define NODE_${p}_VERSION (\\d+)`).exec(headers)?.[1],
  )
  const tools = ['c++', 'make', 'python3'].filter(
    (t) => spawnSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' }).status !== 0,
  )
  let why =
    version.join('.') !== process.versions.node
      ? `no headers of Node ${process.versions.node} in ${join(prefix, 'include/node')}`
      : !gyp
        ? 'no node-gyp (it comes with npm)'
        : tools.length
          ? `${tools.join(', ')} not installed (npm run setup)`
          : ''
  if (!why) {
    const openssl = /^\d+/.exec(process.versions.openssl)![0]
    const r = spawnSync(process.execPath, [gyp!, 'rebuild', `--nodedir=${prefix}`, `--real_openssl_major=${openssl}`], {
      cwd: dir,
      encoding: 'utf8',
      // node-gyp reads npm_config_* itself: an empty nodedir from npm's config would override the flag.
      env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_config_nodedir$/i.test(k))),
    })
    if (existsSync(binding)) return console.log(`build: built ssh2's native crypto against ${prefix}/include/node`)
    why = `node-gyp failed: ${`${r.stderr}${r.stdout}`.trim().split('\n').slice(-3).join(' / ')}`
  }
  console.warn(`build: ssh2's native crypto is not built (${why}); SSH uses its slower JavaScript crypto`)
}

export async function buildDist(): Promise<void> {
  buildSsh2Crypto()
  rmSync(dist, { recursive: true, force: true })
  const ts = (dir: string, keep: (f: string) => boolean = () => true) =>
    readdirSync(join(root, dir))
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && keep(f))
      .map((f) => join(root, dir, f))
  await build({
    entryPoints: [...ts('src'), ...ts('facts'), ...ts('tasks')],
    outdir: dist,
    outbase: root,
    bundle: true,
    splitting: true,
    chunkNames: 'src/chunk-[hash]',
    format: 'esm',
    platform: 'node',
    target: 'node20',
    plugins: [keepRelative, ssh2ClientOnly, ssh2Binding],
    // Native addons load from their packages (cpu-features, ssh2's crypto above); tsx loads a -M directory's
    // TypeScript and finds its own files by path.
    external: ['cpu-features', '*.node', 'tsx', 'tsx/*'],
    // The bundled CommonJS packages (ajv, ssh2) call require() and read __dirname.
    banner: {
      js: [
        "import { createRequire as __hbmonRequire } from 'node:module'",
        "import { fileURLToPath as __hbmonPath } from 'node:url'",
        'const require = __hbmonRequire(import.meta.url)',
        'const __filename = __hbmonPath(import.meta.url)',
        "const __dirname = __hbmonPath(new URL('.', import.meta.url))",
      ].join('; '),
    },
    logLevel: 'warning',
  })
  const registry = await buildValidators()
  // dist/tasks/manifest.json: which file holds which task, so that a run loads only those its playbook names.
  const manifest = Object.fromEntries(
    registry.names().map((n) => [n, basename(registry.file(n)!).replace(/\.ts$/, '.js')]),
  )
  writeFileSync(join(dist, 'tasks', taskManifest), `${JSON.stringify(manifest, null, 2)}\n`)
  for (const dir of ['kernel', 'playbooks', 'templates']) symlinkSync(join('..', dir), join(dist, dir))
  symlinkSync(join('..', '..', 'src', 'schemas'), join(dist, 'src', 'schemas'))
  mkdirSync(dist, { recursive: true })
  writeFileSync(join(dist, '.stamp'), `${new Date().toISOString()}\n`)
}

/**
 * dist/src/validators.cjs: ajv's standalone code for every schema a run may compile (src/schemas/ under both
 * input-file presets, the built-in tasks' args), by schemaKey, each made on first use.
 */
async function buildValidators(): Promise<Registry> {
  const schemas: [object, SchemaPreset][] = schemaFiles.flatMap(({ name, pointer }) => [
    [readSchema(name, pointer), 'first'] as [object, SchemaPreset],
    [readSchema(name, pointer), 'all'] as [object, SchemaPreset],
  ])
  const registry = await Registry.load([builtinTasks])
  for (const name of registry.names()) schemas.push([registry.get(name)!.schema, 'args'])
  const toCode = standalone.default
  const entries = schemas.map(([schema, preset]) => {
    const ajv = new Ajv({ ...schemaPresets[preset], code: { source: true } })
    const code = toCode(ajv, ajv.compile(schema))
    return `exports[${JSON.stringify(schemaKey(schema, preset))}] = () => {\n  const module = { exports: {} }\n  ;(function (module, exports) {\n${code}\n  })(module, module.exports)\n  return module.exports.default\n}\n`
  })
  await build({
    stdin: { contents: entries.join(''), resolveDir: root, sourcefile: 'validators.cjs', loader: 'js' },
    outfile: join(dist, 'src', 'validators.cjs'),
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    logLevel: 'warning',
  })
  return registry
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildDist()
