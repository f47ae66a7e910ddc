// The lab: VM hosts and light hosts on this one machine, their state on disk, an Ansible-style inventory
// and known_hosts for them, and fault controls. Used by `npm run lab`, the tests, benchmarks and the demo.
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { stringify } from 'yaml'
import { $ } from 'zx'
import { ensureImage, labKey, labKeyPath, recipes } from './images.ts'
import {
  ensureLightFs,
  isMountPoint,
  namespacePids,
  removeLight,
  startLight,
  stopLight,
  type LightHost,
} from './light.ts'
import { ensurePackages } from './packages.ts'
import { alive, processState, signal, sleep, terminate } from './procs.ts'
import { chooseAccel, type AccelChoice } from './accel.ts'
import {
  bannerSeen,
  bootSnapshot,
  bootVm,
  ensureSegment,
  freePort,
  panicked,
  saveBootSnapshot,
  stopVm,
  vmDiagnostics,
  type Segment,
  type VmHost,
} from './vms.ts'

export type { LightHost, VmHost }
export type Host = VmHost | LightHost

export const vmNames = Object.keys(recipes)
const repoRoot = fileURLToPath(new URL('..', import.meta.url))

export interface LabOptions {
  /** Where the lab keeps its state (pids, overlays, keys): default lab/.run, or $HBMON_LAB_DIR. */
  dir?: string
  /** The /24 the light hosts take addresses from (default 127.0.0, or $HBMON_LAB_NET): .2, .3, ... */
  net?: string
  /** Where `up` writes the inventory: default lab/inventory.yml for the default lab, else DIR/inventory.yml. */
  inventory?: string
  log?: (line: string) => void
  /**
   * Take the lab down when this process gets SIGINT or SIGTERM (default true: tests and the demo clean up
   * after an interrupt; `npm run lab` keeps what it brought up).
   */
  downOnSignal?: boolean
  /** Extra words for the VMs' kernel command line (appended: a later word wins). */
  kernelArgs?: string
  /** How long a VM may stay silent before its kernel's banner proves it runs (default 90 s). */
  bootBannerMs?: number
  /**
   * Extra TCP ports forwarded from 127.0.0.1 into VMs (VM name → guest ports), besides SSH: e.g. a page a
   * VM serves. Each gets a free host port at boot (`forwardedPort`); a VM already running keeps what it has.
   */
  forwards?: Record<string, number[]>
  /** Extra inventory groups (name → hosts and vars), kept in the lab's state and written with every `up`. */
  groups?: Record<string, { hosts: string[]; vars?: Record<string, unknown> }>
  /**
   * New VMs resume a saved just-booted state instead of booting (see bootSnapshot in vms.ts): seconds instead
   * of a minute or more under TCG. Default: $HBMON_LAB_BOOT_SNAPSHOTS=1 (the test runner sets it).
   */
  bootSnapshots?: boolean
}

interface State {
  net: string
  segment?: Segment
  vms: Record<string, VmHost>
  light: Record<string, LightHost>
  cut: string[]
  /** The accelerator the running VMs use, and why: chosen once, before the first VM of the lab boots. */
  accel?: AccelChoice
  groups?: Record<string, { hosts: string[]; vars?: Record<string, unknown> }>
}

export interface UpOptions {
  /** Exactly these VMs run afterwards (others are stopped); leave undefined to keep the VMs as they are. */
  vms?: string[]
  /** Exactly this many light hosts run afterwards; leave undefined to keep them as they are. */
  light?: number
}

export interface RunResult {
  stdout: string
  stderr: string
  code: number
}

export class Lab {
  readonly dir: string
  readonly inventoryPath: string
  readonly knownHostsPath: string
  private readonly log: (line: string) => void
  private readonly kernelArgs: string
  private readonly bootBannerMs: number
  private readonly forwards: Record<string, number[]>
  private readonly bootSnapshots: boolean
  private state: State

  constructor(options: LabOptions = {}) {
    const defaultDir = join(repoRoot, 'lab/.run')
    this.dir = resolve(options.dir ?? process.env.HBMON_LAB_DIR ?? defaultDir)
    this.inventoryPath = resolve(
      options.inventory ??
        (this.dir === defaultDir ? join(repoRoot, 'lab/inventory.yml') : join(this.dir, 'inventory.yml')),
    )
    this.knownHostsPath = join(this.dir, 'known_hosts')
    this.log = options.log ?? (() => {})
    this.kernelArgs = options.kernelArgs ?? ''
    this.bootBannerMs = options.bootBannerMs ?? 90_000
    const net = options.net ?? process.env.HBMON_LAB_NET ?? '127.0.0'
    if (!/^127\.\d{1,3}\.\d{1,3}$/.test(net))
      throw new Error(`lab net must be three octets inside 127.0.0.0/8, got ${net}`)
    this.state = this.load(net)
    this.forwards = options.forwards ?? {}
    this.bootSnapshots = options.bootSnapshots ?? process.env.HBMON_LAB_BOOT_SNAPSHOTS === '1'
    if (options.groups) this.state.groups = options.groups
    if (options.downOnSignal ?? true) downOnSignal(this)
  }

  private get statePath(): string {
    return join(this.dir, 'lab.json')
  }

  private load(net: string): State {
    if (!existsSync(this.statePath)) return { net, vms: {}, light: {}, cut: [] }
    return JSON.parse(readFileSync(this.statePath, 'utf8')) as State
  }

  private save(): void {
    mkdirSync(this.dir, { recursive: true })
    const tmp = `${this.statePath}.tmp`
    writeFileSync(tmp, JSON.stringify(this.state, null, 2))
    renameSync(tmp, this.statePath)
  }

  get hosts(): Host[] {
    return [...Object.values(this.state.vms), ...Object.values(this.state.light)]
  }

  host(name: string): Host {
    const host = this.state.vms[name] ?? this.state.light[name]
    if (!host)
      throw new Error(`no lab host named ${name} (have: ${this.hosts.map((h) => h.name).join(', ') || 'none'})`)
    return host
  }

  /** Brings the lab to the asked shape. Hosts that already run are left alone; dead ones are restarted. */
  async up(options: UpOptions = {}): Promise<void> {
    ensurePackages(this.log)
    mkdirSync(this.dir, { recursive: true })
    const { publicKey } = await labKey()
    const toSave: Record<string, string> = {}
    if (options.vms) {
      for (const name of options.vms)
        if (!recipes[name]) throw new Error(`unknown VM ${name} (known: ${vmNames.join(', ')})`)
      for (const name of Object.keys(this.state.vms)) if (!options.vms.includes(name)) await this.remove(name)
      Object.assign(toSave, await this.upVms(options.vms))
    }
    if (options.light !== undefined) {
      if (!Number.isInteger(options.light) || options.light < 0 || options.light > 250)
        throw new Error('light hosts: 0 to 250')
      const wanted = Array.from({ length: options.light }, (_, i) => lightName(i + 1))
      for (const name of Object.keys(this.state.light)) if (!wanted.includes(name)) await this.remove(name)
      if (wanted.length > 0) await ensureLightFs(join(this.dir, 'light'))
      for (const [i, name] of wanted.entries()) {
        const known = this.state.light[name]
        if (known && alive(known.pid)) continue
        this.state.light[name] = await startLight(
          { kind: 'light', name, address: `${this.state.net}.${i + 2}`, dir: join(this.dir, 'light', name) },
          publicKey,
        )
        this.save()
      }
    }
    this.writeAccess()
    this.save()
    await Promise.all(this.hosts.map((host) => this.waitReady(host)))
    for (const [name, snapshot] of Object.entries(toSave)) await this.afterBoot(this.state.vms[name]!, snapshot)
  }

  /** A VM resumed from its snapshot gets the time of day; one that booted is saved when no snapshot exists. */
  private async afterBoot(vm: VmHost, snapshot: string): Promise<void> {
    if (vm.resumed) {
      const set = await this.ssh(vm.name, `date -s @${(Date.now() / 1000).toFixed(3)} >/dev/null`)
      if (set.code !== 0) throw new Error(`${vm.name}: setting the clock after the resume failed: ${set.stderr}`)
      this.log(`${vm.name}: resumed from its boot snapshot`)
    } else if (!existsSync(snapshot)) {
      const started = Date.now()
      await saveBootSnapshot(vm, snapshot)
      this.log(`${vm.name}: boot snapshot saved in ${((Date.now() - started) / 1000).toFixed(1)} s`)
    }
  }

  /** Starts the VMs not running; returns the boot snapshot of each one started, when they are in use. */
  private async upVms(names: string[]): Promise<Record<string, string>> {
    const images = await Promise.all(names.map((name) => ensureImage(recipes[name]!, this.log)))
    const pending = names.filter((name) => !alive(this.state.vms[name]?.pid))
    const started: Record<string, string> = {}
    if (pending.length === 0) return started
    if (!this.state.accel || !Object.values(this.state.vms).some((vm) => alive(vm.pid))) {
      this.state.accel = await chooseAccel(images[0]!.kernel)
      this.log(`accelerator: ${this.state.accel.accel} (${this.state.accel.reason})`)
    }
    this.state.segment = await ensureSegment(this.dir, this.state.segment)
    this.save()
    for (const [i, name] of names.entries()) {
      if (!pending.includes(name)) continue
      const image = images[i]!
      const known = this.state.vms[name]
      const forwards: Record<string, number> = {}
      for (const port of this.forwards[name] ?? [])
        forwards[String(port)] = known?.forwards?.[String(port)] ?? (await freePort())
      const snapshot = this.bootSnapshots ? bootSnapshot(image, this.state.accel.accel, this.kernelArgs) : undefined
      this.log(`${name}: booting ${image.kernelRelease}`)
      this.state.vms[name] = await bootVm(
        {
          kind: 'vm',
          name,
          image: image.dir,
          kernelRelease: image.kernelRelease,
          hostKey: image.hostKey,
          sshPort: known?.sshPort ?? (await freePort()),
          mac: `52:54:00:4c:00:${(vmNames.indexOf(name) + 1).toString(16).padStart(2, '0')}`,
          dir: join(this.dir, 'vms', name),
          ...(Object.keys(forwards).length ? { forwards } : {}),
        },
        image,
        this.state.segment,
        this.state.accel.accel,
        this.kernelArgs,
        snapshot,
      )
      if (snapshot) started[name] = snapshot
      this.save()
    }
    return started
  }

  /**
   * Waits until the host answers a command over SSH with its host key checked. A VM whose kernel has not
   * printed its banner within `bannerMs` never will (a guest stuck before its first instruction, as under a
   * broken KVM): that fails at once with QEMU's command line and console, instead of waiting out `timeoutMs`.
   */
  async waitReady(
    host: Host,
    timeoutMs = host.kind === 'vm' ? 300_000 : 30_000,
    bannerMs = this.bootBannerMs,
  ): Promise<void> {
    const started = Date.now()
    const diagnostics = () => (host.kind === 'vm' ? vmDiagnostics(host) : readTail(join(host.dir, 'sshd.log')))
    for (;;) {
      const result = await this.ssh(host.name, 'true', { connectTimeout: 5 })
      if (result.code === 0) {
        this.log(`${host.name}: ready in ${((Date.now() - started) / 1000).toFixed(1)} s`)
        return
      }
      if (!alive(host.pid) || (host.kind === 'vm' && panicked(host))) {
        throw new Error(`${host.name}: the host died before SSH answered\n${diagnostics()}`)
      }
      if (host.kind === 'vm' && !host.resumed && !bannerSeen(host) && Date.now() - started > bannerMs) {
        const accel = this.state.accel ? ` under ${this.state.accel.accel} (${this.state.accel.reason})` : ''
        throw new Error(
          `${host.name}: the guest kernel printed nothing within ${bannerMs / 1000} s${accel}\n${diagnostics()}`,
        )
      }
      if (Date.now() - started > timeoutMs) {
        throw new Error(
          `${host.name}: SSH did not answer within ${timeoutMs / 1000} s: ${result.stderr.trim()}\n${diagnostics()}`,
        )
      }
      await sleep(host.kind === 'vm' ? 2000 : 200)
    }
  }

  /** The 127.0.0.1 port that reaches `guestPort` of a VM (LabOptions.forwards); throws when it has none. */
  forwardedPort(name: string, guestPort: number): number {
    const host = this.host(name)
    const port = host.kind === 'vm' ? host.forwards?.[String(guestPort)] : undefined
    if (!port) throw new Error(`${name}: no port forward to guest port ${guestPort} (the VM was booted without it)`)
    return port
  }

  /** OpenSSH client arguments for a host: the lab key, the lab's known_hosts, strict host key checking. */
  async sshArgs(name: string, options: { connectTimeout?: number; user?: string } = {}): Promise<string[]> {
    const host = this.host(name)
    const [address, port] = host.kind === 'vm' ? ['127.0.0.1', host.sshPort] : [host.address, 22]
    return [
      '-i',
      labKeyPath(),
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      `UserKnownHostsFile=${this.knownHostsPath}`,
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      'BatchMode=yes',
      '-o',
      'LogLevel=ERROR',
      '-o',
      `ConnectTimeout=${options.connectTimeout ?? 10}`,
      '-p',
      String(port),
      `${options.user ?? 'root'}@${address}`,
    ]
  }

  /** Runs a command on a host with the OpenSSH client. */
  async ssh(
    name: string,
    command: string,
    options: { connectTimeout?: number; user?: string; input?: string } = {},
  ): Promise<RunResult> {
    const args = await this.sshArgs(name, options)
    const run = $({ input: options.input ?? '', nothrow: true, quiet: true })`ssh ${args} ${command}`
    const result = await run
    return { stdout: result.stdout, stderr: result.stderr, code: result.exitCode ?? 255 }
  }

  /** Copies a local file to a host with scp (same key and host key checks as ssh). */
  async copyTo(name: string, local: string, remote: string): Promise<void> {
    const args = await this.sshArgs(name)
    const target = args.pop()!
    const portIndex = args.indexOf('-p')
    args.splice(portIndex, 1, '-P')
    await $({ quiet: true })`scp -q ${args} ${local} ${`${target}:${remote}`}`
  }

  // --- fault controls -------------------------------------------------------------------------------

  /** Stops a host cleanly (VM: ACPI power-off; light host: sshd ends). `up` starts it again. */
  async stop(name: string): Promise<void> {
    const host = this.host(name)
    if (host.kind === 'vm') await stopVm(host)
    else await stopLight(host)
  }

  /** Kills a host at once, as a power cut would. */
  async kill(name: string): Promise<void> {
    const host = this.host(name)
    if (host.kind === 'vm') {
      signal(host.pid, 'SIGKILL')
      await terminate(host.pid, 5000)
    } else await stopLight(host, true)
  }

  /**
   * Freezes a host (SIGSTOP to QEMU, or to every process of the light host): connections hang. Returns once
   * every process is stopped: a signal is delivered asynchronously, and a caller that reads the state next
   * must see the pause.
   */
  async pause(name: string): Promise<void> {
    const pids = this.processes(name)
    for (const pid of pids) signal(pid, 'SIGSTOP')
    await this.waitState(name, pids, (state) => state === undefined || state === 'T' || state === 'Z', 'stopped')
  }

  /** Undoes pause; returns once no process of the host is stopped any more. */
  async resume(name: string): Promise<void> {
    const pids = this.processes(name)
    for (const pid of pids) signal(pid, 'SIGCONT')
    await this.waitState(name, pids, (state) => state !== 'T', 'running again')
  }

  private async waitState(
    name: string,
    pids: number[],
    done: (state: string | undefined) => boolean,
    what: string,
  ): Promise<void> {
    for (const end = Date.now() + 10_000; ; await sleep(20)) {
      const pending = pids.filter((pid) => !done(processState(pid)))
      if (pending.length === 0) return
      if (Date.now() > end) throw new Error(`${name}: processes ${pending.join(', ')} not ${what} after 10 s`)
    }
  }

  /** The host's processes as this machine sees them: QEMU, or everything in the light host's namespace. */
  processes(name: string): number[] {
    const host = this.host(name)
    return host.kind === 'vm' ? [host.pid] : namespacePids(host)
  }

  /** Drops every packet to the host's SSH port (new and open connections), in the lab's own nft table. */
  async cut(name: string): Promise<void> {
    this.host(name)
    if (!this.state.cut.includes(name)) this.state.cut.push(name)
    this.save()
    await this.applyCuts()
  }

  async restore(name: string): Promise<void> {
    this.state.cut = this.state.cut.filter((n) => n !== name)
    this.save()
    await this.applyCuts()
  }

  private get nftTable(): string {
    return `hbmon_lab_${createHash('sha256').update(this.dir).digest('hex').slice(0, 8)}`
  }

  private async applyCuts(): Promise<void> {
    const rules = this.state.cut.map((name) => {
      const host = this.host(name)
      return host.kind === 'vm'
        ? `    ip daddr 127.0.0.1 tcp dport ${host.sshPort} drop`
        : `    ip daddr ${host.address} tcp dport 22 drop`
    })
    // Recreated whole each time, so the table always says exactly which hosts are cut.
    const script = [
      `table inet ${this.nftTable}`,
      `delete table inet ${this.nftTable}`,
      `table inet ${this.nftTable} {`,
      // The comment names the lab's directory: the test runner finds a table a test left behind by it.
      `  comment ${JSON.stringify(`lab ${this.dir}`)}`,
      '  chain input {',
      '    type filter hook input priority -10; policy accept;',
      ...rules,
      '  }',
      '}',
      '',
    ].join('\n')
    if (this.state.cut.length === 0) await $({ quiet: true, nothrow: true })`nft delete table inet ${this.nftTable}`
    else await $({ input: script, quiet: true })`nft -f -`
  }

  // --- teardown and status -----------------------------------------------------------------------

  private async remove(name: string): Promise<void> {
    const host = this.host(name)
    if (host.kind === 'vm') {
      await stopVm(host, 5000)
      rmSync(host.dir, { recursive: true, force: true })
      delete this.state.vms[name]
    } else {
      await stopLight(host)
      removeLight(host)
      delete this.state.light[name]
    }
    if (this.state.cut.includes(name)) {
      this.state.cut = this.state.cut.filter((n) => n !== name)
      await this.applyCuts()
    }
    this.save()
  }

  /** Ends every process the lab started and removes its overlays, mounts, nft table and files. */
  get accel(): AccelChoice | undefined {
    return this.state.accel
  }

  async down(): Promise<void> {
    await Promise.all(Object.values(this.state.vms).map((host) => stopVm(host, 5000)))
    await Promise.all(Object.values(this.state.light).map((host) => stopLight(host)))
    if (this.state.segment) await terminate(this.state.segment.pid, 5000)
    await $({ quiet: true, nothrow: true })`nft delete table inet ${this.nftTable}`
    const lightFs = join(this.dir, 'light')
    if (await isMountPoint(lightFs)) await $`umount ${lightFs}`
    rmSync(this.dir, { recursive: true, force: true })
    rmSync(this.inventoryPath, { force: true })
    this.state = {
      net: this.state.net,
      vms: {},
      light: {},
      cut: [],
      ...(this.state.groups ? { groups: this.state.groups } : {}),
    }
  }

  status(): Array<{ name: string; kind: string; address: string; state: string; detail: string }> {
    return this.hosts.map((host) => {
      const running = alive(host.pid)
      const paused = running && this.processes(host.name).some((pid) => processState(pid) === 'T')
      const state = !running ? 'stopped' : paused ? 'paused' : this.state.cut.includes(host.name) ? 'cut' : 'running'
      return host.kind === 'vm'
        ? { name: host.name, kind: 'vm', address: `127.0.0.1:${host.sshPort}`, state, detail: host.kernelRelease }
        : { name: host.name, kind: 'light', address: `${host.address}:22`, state, detail: `pid ${host.pid}` }
    })
  }

  // --- access files --------------------------------------------------------------------------------

  private writeAccess(): void {
    const lines = this.hosts.map((host) =>
      host.kind === 'vm' ? `[127.0.0.1]:${host.sshPort} ${host.hostKey}` : `${host.address} ${host.hostKey}`,
    )
    atomicWrite(this.knownHostsPath, lines.join('\n') + '\n')
    atomicWrite(this.inventoryPath, this.inventory())
  }

  /** An Ansible YAML inventory: hosts grouped by kind, the lab key and known_hosts in every host's vars. */
  private inventory(): string {
    const vms = Object.fromEntries(
      Object.values(this.state.vms).map((h) => [h.name, { ansible_host: '127.0.0.1', ansible_port: h.sshPort }]),
    )
    const light = Object.fromEntries(Object.values(this.state.light).map((h) => [h.name, { ansible_host: h.address }]))
    const inventory = {
      all: {
        vars: {
          ansible_user: 'root',
          ansible_ssh_private_key_file: labKeyPath(),
          ansible_ssh_common_args: `-o UserKnownHostsFile=${this.knownHostsPath} -o StrictHostKeyChecking=yes`,
          ansible_python_interpreter: '/usr/bin/python3',
        },
        children: {
          vms: { hosts: vms },
          light: { hosts: light },
          ...Object.fromEntries(
            Object.entries(this.state.groups ?? {}).map(([group, { hosts, vars }]) => [
              group,
              {
                hosts: Object.fromEntries(
                  hosts.filter((h) => this.state.vms[h] || this.state.light[h]).map((h) => [h, null]),
                ),
                ...(vars ? { vars } : {}),
              },
            ]),
          ),
        },
      },
    }
    return `# Written by \`npm run lab -- up\`: the lab's hosts, grouped by kind.\n${stringify(inventory, { lineWidth: 0 })}`
  }
}

// Labs to take down if the process is interrupted; a second signal exits at once.
const labsToDown = new Set<Lab>()
let interrupted = false

function downOnSignal(lab: Lab): void {
  if (labsToDown.size === 0) {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      process.on(sig, () => {
        const code = sig === 'SIGINT' ? 130 : 143
        if (interrupted) process.exit(code)
        interrupted = true
        process.stderr.write(`lab: ${sig}: taking the lab down\n`)
        void Promise.allSettled([...labsToDown].map((l) => l.down())).then(() => process.exit(code))
      })
    }
  }
  labsToDown.add(lab)
}

export function lightName(index: number): string {
  return `light${String(index).padStart(2, '0')}`
}

function atomicWrite(path: string, text: string): void {
  mkdirSync(join(path, '..'), { recursive: true })
  const tmp = `${path}.tmp${process.pid}`
  writeFileSync(tmp, text)
  renameSync(tmp, path)
}

function readTail(path: string, lines = 20): string {
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').slice(-lines).join('\n') : ''
}
