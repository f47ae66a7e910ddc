// The differential harness: each case's playbook and inventory run by Debian's ansible-playbook and by
// `npx deploy`, against twin sets of light hosts (the same inventory names, h1..hN; Ansible's reach light01..04,
// ours light05..08), and the outcomes compared: exit code, per-host recap (ok/changed/failed/skipped/
// unreachable/ignored), and every file the run left under the case's directory on each host (type, mode, owner,
// group, content; registered values are printed into files by the playbooks). A case that we refuse must be
// refused before anything connects: exit 4, a message naming the file, the line and the feature, and no
// connection to the (listening) host the inventory names, and --list-tasks refuses it too. To keep the suite
// within minutes on two cores, Ansible runs clean cases that share inventory and arguments as the plays of one
// ansible-playbook (checkAll, ansibleGroup); hbmon_stats.py (callback_plugins/) writes the recap.
import { spawn } from 'node:child_process'
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { parse, stringify } from 'yaml'
import { ansibleEnv } from '../ansible.ts'
import { root } from '../fleet/_fleet.ts'
import { labKeyPath } from '../../lab/images.ts'
import { Lab, lightName } from '../../lab/lab.ts'

export interface Case {
  name: string
  /** The playbook; `$D` stands for the case's own directory on the hosts (/srv/diff/NAME). */
  playbook: string
  /** An Ansible YAML inventory over hosts h1..h8 (default: h1 and h2 in `all`). The harness adds the address,
   * key and known_hosts of each host unless the case sets ansible_host itself; `ansible_host: DOWN` is an
   * address where nothing listens; KNOWN_HOSTS and LAB_KEY stand for the lab's known_hosts and key files,
   * ALIAS_KNOWN_HOSTS for a known_hosts that knows each host hN only as hk-hN. */
  inventory?: string
  /** More arguments for both tools (-e, --check, -l, -t ...); ADDR(hN) is hN's address on each side. */
  args?: string[]
  /** Files beside the playbook (templates/x.j2, files/y). */
  files?: Record<string, string>
  /** We refuse this playbook: deploy must exit 4 before connecting, with a message matching this. */
  refused?: RegExp
  /** Why ours differs from Ansible here on purpose (listed in README's table); the case must still run. */
  deliberate?: string
  /** Text that deploy must not print (no_log results). */
  notPrinted?: string[]
  /** How long each tool may run before it is killed (default 120 s): apt-get from the mirror takes longer. */
  seconds?: number
}

export interface Outcome {
  code: number | null
  stats: Record<string, Record<string, number>>
  files: Record<string, Record<string, string>>
  stdout: string
  stderr: string
}

export interface Verdict {
  name: string
  agree: boolean
  differences: string[]
  deliberate?: string
  seconds: number
  /** Run by Ansible in one playbook with this many cases (see ansibleGroup). */
  grouped?: number
}

const pool = 4

export class Oracle {
  readonly lab: Lab
  private listeners = 0
  /** Where nothing listens, and where a listener per refused case counts connections: on the default net the
   * lab's spare 127.0.49 (the lab's nets are ours: 127.0.42-49); on another (HBMON_LAB_NET) above its hosts. */
  private readonly downAddress: string
  private readonly refuseAddress: (i: number) => string

  constructor(
    readonly dir: string,
    net = '127.0.42',
  ) {
    this.lab = new Lab({ dir: join(dir, 'lab'), net })
    const spare = net === '127.0.42' ? '127.0.49' : net
    this.downAddress = `${spare}.254`
    this.refuseAddress = (i: number) => `${spare}.${10 + (i % 200)}`
  }

  /** Eight light hosts, each case's directory, users for the become cases, and the connection counter for
   * refused cases. */
  async up(cases: Case[]): Promise<void> {
    await this.lab.up({ light: 2 * pool })
    const setup = [
      `mkdir -p ${cases.map((c) => `/srv/diff/${c.name}`).join(' ')} && chmod 1777 /srv/diff/*`,
      'id deployer >/dev/null 2>&1 || useradd -m -s /bin/sh -p "*" deployer',
      'install -d -o deployer -m 700 /home/deployer/.ssh && install -o deployer -m 600 /root/.ssh/authorized_keys /home/deployer/.ssh/',
      'echo "deployer ALL=(ALL) NOPASSWD: ALL" > /etc/sudoers.d/deployer',
      'id carol >/dev/null 2>&1 || useradd -m -s /bin/sh carol',
      'echo carol:carol-sudo-pw | chpasswd',
      'install -d -o carol -m 700 /home/carol/.ssh && install -o carol -m 600 /root/.ssh/authorized_keys /home/carol/.ssh/',
      'echo "carol ALL=(ALL) ALL" > /etc/sudoers.d/carol',
    ].join(' && ')
    await Promise.all(
      this.lab.hosts.map(async (h) => {
        const r = await this.lab.ssh(h.name, setup)
        if (r.code !== 0) throw new Error(`${h.name}: setup failed: ${r.stderr}`)
      }),
    )
  }

  /** Empties the case's directory on Ansible's hosts (before running it again alone). */
  async reset(c: Case): Promise<void> {
    await Promise.all(
      Array.from({ length: pool }, (_, i) =>
        this.lab.ssh(lightName(i + 1), `rm -rf /srv/diff/${c.name} && mkdir -m 1777 /srv/diff/${c.name}`),
      ),
    )
  }

  async down(): Promise<void> {
    await this.lab.down()
  }

  /** The case's inventory for one side: every hN gets its twin's address unless the case set one. */
  inventoryFor(
    c: Case,
    side: 'ansible' | 'deploy',
    address?: string,
    dir = join(this.dir, 'cases', c.name, side),
  ): string {
    const aliases = join(dir, 'aliases_known_hosts')
    const text = (c.inventory ?? 'all:\n  hosts:\n    h1:\n    h2:\n')
      .replaceAll('ALIAS_KNOWN_HOSTS', aliases)
      .replaceAll('KNOWN_HOSTS', this.lab.knownHostsPath)
      .replaceAll('LAB_KEY', labKeyPath())
    if (text.includes(aliases)) {
      // Host keys under the names hk-h1..hk-h4 (for -o HostKeyAlias), each side with its own hosts' keys.
      const offset = side === 'ansible' ? 0 : pool
      const lines = Array.from(
        { length: pool },
        (_, i) => `hk-h${i + 1} ${(this.lab.host(lightName(i + 1 + offset)) as { hostKey: string }).hostKey}`,
      )
      mkdirSync(join(aliases, '..'), { recursive: true })
      writeFileSync(aliases, `${lines.join('\n')}\n`)
    }
    const data = (parse(text) ?? {}) as Record<string, any>
    const offset = side === 'ansible' ? 0 : pool
    const visit = (group: Record<string, any> | null) => {
      if (!group) return
      for (const [name, vars] of Object.entries(group.hosts ?? {})) {
        const n = Number(/^h(\d+)\b/.exec(name)?.[1] ?? 0)
        const v = (vars ?? {}) as Record<string, unknown>
        if (v.ansible_host === 'DOWN') v.ansible_host = this.downAddress
        else if (v.ansible_host === undefined && n > 0)
          v.ansible_host = address ?? this.address(lightName(((n - 1) % pool) + 1 + offset))
        group.hosts[name] = v
      }
      for (const child of Object.values(group.children ?? {})) visit(child as Record<string, any> | null)
    }
    for (const group of Object.values(data)) visit(group)
    data.all ??= {}
    data.all.vars = {
      ansible_user: 'root',
      ansible_ssh_private_key_file: labKeyPath(),
      ansible_ssh_common_args: `-o UserKnownHostsFile=${this.lab.knownHostsPath} -o StrictHostKeyChecking=yes`,
      ansible_python_interpreter: '/usr/bin/python3',
      ...data.all.vars,
    }
    // A default the case sets to null is left out (to test what happens without it).
    for (const [k, v] of Object.entries(data.all.vars)) if (v === null) delete data.all.vars[k]
    return stringify(data, { lineWidth: 0 })
  }

  private args(c: Case, offset: number): string[] {
    return (c.args ?? []).map((a) => this.addresses(a, offset).replaceAll('$D', `/srv/diff/${c.name}`))
  }

  /** ADDR(hN) → the address of hN's twin on one side. */
  private addresses(text: string, offset: number): string {
    return text.replace(/ADDR\(h(\d+)\)/g, (_, n: string) =>
      this.address(lightName(((Number(n) - 1) % pool) + 1 + offset)),
    )
  }

  private address(name: string): string {
    const host = this.lab.host(name)
    return host.kind === 'light' ? host.address : '127.0.0.1'
  }

  /** Writes the case's files for one side; returns the directory. */
  private prepare(c: Case, side: 'ansible' | 'deploy', address?: string): string {
    const dir = join(this.dir, 'cases', c.name, side)
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'playbook.yml'), c.playbook.replaceAll('$D', `/srv/diff/${c.name}`))
    writeFileSync(join(dir, 'inventory.yml'), this.inventoryFor(c, side, address))
    const offset = side === 'ansible' ? 0 : pool
    for (const [path, text] of Object.entries(c.files ?? {})) {
      mkdirSync(join(dir, path, '..'), { recursive: true })
      writeFileSync(join(dir, path), this.addresses(text.replaceAll('$D', `/srv/diff/${c.name}`), offset))
    }
    return dir
  }

  async ansible(c: Case): Promise<Outcome> {
    const dir = this.prepare(c, 'ansible')
    const r = await this.runAnsible(dir, this.args(c, 0), c.seconds)
    const stats: Outcome['stats'] = {}
    for (const [host, s] of Object.entries(r.recap?.stats ?? {})) stats[host] = counts(s)
    return { code: r.code, stdout: r.stdout, stderr: r.stderr, stats, files: this.files(c, 0) }
  }

  /**
   * Several cases that share inventory, arguments and files in one ansible-playbook run (its start-up and
   * connections are most of a small case's cost): their plays one after the other, each named after its case,
   * and each case's recap counted from its own plays. Only for cases where no host fails (a failed host would
   * leave the later cases' plays). Undefined when the run is not clean or the per-play counts do not add up to
   * Ansible's own recap: the caller runs those cases alone.
   */
  async ansibleGroup(group: Case[], index: number): Promise<Map<string, Outcome> | undefined> {
    const first = group[0]!
    const dir = join(this.dir, 'cases', `_group${index}`, 'ansible')
    mkdirSync(dir, { recursive: true })
    // Text, not re-serialized YAML: a YAML 1.2 writer would turn 0444 (octal to PyYAML) into 444.
    const playbook = group
      .map((c) => {
        let i = 0
        return c.playbook
          .replaceAll('$D', `/srv/diff/${c.name}`)
          .replace(/^- hosts:/gm, () => `- name: "${c.name}#${++i}"\n  hosts:`)
      })
      .join('')
    writeFileSync(join(dir, 'playbook.yml'), playbook)
    writeFileSync(join(dir, 'inventory.yml'), this.inventoryFor(first, 'ansible', undefined, dir))
    for (const [path, text] of Object.entries(first.files ?? {})) {
      mkdirSync(join(dir, path, '..'), { recursive: true })
      writeFileSync(join(dir, path), this.addresses(text, 0))
    }
    const r = await this.runAnsible(dir, this.args(first, 0), Math.max(...group.map((c) => c.seconds ?? 120)))
    if (r.code !== 0 || !r.recap) return undefined
    const total: Record<string, Record<string, number>> = {}
    const byCase = new Map<string, Outcome['stats']>(group.map((c) => [c.name, {}]))
    for (const [play, hosts] of Object.entries(r.recap.plays)) {
      const stats = byCase.get(play.replace(/#\d+$/, ''))
      if (!stats) return undefined
      for (const [host, s] of Object.entries(hosts)) {
        const sum = (stats[host] ??= counts({}))
        const all = (total[host] ??= counts({}))
        for (const [k, v] of Object.entries(counts(s))) {
          sum[k] = sum[k]! + v
          all[k] = all[k]! + v
        }
      }
    }
    const recap = Object.fromEntries(Object.entries(r.recap.stats).map(([h, s]) => [h, counts(s)]))
    const canonical = (m: Record<string, Record<string, number>>) =>
      JSON.stringify(
        Object.keys(m)
          .sort()
          .map((h) => [h, m[h]]),
      )
    if (canonical(total) !== canonical(recap)) return undefined
    return new Map(
      group.map((c) => [
        c.name,
        { code: 0, stdout: r.stdout, stderr: r.stderr, stats: byCase.get(c.name)!, files: this.files(c, 0) },
      ]),
    )
  }

  private async runAnsible(dir: string, args: string[], seconds = 120) {
    const statsFile = join(dir, 'stats.json')
    const env = {
      ...ansibleEnv(),
      // A case's own ansible.cfg, found by both tools (ours finds ./ansible.cfg as Ansible would without this).
      ...(existsSync(join(dir, 'ansible.cfg')) ? { ANSIBLE_CONFIG: join(dir, 'ansible.cfg') } : {}),
      ANSIBLE_CALLBACK_PLUGINS: join(import.meta.dirname, 'callback_plugins'),
      ANSIBLE_CALLBACKS_ENABLED: 'hbmon_stats',
      HBMON_STATS_FILE: statsFile,
      PYTHONDONTWRITEBYTECODE: '1', // no __pycache__ beside the callback plugin in the repository
      ANSIBLE_INVENTORY_ENABLED: 'host_list,yaml,ini', // the cases' own -i files may be INI
      ANSIBLE_PIPELINING: 'true',
      ANSIBLE_FORKS: '20',
      ANSIBLE_SSH_ARGS: '-o ControlMaster=auto -o ControlPersist=60s',
    }
    const r = await run('ansible-playbook', ['-i', 'inventory.yml', 'playbook.yml', ...args], dir, env, seconds)
    type Counts = Record<string, number>
    const recap = existsSync(statsFile)
      ? (JSON.parse(readFileSync(statsFile, 'utf8')) as {
          stats: Record<string, Counts>
          plays: Record<string, Record<string, Counts>>
        })
      : undefined
    return { ...r, recap }
  }

  async deploy(c: Case): Promise<Outcome & { connections: number }> {
    // (A refused case is also run with --list-tasks: the same directory, one after the other.)
    // A refused case's hosts all point at a listener of its own, which counts the connections it gets.
    let connections = 0
    let listener: Server | undefined
    let address: string | undefined
    if (c.refused) {
      address = this.refuseAddress(this.listeners++)
      listener = createServer((socket) => {
        connections++
        socket.destroy()
      })
      await new Promise<void>((resolve, reject) => listener!.once('error', reject).listen(22, address, resolve))
    }
    const dir = this.prepare(c, 'deploy', address)
    const json = join(dir, 'report.json')
    const r = await run(
      process.execPath,
      // Cases run three at a time on the same hosts, each in its own directory: no host lock (with waiting,
      // two cases whose hosts overlap could each hold a host the other waits for).
      [
        join(root, 'bin/deploy.js'),
        '-i',
        'inventory.yml',
        'playbook.yml',
        '--json',
        json,
        '--no-host-lock',
        ...this.args(c, pool),
      ],
      dir,
      { ...process.env, CI: '1', SSH_AUTH_SOCK: '' },
      c.seconds,
    )
    const stats: Outcome['stats'] = {}
    if (existsSync(json)) {
      const report = JSON.parse(readFileSync(json, 'utf8'))
      for (const [host, h] of Object.entries(report.hosts as Record<string, { stats: Record<string, number> }>)) {
        const { ok, changed, failed, skipped, unreachable, rescued, ignored } = h.stats
        stats[host] = {
          ok: ok!,
          changed: changed!,
          failed: failed!,
          skipped: skipped!,
          unreachable: unreachable!,
          rescued: rescued!,
          ignored: ignored!,
        }
      }
    }
    if (listener) await new Promise((resolve) => listener!.close(resolve))
    return { ...r, stats, files: this.files(c, pool), connections }
  }

  /** Per host name, every path under the case's directory: "type mode owner:group" and content. */
  private files(c: Case, offset: number): Record<string, Record<string, string>> {
    const out: Record<string, Record<string, string>> = {}
    for (let i = 1; i <= pool; i++) {
      const name = lightName(i + offset)
      const base = join(this.lab.dir, 'light', name, 'upper', 'srv/diff', c.name)
      const found: Record<string, string> = {}
      const walk = (dir: string, rel: string) => {
        for (const entry of readdirSync(dir).sort()) {
          const path = join(dir, entry)
          const st = lstatSync(path)
          const key = rel ? `${rel}/${entry}` : entry
          const attrs = `${(st.mode & 0o7777).toString(8).padStart(4, '0')} ${st.uid}:${st.gid}`
          if (st.isDirectory()) {
            found[key] = `dir ${attrs}`
            walk(path, key)
          } else if (st.isSymbolicLink()) found[key] = `link -> ${readlinkSync(path)}`
          else if (st.isCharacterDevice())
            continue // an overlay whiteout: removed
          else found[key] = `file ${attrs} ${JSON.stringify(readFileSync(path, 'utf8'))}`
        }
      }
      if (existsSync(base)) walk(base, '')
      out[`h${i}`] = found
    }
    return out
  }

  /** Runs one case with both tools and compares. */
  async check(c: Case): Promise<Verdict> {
    const started = Date.now()
    const differences: string[] = []
    if (c.refused) {
      const ours = await this.deploy(c)
      const message = ours.stderr + ours.stdout
      if (ours.code !== 4) differences.push(`deploy exit ${ours.code}, want 4 (refused)`)
      if (!/playbook\.yml:\d+|inventory\.yml:\d+|\.j2|-e|--json|\S+:\d+:\d+/.test(message))
        differences.push(`the message names no file and line: ${message.trim().slice(0, 200)}`)
      if (!c.refused.test(message))
        differences.push(`the message does not match ${c.refused}: ${message.trim().slice(0, 300)}`)
      if (ours.connections) differences.push(`deploy connected ${ours.connections} times before refusing`)
      // --list-tasks reads the same inputs: it must refuse them too (the report path is not one of them).
      if (!(c.args ?? []).includes('--json')) {
        const listed = await this.deploy({ ...c, args: [...(c.args ?? []), '--list-tasks'] })
        if (listed.code !== 4) differences.push(`deploy --list-tasks exit ${listed.code}, want 4`)
      }
      return { name: c.name, agree: differences.length === 0, differences, seconds: (Date.now() - started) / 1000 }
    }
    const [theirs, ours] = await Promise.all([this.ansible(c), this.deploy(c)])
    return this.verdict(c, theirs, ours, started)
  }

  /** The verdict on a case from both outcomes. */
  verdict(c: Case, theirs: Outcome, ours: Outcome, started: number): Verdict {
    const differences = compare(theirs, ours)
    for (const text of c.notPrinted ?? [])
      if ((ours.stdout + ours.stderr).includes(text)) differences.push(`deploy printed ${JSON.stringify(text)}`)
    if (differences.length && process.env.HBMON_DIFF_VERBOSE)
      differences.push(
        `ansible stderr: ${theirs.stderr.slice(-600)}`,
        `ansible stdout: ${theirs.stdout.slice(0, 3000)}`,
        `deploy: ${ours.stdout.slice(-1500)}${ours.stderr.slice(-600)}`,
      )
    return {
      name: c.name,
      agree: differences.length === 0,
      differences,
      ...(c.deliberate ? { deliberate: c.deliberate } : {}),
      seconds: (Date.now() - started) / 1000,
    }
  }
}

/** What differs between Ansible's outcome and ours: exit code, recap per host, files per host. */
function compare(theirs: Outcome, ours: Outcome): string[] {
  const differences: string[] = []
  // Deliberate (README): ansible-playbook exits 4 both for unreachable hosts and for bad input; we exit 3 for
  // unreachable hosts so that 4 always means "refused, nothing was contacted".
  const unreachable = Object.values(theirs.stats).some((s) => s.unreachable! > 0)
  const code = theirs.code === 4 && unreachable && ours.code === 3 ? 3 : theirs.code
  if (code !== ours.code) differences.push(`exit: ansible ${theirs.code}, deploy ${ours.code}`)
  const hosts = [...new Set([...Object.keys(theirs.stats), ...Object.keys(ours.stats)])].sort()
  for (const h of hosts) {
    const a = JSON.stringify(theirs.stats[h] ?? null)
    const d = JSON.stringify(ours.stats[h] ?? null)
    if (a !== d) differences.push(`${h} recap: ansible ${a}, deploy ${d}`)
  }
  for (const h of Object.keys(theirs.files)) {
    const a = theirs.files[h]!
    const d = ours.files[h]!
    for (const path of [...new Set([...Object.keys(a), ...Object.keys(d)])].sort())
      if (a[path] !== d[path])
        differences.push(`${h}:${path}: ansible ${a[path] ?? 'absent'}, deploy ${d[path] ?? 'absent'}`)
  }
  return differences
}

/** Ansible's recap counts under our names. */
function counts(s: Record<string, number>): Record<string, number> {
  return {
    ok: s.ok ?? 0,
    changed: s.changed ?? 0,
    failed: s.failures ?? s.failed ?? 0,
    skipped: s.skipped ?? 0,
    unreachable: s.unreachable ?? 0,
    rescued: s.rescued ?? 0,
    ignored: s.ignored ?? 0,
  }
}

function run(
  command: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
  seconds = 120,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const started = Date.now()
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => (stdout += c))
    child.stderr.on('data', (c: Buffer) => (stderr += c))
    const timer = setTimeout(() => child.kill('SIGKILL'), seconds * 1000)
    child.on('close', (code) => {
      clearTimeout(timer)
      if (process.env.HBMON_DIFF_TIMES)
        console.log(`  ${command.split('/').pop()}: ${((Date.now() - started) / 1000).toFixed(1)} s`)
      resolve({ code, stdout, stderr })
    })
  })
}

/** Runs `work` on each item, `concurrency` at a time. */
async function inPool<T>(
  items: T[],
  concurrency: number,
  work: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i; (i = next++) < items.length; ) await work(items[i]!, i)
    }),
  )
}

/**
 * Runs the cases `concurrency` at a time; returns their verdicts in order. First npx deploy on every case
 * (refused cases are decided there); then Ansible: cases where our run was clean (exit 0, no host failed or
 * unreachable) and that share inventory, arguments and files go through one ansible-playbook run in groups
 * of up to `groupSize` (see ansibleGroup); the others, and any grouped case that disagrees, run alone, and
 * the lone run is the one compared.
 */
export async function checkAll(
  oracle: Oracle,
  cases: Case[],
  concurrency = 3,
  progress?: (v: Verdict) => void,
  groupSize = 8,
): Promise<Verdict[]> {
  const verdicts = new Map<string, Verdict>()
  const done = (v: Verdict) => {
    verdicts.set(v.name, v)
    progress?.(v)
  }
  const ours = new Map<string, Outcome>()
  const started = new Map<string, number>()
  await inPool(cases, concurrency, async (c) => {
    started.set(c.name, Date.now())
    if (c.refused) done(await oracle.check(c))
    else ours.set(c.name, await oracle.deploy(c))
  })
  const clean = (c: Case) =>
    !c.deliberate &&
    ours.get(c.name)!.code === 0 &&
    Object.values(ours.get(c.name)!.stats).every((s) => !s.failed && !s.unreachable)
  const byKey = new Map<string, Case[]>()
  const alone: Case[] = []
  for (const c of cases.filter((c) => !c.refused)) {
    if (!clean(c)) {
      alone.push(c)
      continue
    }
    // Plays are named by text (see ansibleGroup): every play must start with `- hosts:`.
    if ((c.playbook.match(/^- /gm) ?? []).length !== (c.playbook.match(/^- hosts:/gm) ?? []).length) {
      alone.push(c)
      continue
    }
    const key = JSON.stringify([c.inventory ?? '', c.args ?? [], c.files ?? {}])
    byKey.set(key, [...(byKey.get(key) ?? []), c])
  }
  const jobs: Case[][] = []
  for (const group of byKey.values())
    for (let i = 0; i < group.length; i += groupSize) jobs.push(group.slice(i, i + groupSize))
  for (const c of alone) jobs.push([c])
  jobs.sort((a, b) => b.length - a.length) // the long runs first
  const solo = async (c: Case) => {
    const t = Date.now()
    done(oracle.verdict(c, await oracle.ansible(c), ours.get(c.name)!, t))
  }
  await inPool(jobs, concurrency, async (job, index) => {
    if (job.length === 1) return solo(job[0]!)
    const t = Date.now()
    const theirs = await oracle.ansibleGroup(job, index)
    for (const c of job) {
      const outcome = theirs?.get(c.name)
      const verdict = outcome && oracle.verdict(c, outcome, ours.get(c.name)!, t)
      if (verdict?.agree) done({ ...verdict, grouped: job.length })
      else {
        if (process.env.HBMON_DIFF_VERBOSE)
          console.log(
            `  ${c.name}: grouped run ${theirs ? `disagrees: ${verdict!.differences.slice(0, 3).join('; ')}` : 'not clean'}; running it alone`,
          )
        await oracle.reset(c)
        await solo(c)
      }
    }
  })
  return cases.map((c) => verdicts.get(c.name)!)
}
