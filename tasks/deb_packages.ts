// deb_packages: Debian packages for hosts that reach no mirror (the lab's VMs, offline fleets). The controller
// fetches the .debs once with `apt-get download` into a cache (`cache`, default ~/.cache/hbmon/debs) in the
// batch phase; each host that lacks a package gets the files over SFTP and installs them with `dpkg -i` in
// one call (so they may depend on each other). A package already installed, at any version, is left alone
// (never downgraded). List the dependencies too: nothing resolves them on the host.
import { mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { InstalledPackages } from '../facts/system.ts'
import { defineTask } from '../src/task.ts'
import { importModule } from '../src/util.ts'

interface DebArgs {
  packages: string[]
  cache?: string
}

interface Deb {
  name: string
  version: string
  file: string
}

function cacheDir(args: DebArgs): string {
  return (args.cache ?? join(homedir(), '.cache/hbmon/debs')).replace(/^~(?=\/|$)/, homedir())
}

/** The newest cached .deb of each package, downloading the missing ones. */
async function fetchDebs(args: DebArgs): Promise<Deb[]> {
  const { $ } = await importModule<typeof import('zx')>('zx') // imported when used: every run loads every task module
  const dir = cacheDir(args)
  mkdirSync(dir, { recursive: true })
  const cached = (name: string) =>
    readdirSync(dir)
      .filter((f) => f.startsWith(`${name}_`) && f.endsWith('.deb'))
      .sort()
      .at(-1)
  const missing = args.packages.filter((p) => !cached(p))
  if (missing.length) {
    const tmp = join(dir, `.download-${process.pid}`)
    rmSync(tmp, { recursive: true, force: true })
    mkdirSync(tmp)
    try {
      await $({ cwd: tmp, quiet: true })`apt-get download -q ${missing}`
      for (const f of readdirSync(tmp)) renameSync(join(tmp, f), join(dir, f))
    } catch (e) {
      throw new Error(
        `apt-get download ${missing.join(' ')} on the controller failed: ${((e as { stderr?: string }).stderr || (e as Error).message).trim()}`,
      )
    } finally {
      rmSync(tmp, { recursive: true, force: true })
    }
  }
  const debs: Deb[] = []
  for (const name of args.packages) {
    const file = cached(name)
    if (!file) throw new Error(`apt-get download ${name}: no .deb in ${dir}`)
    const { stdout } = await $({ quiet: true })`dpkg-deb -f ${join(dir, file)} Package Version`
    const fields = Object.fromEntries(
      stdout
        .trim()
        .split('\n')
        .map((l) => [l.split(':')[0]!, l.slice(l.indexOf(':') + 1).trim()]),
    )
    debs.push({ name: fields.Package ?? name, version: fields.Version ?? '', file: join(dir, file) })
  }
  return debs
}

export default defineTask<DebArgs>({
  name: 'deb_packages',
  description: 'install Debian packages from .debs the controller downloads (for hosts without a mirror)',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['packages'],
    properties: {
      packages: {
        type: 'array',
        items: { type: 'string', pattern: '^[a-z0-9][a-z0-9+.-]+$' },
        minItems: 1,
        description: 'a list of Debian package names',
      },
      cache: { type: 'string', description: 'a controller directory' },
    },
  },
  async batch(targets, ctx) {
    // Once per batch (and per package list): every host of the batch installs the same files.
    const lists = new Map<string, Promise<Deb[]>>()
    for (const t of targets) {
      const key = JSON.stringify([t.args.packages, cacheDir(t.args)])
      if (!lists.has(key)) lists.set(key, fetchDebs(t.args))
    }
    ctx.shared.set('debs', lists)
    await Promise.all(lists.values())
  },
  async run(host, args, ctx) {
    const lists = ctx.shared.get('debs') as Map<string, Promise<Deb[]>>
    const debs = await lists.get(JSON.stringify([args.packages, cacheDir(args)]))!
    const installed = await host.fact(InstalledPackages, ...debs.map((d) => d.name))
    const wanted = debs.filter((d) => !installed.has(d.name))
    if (wanted.length === 0) return { changed: false, msg: `installed: ${debs.map((d) => d.name).join(', ')}` }
    return {
      changed: false,
      changes: [
        {
          describe: `install ${wanted.map((d) => `${d.name} ${d.version}`).join(', ')}`,
          async apply() {
            const dir = (await host.$`mktemp -d /tmp/hbmon-debs.XXXXXX`).stdout.trim()
            try {
              for (const d of wanted) await host.put(d.file, `${dir}/${d.name}.deb`)
              // A kernel package unpacks ~400 MB and runs its hooks (initramfs, hbmon's build): minutes on a slow host.
              await host.$({
                timeoutMs: 30 * 60_000,
              })`env DEBIAN_FRONTEND=noninteractive dpkg -i ${wanted.map((d) => `${dir}/${d.name}.deb`)}`
            } finally {
              await host.$({ nothrow: true })`rm -rf -- ${dir}`
            }
          },
        },
      ],
    }
  },
})
