// The build: `npm run build` (and `npm ci`, through `prepare`) compiles the engine, facts and tasks into dist/,
// which bin/deploy.js runs, so that a start costs no TypeScript compilation. esbuild bundles all of it with its
// packages into one CommonJS file, dist/src/deploy.cjs: one file read, and one script that bin/deploy.js
// compiles from V8's code cache (Node 20 caches no ES module's code, nor a require()d file's). Each module in it
// is initialized when first imported (the tasks, zx), or at load when the CLI imports it. dist/src/*.js,
// dist/facts/*.js and dist/tasks/*.js are ES modules that re-export the bundle's instance of their module, so
// that the engine, its tasks and a `-M` module importing `hbmon/task` share one instance of every module.
//
// dist/ mirrors the source tree (dist/src, dist/facts, dist/tasks), so a path a module finds from its own
// import.meta.url (../tasks/, ./schemas/, ../kernel/, ../playbooks/) still points at the same thing: the
// directories that hold data are symlinks back to the source tree. The JSON schemas are compiled to
// validators here (ajv's standalone code), so a run does not compile them. dist/.stamp is written last:
// bin/deploy.js runs dist only when the stamp is newer than every source file.
import { spawn, spawnSync } from 'node:child_process'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { createRequire } from 'node:module'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { basename, dirname, join, relative } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Ajv } from 'ajv'
import standalone from 'ajv/dist/standalone/index.js'
import { build, type Plugin } from 'esbuild'
import { builtinTasks, Registry, taskManifest } from '../src/task.ts'
import { readSchema, schemaFiles, schemaKey, schemaPresets, type SchemaPreset } from '../src/yaml.ts'

const root = fileURLToPath(new URL('..', import.meta.url))
const dist = join(root, 'dist')

/** The directories whose .ts files bin/deploy.js compares with dist/.stamp. */
export const sourceDirs = ['src', 'facts', 'tasks']

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

// make-dir (node-ssh's) loads semver (~40 regular expressions built at load, ~3-5 ms of a start) for one
// question, whether Node is 10.12 or later: package.json's engines says it is.
const makeDirSemver: Plugin = {
  name: 'make-dir-semver',
  setup(b) {
    b.onResolve({ filter: /^semver$/ }, (args) =>
      args.importer.includes('/node_modules/make-dir/') ? { path: 'semver', namespace: 'make-dir-semver' } : undefined,
    )
    b.onLoad({ filter: /.*/, namespace: 'make-dir-semver' }, () => ({
      contents: 'module.exports = { satisfies: () => true }',
      loader: 'js',
    }))
  },
}

/** The bundle: dist/src/deploy.cjs, next to what the sources in src/ find from their import.meta.url. */
export const bundleFile = join(dist, 'src', 'deploy.cjs')

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
      .map((f) => `${dir}/${f}`)
  const files = [...ts('src'), ...ts('facts'), ...ts('tasks')]
  const js = (file: string) => file.replace(/\.ts$/, '.js')
  const lazy = (f: string) => `  ${JSON.stringify(js(f))}: () => import(${JSON.stringify(`./${f}`)}),`
  const work = mkdtempSync(join(tmpdir(), 'hbmon-build-'))
  const validators = join(work, 'validators.cjs')
  const registry = await buildValidators(validators)
  // The entry: the CLI, and every module by its dist path, each initialized when first imported (a start
  // initializes what the CLI imports and the tasks its playbook names). The built-in tasks, the validators and
  // nunjucks are handed to the engine from here, in the bundle (the validators and nunjucks are CommonJS: each
  // runs when first required), so that it neither imports a second copy of the engine with the tasks nor
  // compiles the others' files at every start.
  const entry = [
    "export { main } from './src/cli.ts'",
    "export { setModuleImporter } from './src/util.ts'",
    "import { bundleTasks } from './src/task.ts'",
    "import { bundleNunjucks } from './src/template.ts'",
    "import { bundleValidators } from './src/yaml.ts'",
    `bundleValidators(() => require(${JSON.stringify(validators)}))`,
    'bundleNunjucks(() => ({',
    ...['nodes', 'lexer', 'parser', 'transformer', 'compiler', 'runtime'].map(
      (m) => `  ${m}: require('nunjucks/src/${m}.js'),`,
    ),
    '}))',
    'export const modules = {',
    ...files.map(lazy),
    '}',
    'bundleTasks({',
    ...ts('tasks', (f) => !f.startsWith('_')).map(
      (f) => `  ${JSON.stringify(basename(js(f)))}: modules[${JSON.stringify(js(f))}],`,
    ),
    '})',
    '',
  ].join('\n')
  await build({
    stdin: { contents: entry, resolveDir: root, sourcefile: 'deploy-entry.ts', loader: 'ts' },
    outfile: bundleFile,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    plugins: [ssh2ClientOnly, makeDirSemver, ssh2Binding],
    // Native addons load from their packages (cpu-features, ssh2's crypto above); tsx loads a -M directory's
    // TypeScript and finds its own files by path.
    external: ['cpu-features', '*.node', 'tsx', 'tsx/*', 'zx'],
    // One bundle stands for every module: a module's import.meta.url is the bundle's, in dist/src/ as
    // dist/src/*.js were (src/ finds ./schemas/ and ../tasks/ from it, tasks/ ../kernel/: dist/ either way).
    define: { 'import.meta.url': '__hbmonUrl' },
    banner: { js: "const __hbmonUrl = require('node:url').pathToFileURL(__filename).href;" },
    logLevel: 'warning',
  })
  rmSync(work, { recursive: true, force: true })
  // dist/src/*.js, dist/facts/*.js, dist/tasks/*.js: ES modules that re-export the bundle's instance of each
  // module (package.json's exports: a -M task's `hbmon/task` is the engine's own, its classes the same).
  for (const dir of sourceDirs) mkdirSync(join(dist, dir), { recursive: true })
  for (const file of files) {
    const names = Object.keys(await import(pathToFileURL(join(root, file)).href))
    const named = names.filter((n) => n !== 'default')
    const bundle = relative(dirname(join(dist, file)), bundleFile)
    writeFileSync(
      join(dist, js(file)),
      [
        `// ${file} in the bundle (${relative(dist, bundleFile)}, made by build/dist.ts).`,
        "import { createRequire } from 'node:module'",
        `const m = await createRequire(import.meta.url)(${JSON.stringify(`./${bundle}`)}).modules[${JSON.stringify(js(file))}]()`,
        ...(named.length ? [`export const { ${named.join(', ')} } = m`] : []),
        ...(names.includes('default') ? ['export default m.default'] : []),
        '',
      ].join('\n'),
    )
  }
  // dist/tasks/manifest.json: which file holds which task, so that a run loads only those its playbook names.
  const manifest = Object.fromEntries(
    registry.names().map((n) => [n, basename(registry.file(n)!).replace(/\.ts$/, '.js')]),
  )
  writeFileSync(join(dist, 'tasks', taskManifest), `${JSON.stringify(manifest, null, 2)}\n`)
  for (const dir of ['kernel', 'playbooks', 'templates']) symlinkSync(join('..', dir), join(dist, dir))
  symlinkSync(join('..', '..', 'src', 'schemas'), join(dist, 'src', 'schemas'))
  mkdirSync(dist, { recursive: true })
  writeFileSync(join(dist, '.stamp'), `${new Date().toISOString()}\n`)
  await warmCodeCache()
}

/**
 * A first run of the built CLI, so that dist/ has the V8 code cache bin/deploy.js compiles the bundle from (a
 * run writes one when there is none, with what that run compiled: a `--help` would leave a cache without the
 * start's functions, ~20 ms slower): a playbook of common tasks against one host that hangs up at once, as
 * far as a start goes and the first connection fails.
 */
async function warmCodeCache(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'hbmon-build-'))
  const server = createServer((socket) => socket.destroy())
  try {
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
    const { port } = server.address() as AddressInfo
    writeFileSync(
      join(dir, 'inventory.yml'),
      `all:\n  hosts:\n    warm:\n      ansible_host: 127.0.0.1\n      ansible_port: ${port}\n      ansible_user: root\n`,
    )
    writeFileSync(
      join(dir, 'site.yml'),
      [
        '- hosts: all',
        '  gather_facts: false',
        '  tasks:',
        '    - file: { path: /tmp/hbmon-warm, state: directory, mode: "0755" }',
        '    - copy: { content: "x", dest: /tmp/hbmon-warm/x, mode: "0644" }',
        '    - command: uname -r',
        '      changed_when: false',
        '',
      ].join('\n'),
    )
    const child = spawn(process.execPath, [join(root, 'bin/deploy.js'), '-i', 'inventory.yml', 'site.yml'], {
      cwd: dir,
      env: { ...process.env, CI: '1', SSH_AUTH_SOCK: '' },
      stdio: 'ignore',
    })
    // (Not worth a build's failure: without it, the first run writes the cache.)
    const timer = setTimeout(() => child.kill(), 30_000)
    await new Promise((done) => child.on('close', done))
    clearTimeout(timer)
  } finally {
    server.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * `file`: ajv's standalone code for every schema a run may compile (src/schemas/ under both
 * input-file presets, the built-in tasks' args), by schemaKey, each made on first use.
 */
async function buildValidators(file: string): Promise<Registry> {
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
    outfile: file,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    logLevel: 'warning',
  })
  return registry
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildDist()
