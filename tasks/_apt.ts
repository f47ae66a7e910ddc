// What apt and package share: Ansible's apt module (ansible/modules/apt.py, 2.14) decision by decision, for
// packages from the host's configured repositories: name (a list, or a comma-separated string; `name=VERSION`
// with fnmatch wildcards in the version), state present/absent/latest, update_cache with cache_valid_time and
// its retries, install_recommends, purge, dpkg_options, lock_timeout. Registered as Ansible registers it:
// stdout/stderr (and their lines), cache_updated and cache_update_time (not for absent), diff ({} or, with
// --diff, `prepared`: the part of apt-get's output that says what it did). What the module does beyond that
// (deb, upgrade, autoremove, default_release ...) is refused before anything connects.
import { AptPackages, type AptPackage, type AptState } from '../facts/packages.ts'
import type { Change, Target, TaskContext, TaskResult } from '../src/task.ts'
import { isTemplated } from '../src/template.ts'
import { fnmatchRegExp } from '../src/util.ts'

export interface AptArgs {
  name?: string | string[]
  state?: 'present' | 'absent' | 'latest'
  update_cache?: boolean
  cache_valid_time?: number
  update_cache_retries?: number
  update_cache_retry_max_delay?: number
  install_recommends?: boolean
  purge?: boolean
  dpkg_options?: string
  lock_timeout?: number
  [unsupported: string]: unknown
}

// The module's other options, with the value that means "not used" (accepted: it changes nothing).
const unsupported: Record<string, unknown> = {
  deb: undefined,
  upgrade: 'no',
  autoremove: false,
  autoclean: false,
  fail_on_autoremove: false,
  default_release: undefined,
  force: false,
  only_upgrade: false,
  allow_unauthenticated: false,
  allow_downgrade: false,
  allow_change_held_packages: false,
  policy_rc_d: undefined,
  clean: false,
  force_apt_get: false,
}

const bool = { type: 'boolean', description: 'a boolean' }
const int = { type: 'integer', minimum: 0, description: 'a whole number of seconds or times' }

export const aptSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    name: {
      description: 'a package name or a list of them',
      anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
    },
    state: {
      enum: ['present', 'absent', 'latest'],
      description: 'present, absent or latest (build-dep and fixed are not supported)',
    },
    update_cache: bool,
    cache_valid_time: int,
    update_cache_retries: { type: 'integer', minimum: 1, description: 'a number of tries' },
    update_cache_retry_max_delay: int,
    install_recommends: bool,
    purge: bool,
    dpkg_options: { type: 'string', description: 'dpkg options, comma-separated (force-confdef,force-confold)' },
    lock_timeout: int,
    ...Object.fromEntries(Object.keys(unsupported).map((k) => [k, {}])),
  },
}

export const aptAliases = {
  pkg: 'name',
  package: 'name',
  'update-cache': 'update_cache',
  'install-recommends': 'install_recommends',
  'default-release': 'default_release',
  'allow-unauthenticated': 'allow_unauthenticated',
  'allow-downgrade': 'allow_downgrade',
  allow_downgrades: 'allow_downgrade',
  'allow-downgrades': 'allow_downgrade',
}

/** name as Ansible's list type takes it: a list, or a string split at commas. */
export function packageList(name: AptArgs['name']): string[] {
  if (name === undefined) return []
  return (typeof name === 'string' ? name.split(',') : name).map((p) => p.trim())
}

/** The refusals that can be decided from the args alone (called before connecting and again per host). */
export function checkAptArgs(args: AptArgs, task = 'apt'): void {
  for (const [key, inert] of Object.entries(unsupported))
    if (
      key in args &&
      args[key] !== inert &&
      !(inert === 'no' && args[key] === false) && // upgrade: no, which YAML reads as false
      !(typeof args[key] === 'string' && isTemplated(args[key]))
    )
      throw new Error(`${task}: "${key}" is not supported by npx deploy (packages come from the host's repositories)`)
  if (args.name === undefined && args.update_cache === undefined)
    throw new Error('one of the following is required: autoremove, deb, package, update_cache, upgrade')
  for (const spec of packageList(args.name)) {
    if (isTemplated(spec)) continue
    if (spec === '*') throw new Error(`${task}: name "*" (upgrade every package) is not supported`)
    if (/[*?[\]!]/.test(spec.split('=')[0]!))
      throw new Error(`${task}: wildcards in package names are not supported: ${spec}`)
    if (spec.includes('>=')) throw new Error(`${task}: ">=" version specs are not supported: ${spec}`)
  }
}

/** Python's fnmatch.fnmatch (POSIX: case-sensitive). */
const fnmatch = (text: string, pattern: string) => fnmatchRegExp(pattern).test(text)

interface Status {
  installed: boolean
  versionInstalled: boolean
  /** A version to install, or true (a virtual package: let apt choose), or undefined. */
  installable: string | true | undefined
  hasFiles: boolean
}

/** package_status: what the module knows of one package. */
async function packageStatus(
  host: Target,
  name: string,
  version: string | undefined,
  p: AptPackage | undefined,
  install: boolean,
): Promise<Status> {
  const real = p !== undefined && p.versions.length > 0
  if (!real) {
    if (!install) return { installed: false, versionInstalled: false, installable: undefined, hasFiles: false }
    if (p?.known && p.providers.length) {
      // A virtual package satisfied by one installed package: that package's status.
      if (p.providers.length === 1) {
        const provider = p.providers[0]!
        const state = await host.fact(AptPackages, provider)
        const s = await packageStatus(host, provider, version, state.packages.get(provider), true)
        if (s.installed) return s
      }
      return { installed: false, versionInstalled: false, installable: true, hasFiles: false }
    }
    throw new Error(`No package matching '${name}' is available`)
  }
  const installed = p.status === 'installed'
  // The candidate, or with name=VERSION the newest version matching it (Ansible pins it at 1001).
  const best = version !== undefined ? p.versions.find((v) => fnmatch(v, version)) : p.candidate || undefined
  if (!installed) return { installed, versionInstalled: false, installable: best, hasFiles: p.hasFiles }
  const differs = best !== undefined && p.installed !== best
  if (version !== undefined)
    return {
      installed,
      versionInstalled: fnmatch(p.installed, version),
      installable: differs && fnmatch(best!, version) ? best : undefined,
      hasFiles: p.hasFiles,
    }
  return { installed, versionInstalled: true, installable: differs ? best : undefined, hasFiles: p.hasFiles }
}

function split(spec: string): [string, string | undefined] {
  const at = spec.indexOf('=')
  return at < 0 ? [spec, undefined] : [spec.slice(0, at), spec.slice(at + 1)]
}

interface Plan {
  /** apt-get's package arguments: name, name=version. */
  install: string[]
  /** A failure with the module's message (no available installation candidate). */
  fail?: string
}

/** install(): which packages apt-get install gets. */
async function planInstall(host: Target, specs: string[], state: AptState, upgrade: boolean): Promise<Plan> {
  const install: string[] = []
  for (const spec of specs) {
    const [name, version] = split(spec)
    const s = await packageStatus(host, name, version, state.packages.get(name), true)
    if (!s.versionInstalled && !s.installable)
      return { install, fail: `no available installation candidate for ${spec}` }
    if (s.installable && (!s.installed || upgrade || !s.versionInstalled))
      install.push(
        s.installable !== true ? `${name}=${s.installable}` : version !== undefined ? `${name}=${version}` : name,
      )
    else if (s.versionInstalled && s.installable && version !== undefined) install.push(`${name}=${version}`)
  }
  return { install }
}

/** remove(): the specs to remove: installed (at the version named), or with files left when purging. */
async function planRemove(host: Target, specs: string[], state: AptState, purge: boolean): Promise<string[]> {
  const remove: string[] = []
  for (const spec of specs) {
    const [name, version] = split(spec)
    const s = await packageStatus(host, name, version, state.packages.get(name), false)
    if (s.versionInstalled || (s.hasFiles && purge)) remove.push(spec)
  }
  return remove
}

/** parse_diff: apt-get's lines from "Reading state information..." to "N upgraded, ...". */
function parseDiff(output: string): { prepared: string } {
  const lines = output.split('\n')
  if (lines.at(-1) === '') lines.pop()
  const start = lines.indexOf('Reading state information...') + 1
  let end = lines.findIndex((l) => /^[0-9]+ (packages )?upgraded/.test(l))
  end = end < 0 ? lines.length : end + 1
  return { prepared: lines.slice(start, end).join('\n') }
}

const env = 'DEBIAN_FRONTEND=noninteractive DEBIAN_PRIORITY=critical LANG=C LC_ALL=C LC_MESSAGES=C LC_CTYPE=C'

const lines = (text: string) => text.split(/\r?\n|\r/).filter((l, i, all) => l !== '' || i < all.length - 1)

export async function runApt(host: Target, args: AptArgs, ctx: TaskContext): Promise<TaskResult> {
  checkAptArgs(args)
  const specs = packageList(args.name).filter((p) => p !== '')
  for (const spec of specs)
    if (spec.split('=').length > 2) return { changed: false, failed: true, msg: `invalid package spec: ${spec}` }
  const state = args.state ?? 'present'
  const names = [...new Set(specs.map((s) => split(s)[0]))]
  const facts = await host.fact(AptPackages, ...names)
  const lockTimeout = args.lock_timeout ?? 60
  const dpkgOptions = (args.dpkg_options ?? 'force-confdef,force-confold').split(',')
  const optionWords = dpkgOptions.flatMap((o) => ['-o', `Dpkg::Options::=--${o}`])
  // The command line as the module prints it in a failure.
  const optionText = dpkgOptions.map((o) => `-o "Dpkg::Options::=--${o}"`).join(' ')

  const cacheData = (updated: boolean, time: number) => ({ cache_updated: updated, cache_update_time: time })
  const validFor = args.cache_valid_time ?? 0
  const stale = Boolean(args.update_cache || validFor) && !(facts.cacheTime + validFor >= facts.now)

  /** apt-get update, retried as the module retries a failed fetch; the lists' time after it. */
  const updateCache = async (): Promise<number> => {
    const tries = args.update_cache_retries ?? 5
    const maxDelay = args.update_cache_retry_max_delay ?? 12
    const deadline = Date.now() + lockTimeout * 1000
    let err = ''
    for (let retry = 0; retry < tries; ) {
      const r = await host.$({ nothrow: true })`env ${env.split(' ')} apt-get -q update`
      err = r.stderr.trim()
      if (r.code === 0 && !/^(W|E): (Failed to fetch|Some index files failed)/m.test(r.stderr))
        return (await host.fact(AptPackages)).cacheTime
      if (/Could not get lock|Unable to lock/.test(r.stderr) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 1000))
        continue
      }
      const delay = Math.min(2 ** retry, maxDelay) + Math.random()
      retry++
      if (retry < tries) await new Promise((resolve) => setTimeout(resolve, delay * 1000))
    }
    throw new Error(`Failed to update apt cache: ${err || 'unknown reason'}`)
  }

  const aptGet = async (words: string[]) => {
    const r = await host.$({ nothrow: true })`env ${env.split(' ')} apt-get ${[
      '-o',
      `DPkg::Lock::Timeout=${lockTimeout}`,
      ...words,
    ]}`
    return r
  }
  const output = (r: { stdout: string; stderr: string }) => ({
    stdout: r.stdout,
    stderr: r.stderr,
    stdout_lines: lines(r.stdout),
    stderr_lines: lines(r.stderr),
    diff: ctx.diff ? parseDiff(r.stdout) : {},
  })

  // Only update_cache: the update is the change.
  if (!specs.length) {
    if (!stale) return { changed: false, data: cacheData(false, facts.cacheTime) }
    return {
      changed: false,
      data: cacheData(true, facts.cacheTime),
      changes: [
        {
          describe: 'apt cache updated',
          apply: async () => {
            const after = await updateCache()
            return { changed: after !== facts.cacheTime, data: cacheData(after !== facts.cacheTime, after) }
          },
        },
      ],
    }
  }

  if (state === 'absent') {
    const purge = args.purge ?? false
    const remove = async (now: AptState) => planRemove(host, specs, now, purge)
    const run = async (list: string[]): Promise<Partial<TaskResult>> => {
      const quoted = list.map((p) => `'${p}'`).join(' ')
      const r = await aptGet(['-q', '-y', ...optionWords, ...(purge ? ['--purge'] : []), 'remove', ...list])
      if (r.code !== 0)
        return {
          failed: true,
          msg: `'apt-get remove ${quoted}' failed: ${r.stderr}`,
          data: { stdout: r.stdout, stderr: r.stderr, rc: r.code },
        }
      return { changed: true, data: output(r) }
    }
    const list = await remove(facts)
    const changes: Change[] = []
    if (stale)
      changes.push({
        describe: list.length ? `removed ${list.join(', ')}` : 'apt cache updated',
        quiet: !list.length,
        apply: async () => {
          await updateCache()
          const now = await remove(await host.fact(AptPackages, ...names))
          return now.length ? run(now) : { changed: false, data: {} }
        },
      })
    else if (list.length) changes.push({ describe: `removed ${list.join(', ')}`, apply: () => run(list) })
    return { changed: false, data: {}, changes }
  }

  // present, latest
  const upgrade = state === 'latest'
  const recommends =
    args.install_recommends === undefined
      ? []
      : ['-o', `APT::Install-Recommends=${args.install_recommends ? 'yes' : 'no'}`]
  const install = async (
    plan: Plan,
    now: AptState,
    cache: ReturnType<typeof cacheData>,
  ): Promise<Partial<TaskResult>> => {
    if (plan.fail) return { failed: true, msg: plan.fail, data: cache }
    let result: Partial<TaskResult> = { changed: false, data: cache }
    if (plan.install.length) {
      const r = await aptGet(['-y', ...optionWords, 'install', ...plan.install, ...recommends])
      if (r.code !== 0) {
        const packages = plan.install.map((p) => `'${p}'`).join(' ')
        const recommendsText =
          args.install_recommends === undefined
            ? ''
            : ` -o APT::Install-Recommends=${args.install_recommends ? 'yes' : 'no'}`
        const cmd = `/usr/bin/apt-get -y ${optionText}       install ${packages}${recommendsText}`
        return {
          failed: true,
          msg: `'${cmd}' failed: ${r.stderr}`,
          data: { stdout: r.stdout, stderr: r.stderr, rc: r.code, ...cache },
        }
      }
      result = { changed: true, data: { ...output(r), ...cache } }
    }
    // As the module: the named packages are marked manually installed (apt-mark manual) after a real run.
    const auto = names.filter((n) => now.packages.get(n)?.auto)
    if (auto.length) {
      const r = await host.$({ nothrow: true })`apt-mark manual ${names}`
      if (r.code !== 0)
        return {
          failed: true,
          msg: `'/usr/bin/apt-mark manual ${names.join(' ')}' failed: ${r.stderr}`,
          data: { stdout: r.stdout, stderr: r.stderr, rc: r.code },
        }
    }
    return result
  }

  const plan = await planInstall(host, specs, facts, upgrade)
  const changes: Change[] = []
  if (stale) {
    // The update comes first; what to install is decided again on the updated lists.
    if (plan.fail) plan.install = []
    changes.push({
      describe: plan.install.length ? `installed ${plan.install.join(', ')}` : 'apt cache updated',
      quiet: !plan.install.length,
      apply: async () => {
        const after = await updateCache()
        const now = await host.fact(AptPackages, ...names)
        return install(await planInstall(host, specs, now, upgrade), now, cacheData(after !== facts.cacheTime, after))
      },
    })
    return { changed: false, data: cacheData(true, facts.cacheTime), changes }
  }
  const cache = cacheData(false, facts.cacheTime)
  if (plan.fail) return { changed: false, failed: true, msg: plan.fail, data: cache }
  const marks = names.filter((n) => facts.packages.get(n)?.auto)
  if (plan.install.length)
    changes.push({ describe: `installed ${plan.install.join(', ')}`, apply: () => install(plan, facts, cache) })
  else if (marks.length)
    changes.push({
      describe: `marked ${marks.join(', ')} manually installed`,
      quiet: true,
      apply: () => install(plan, facts, cache),
    })
  return { changed: false, data: cache, changes }
}
