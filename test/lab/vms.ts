// VM hosts: QEMU (KVM when /dev/kvm exists, TCG otherwise) on copy-on-write overlays of a cached image.
// eth0 is user networking, restricted so the guest reaches nothing and only the SSH forward on a
// 127.0.0.1 port gets in; eth1 sits on the lab's VDE switch, the layer-2 segment the VMs share.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import { createConnection, createServer } from 'node:net'
import { join } from 'node:path'
import { $ } from 'zx'
import type { Image } from './images.ts'
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
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}

/** Boots a VM (its overlay is kept across restarts, so a killed VM comes back with its disk). */
export async function bootVm(host: Omit<VmHost, 'pid'>, image: Image, segment: Segment): Promise<VmHost> {
  mkdirSync(host.dir, { recursive: true })
  const disk = join(host.dir, 'disk.qcow2')
  if (!existsSync(disk)) await $`qemu-img create -q -f qcow2 -b ${image.disk} -F qcow2 ${disk}`
  const pidFile = join(host.dir, 'qemu.pid')
  rmSync(pidFile, { force: true })
  const accel = existsSync('/dev/kvm') ? 'kvm' : 'tcg'
  // no_timer_check: under TCG on a loaded machine the kernel's IO-APIC timer check can miss its ticks and
  // panic ("IO-APIC + timer doesn't work!"); the check proves nothing about an emulated timer anyway.
  const append = `root=/dev/vda rw console=ttyS0 net.ifnames=0 quiet mitigations=off no_timer_check systemd.hostname=${host.name}`
  const args = [
    '-name', host.name, '-machine', `q35,accel=${accel}`, '-cpu', 'max', '-smp', '1', '-m', '1024',
    '-kernel', image.kernel, '-initrd', image.initrd, '-append', append,
    '-drive', `file=${disk},if=virtio,cache=unsafe`,
    '-netdev', `user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:${host.sshPort}-:22`, '-device', 'virtio-net-pci,netdev=n0',
    '-netdev', `vde,id=n1,sock=${segment.sock}`, '-device', `virtio-net-pci,netdev=n1,mac=${host.mac}`,
    '-display', 'none', '-serial', `file:${join(host.dir, 'console.log')}`,
    '-monitor', `unix:${join(host.dir, 'monitor.sock')},server,nowait`,
    '-pidfile', pidFile, '-daemonize',
  ]
  await $`qemu-system-x86_64 ${args}`
  return { ...host, pid: Number(readFileSync(pidFile, 'utf8').trim()) }
}

/** Asks the guest to power off, and ends QEMU if it has not within the grace period. */
export async function stopVm(host: VmHost, graceMs = 20_000): Promise<void> {
  if (!alive(host.pid)) return
  await monitor(host, 'system_powerdown').catch(() => undefined)
  if (!(await waitGone(host.pid, graceMs))) await terminate(host.pid, 5000)
}

/** Sends one command to the VM's QEMU human monitor. */
function monitor(host: VmHost, command: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(join(host.dir, 'monitor.sock'))
    socket.setTimeout(5000, () => socket.destroy(new Error('monitor timed out')))
    socket.once('error', reject)
    socket.once('data', () => socket.end(`${command}\n`, () => resolve()))
  })
}

/** True once the guest kernel has panicked: no point waiting for its sshd. */
export function panicked(host: VmHost): boolean {
  const path = join(host.dir, 'console.log')
  return existsSync(path) && readFileSync(path, 'utf8').includes('Kernel panic')
}

export function consoleTail(host: VmHost, lines = 30): string {
  const path = join(host.dir, 'console.log')
  if (!existsSync(path)) return '(no console output)'
  return readFileSync(path, 'utf8').split('\n').slice(-lines).join('\n')
}
