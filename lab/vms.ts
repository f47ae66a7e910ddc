// VM hosts: QEMU (KVM when a probe proved it works, TCG otherwise: see accel.ts) on copy-on-write overlays
// of a cached image.
// eth0 is user networking, restricted so the guest reaches nothing and only the SSH forward on a
// 127.0.0.1 port gets in; eth1 sits on the lab's VDE switch, the layer-2 segment the VMs share.
import { spawn } from 'node:child_process'
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { createConnection, createServer } from 'node:net'
import { createHash } from 'node:crypto'
import { basename, join } from 'node:path'
import { $, quote } from 'zx'
import { kernelBanner, type Accel } from './accel.ts'
import { cacheDir, type Image } from './images.ts'
import { alive, sleep, terminate, waitGone } from './procs.ts'

export interface VmHost {
  kind: 'vm'
  name: string
  image: string
  kernelRelease: string
  hostKey: string
  sshPort: number
  mac: string
  pid: number
  dir: string
  /** Extra forwards from 127.0.0.1: guest TCP port → host port. */
  forwards?: Record<string, number>
  /** Resumed from a boot snapshot (see bootSnapshot) rather than booted: its console starts empty. */
  resumed?: boolean
}

export interface Segment {
  pid: number
  sock: string
}

/** Starts the lab's VDE switch unless it runs already. */
export async function ensureSegment(labDir: string, current: Segment | undefined): Promise<Segment> {
  if (current && alive(current.pid)) return current
  const sock = join(labDir, 'segment')
  const pidFile = join(labDir, 'segment.pid')
  rmSync(sock, { recursive: true, force: true })
  rmSync(pidFile, { force: true })
  await $`vde_switch --sock ${sock} --pidfile ${pidFile} --daemon --mod 700`
  for (let i = 0; i < 50 && !existsSync(pidFile); i++) await sleep(100)
  return { pid: Number(readFileSync(pidFile, 'utf8').trim()), sock }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      )
    })
  })
}

/**
 * Boots a VM (its overlay is kept across restarts, so a killed VM comes back with its disk). QEMU runs
 * detached with its own stderr in qemu.log (an abort such as KVM's MSR assertion is kept there, where
 * -daemonize would send it to /dev/null) and its command line in qemu.cmdline, for error messages.
 */
export async function bootVm(
  host: Omit<VmHost, 'pid'>,
  image: Image,
  segment: Segment,
  accel: Accel,
  kernelArgs = '',
  snapshot?: string,
): Promise<VmHost> {
  mkdirSync(host.dir, { recursive: true })
  const disk = join(host.dir, 'disk.qcow2')
  // A new VM resumes the boot snapshot when there is one; a VM that has a disk (restarted after a kill) boots.
  const resume = snapshot !== undefined && !existsSync(disk) && existsSync(snapshot)
  if (resume) copyFileSync(snapshot, disk)
  else if (!existsSync(disk)) await $`qemu-img create -q -f qcow2 -b ${image.disk} -F qcow2 ${disk}`
  const pidFile = join(host.dir, 'qemu.pid')
  rmSync(pidFile, { force: true })
  rmSync(join(host.dir, 'console.log'), { force: true })
  // no_timer_check: under TCG on a loaded machine the kernel's IO-APIC timer check can miss its ticks and
  // panic ("IO-APIC + timer doesn't work!"); the check proves nothing about an emulated timer anyway.
  // loglevel=6 rather than quiet: the kernel's banner (a notice) must reach the console, so that a guest that
  // never starts is told apart from one that boots slowly.
  const append =
    `root=/dev/vda rw console=ttyS0 net.ifnames=0 loglevel=6 mitigations=off no_timer_check systemd.hostname=${host.name} ${kernelArgs}`.trim()
  const args = [
    '-name',
    host.name,
    '-machine',
    `q35,accel=${accel}`,
    '-cpu',
    'max',
    '-smp',
    '1',
    '-m',
    '1024',
    '-kernel',
    image.kernel,
    '-initrd',
    image.initrd,
    '-append',
    append,
    '-drive',
    `file=${disk},if=virtio,cache=unsafe`,
    '-netdev',
    [
      `user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:${host.sshPort}-:22`,
      ...Object.entries(host.forwards ?? {}).map(([guest, port]) => `hostfwd=tcp:127.0.0.1:${port}-:${guest}`),
    ].join(','),
    '-device',
    'virtio-net-pci,netdev=n0',
    '-netdev',
    `vde,id=n1,sock=${segment.sock}`,
    '-device',
    `virtio-net-pci,netdev=n1,mac=${host.mac}`,
    '-display',
    'none',
    '-serial',
    `file:${join(host.dir, 'console.log')}`,
    '-monitor',
    `unix:${join(host.dir, 'monitor.sock')},server,nowait`,
    '-pidfile',
    pidFile,
    ...(resume ? ['-loadvm', snapshotTag] : []),
  ]
  writeFileSync(join(host.dir, 'qemu.cmdline'), ['qemu-system-x86_64', ...args].map(quote).join(' ') + '\n')
  const log = openSync(join(host.dir, 'qemu.log'), 'w')
  const child = spawn('qemu-system-x86_64', args, { detached: true, stdio: ['ignore', log, log] })
  closeSync(log)
  child.unref()
  let ended: string | undefined
  child.once('exit', (code, sig) => (ended = sig ?? `code ${code}`))
  child.once('error', (err) => (ended = err.message))
  const failed = (how: string) => new Error(`${host.name}: QEMU ${how}\n${vmDiagnostics(host)}`)
  // QEMU writes its pid file once its devices are set up; an error before that ends the process.
  for (const end = Date.now() + 30_000; !existsSync(pidFile); await sleep(50)) {
    if (ended !== undefined) throw failed(`exited (${ended})`)
    if (Date.now() > end) {
      child.kill('SIGKILL')
      throw failed('wrote no pid file within 30 s')
    }
  }
  // The pid file comes before the kernel is loaded: a kernel QEMU cannot load ends it just after.
  await sleep(1000)
  if (ended !== undefined) throw failed(`exited (${ended})`)
  return { ...host, pid: child.pid!, ...(resume ? { resumed: true } : {}) }
}

// --- boot snapshots ----------------------------------------------------------------------------------------
// A TCG boot costs a minute or more, and every VM suite of the tests needs freshly booted VMs. So the first
// boot of an image (with given kernel arguments and accelerator) is saved once it answers SSH: QEMU's savevm
// into its overlay, which is then copied aside. Later labs copy that overlay and start QEMU with -loadvm:
// the same just-booted guest (disk, memory, devices) in seconds, each lab on its own copy. Only the clock
// needs care: the guest resumes at the time of the snapshot (Lab sets it). Host-side settings (ports, the
// VDE socket) are not part of a snapshot; the guest-visible devices (MACs, memory, CPUs) are, and are the
// same for every lab.

const snapshotTag = 'booted'

/** Where the boot snapshot of `image` under these settings is kept (it may not exist yet). */
export function bootSnapshot(image: Image, accel: Accel, kernelArgs: string): string {
  const key = createHash('sha256')
    .update(JSON.stringify([image.dir, image.disk, accel, kernelArgs]))
    .digest('hex')
  return join(cacheDir(), 'snapshots', `${basename(image.dir)}-${key.slice(0, 16)}.qcow2`)
}

/** Snapshots whose image was rebuilt (pruned from the cache) are dead weight. */
function pruneSnapshots(dir: string): void {
  const images = new Set(existsSync(join(cacheDir(), 'images')) ? readdirSync(join(cacheDir(), 'images')) : [])
  for (const file of readdirSync(dir))
    if (![...images].some((image) => file.startsWith(`${image}-`))) rmSync(join(dir, file), { force: true })
}

/** Saves the running VM as the boot snapshot: paused while QEMU writes it and its overlay is copied aside. */
export async function saveBootSnapshot(host: VmHost, to: string): Promise<void> {
  mkdirSync(join(to, '..'), { recursive: true })
  const tmp = `${to}.${process.pid}.tmp`
  await monitor(host, 'stop', { wait: true })
  try {
    const said = await monitor(host, `savevm ${snapshotTag}`, { wait: true, timeoutMs: 120_000 })
    if (/error|fail/i.test(said)) throw new Error(`${host.name}: savevm: ${said.trim()}`)
    copyFileSync(join(host.dir, 'disk.qcow2'), tmp)
    renameSync(tmp, to)
    pruneSnapshots(join(to, '..'))
  } finally {
    rmSync(tmp, { force: true })
    await monitor(host, 'cont', { wait: true })
  }
}

/** Asks the guest to power off, and ends QEMU if it has not within the grace period. */
export async function stopVm(host: VmHost, graceMs = 20_000): Promise<void> {
  if (!alive(host.pid)) return
  await monitor(host, 'system_powerdown').catch(() => '')
  if (!(await waitGone(host.pid, graceMs))) await terminate(host.pid, 5000)
}

/**
 * Sends one command to the VM's QEMU human monitor. With `wait`, resolves once the monitor prompts again (the
 * command is done) with what it printed; otherwise as soon as the command is sent.
 */
function monitor(
  host: VmHost,
  command: string,
  { wait = false, timeoutMs = 5000 }: { wait?: boolean; timeoutMs?: number } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(join(host.dir, 'monitor.sock'))
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`monitor: ${command}: no answer in ${timeoutMs} ms`)))
    socket.once('error', reject)
    let said = ''
    let sent = false
    socket.on('data', (chunk: Buffer) => {
      if (!sent) {
        sent = true
        return void socket.write(`${command}\n`, () => (wait ? undefined : socket.end(() => resolve(''))))
      }
      said += chunk.toString()
      // The monitor echoes the command, then prints its output and a new prompt.
      const after = said.slice(said.indexOf(command) + command.length)
      if (wait && said.includes(command) && after.includes('(qemu)')) {
        socket.end()
        resolve(after.replace(/\(qemu\)\s*$/, '').replace(/\x1b\[[0-9;]*[A-Za-z]/g, ''))
      }
    })
  })
}

/** True once the guest kernel has panicked: no point waiting for its sshd. */
export function panicked(host: VmHost): boolean {
  const path = join(host.dir, 'console.log')
  return existsSync(path) && readFileSync(path, 'utf8').includes('Kernel panic')
}

export function consoleTail(host: Pick<VmHost, 'dir'>, lines = 30): string {
  const path = join(host.dir, 'console.log')
  if (!existsSync(path)) return '(no console output)'
  return readFileSync(path, 'utf8').split('\n').slice(-lines).join('\n')
}

/** The QEMU command line, its own messages and the console's tail: what a failed boot needs to be understood. */
export function vmDiagnostics(host: Pick<VmHost, 'dir'>): string {
  const read = (file: string) =>
    existsSync(join(host.dir, file)) ? readFileSync(join(host.dir, file), 'utf8').trim() : ''
  const qemuLog = read('qemu.log')
  return [
    `command: ${read('qemu.cmdline') || '(not recorded)'}`,
    qemuLog ? `qemu said:\n${qemuLog.split('\n').slice(-10).join('\n')}` : 'qemu said nothing',
    `console (last lines):\n${consoleTail(host, 20)}`,
  ].join('\n')
}

/** True once the guest kernel has printed its first line: the proof that the guest really runs. */
export function bannerSeen(host: Pick<VmHost, 'dir'>): boolean {
  const path = join(host.dir, 'console.log')
  return existsSync(path) && kernelBanner.test(readFileSync(path, 'utf8'))
}
