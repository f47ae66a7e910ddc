// Light hosts: one sshd each, in its own mount, UTS and PID namespace, chrooted into an overlay of /
// (its own /etc, /var and hostname), listening on its own loopback address, port 22.
// The overlays' upper layers live on a tmpfs the lab mounts: overlayfs refuses an upper layer that sits
// inside its lower one, and / is the lower layer here.
import { spawn } from 'node:child_process'
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readlinkSync,
  readdirSync,
  rmSync,
  writeFileSync,
  chmodSync,
} from 'node:fs'
import { join } from 'node:path'
import { $ } from 'zx'
import { alive, signal, sleep } from './procs.ts'

export interface LightHost {
  kind: 'light'
  name: string
  address: string
  hostKey: string
  pid: number
  dir: string
}

// Runs as PID 1 of the new PID namespace; sshd replaces it, so when sshd ends the namespace and its
// mounts go with it.
const hostScript = `
set -eu
dir=$1 name=$2
mkdir -p "$dir/merged"
mount -t overlay overlay -o "lowerdir=/,upperdir=$dir/upper,workdir=$dir/work" "$dir/merged"
mount -t proc proc "$dir/merged/proc"
mount --rbind /dev "$dir/merged/dev"
mount -t tmpfs -o mode=755 tmpfs "$dir/merged/run"
mkdir -p "$dir/merged/run/sshd"
mount -t tmpfs -o mode=1777 tmpfs "$dir/merged/tmp"
hostname "$name"
exec chroot "$dir/merged" /usr/sbin/sshd -D -e -f /etc/ssh/sshd_config
`

export async function ensureLightFs(base: string): Promise<void> {
  mkdirSync(base, { recursive: true })
  if (!(await isMountPoint(base))) await $`mount -t tmpfs -o mode=700 hbmon-lab-light ${base}`
}

export async function isMountPoint(path: string): Promise<boolean> {
  return (await $`mountpoint -q ${path}`.nothrow()).exitCode === 0
}

function write(path: string, text: string, mode = 0o644): void {
  mkdirSync(join(path, '..'), { recursive: true })
  writeFileSync(path, text)
  chmodSync(path, mode)
}

/** Prepares the upper layer (hostname, sshd config and host key, a clean root home) and starts sshd. */
export async function startLight(host: Omit<LightHost, 'pid' | 'hostKey'>, publicKey: string): Promise<LightHost> {
  const upper = join(host.dir, 'upper')
  mkdirSync(join(host.dir, 'work'), { recursive: true })
  const hostKeyFile = join(upper, 'etc/ssh/ssh_host_ed25519_key')
  if (!existsSync(hostKeyFile)) {
    mkdirSync(join(upper, 'etc/ssh'), { recursive: true })
    await $`ssh-keygen -q -t ed25519 -N ${''} -C ${host.name} -f ${hostKeyFile}`
    write(join(upper, 'etc/hostname'), `${host.name}\n`)
    write(join(upper, 'etc/hosts'), `127.0.0.1 localhost\n${host.address} ${host.name}\n`)
    write(
      join(upper, 'etc/ssh/sshd_config'),
      [
        `ListenAddress ${host.address}:22`,
        'HostKey /etc/ssh/ssh_host_ed25519_key',
        'PermitRootLogin prohibit-password',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        // PAM's session modules expect a real login environment that a namespace does not give.
        'UsePAM no',
        'UseDNS no',
        'PrintMotd no',
        'MaxStartups 200:30:400',
        'LogLevel VERBOSE',
        'PidFile /run/sshd.pid',
        'Subsystem sftp internal-sftp',
        '',
      ].join('\n'),
    )
    // A clean root home: the machine's own dotfiles (a pyenv init, say) would slow every command.
    write(join(upper, 'root/.bashrc'), '# hbmon lab light host\n')
    write(join(upper, 'root/.profile'), '# hbmon lab light host\n')
    write(join(upper, 'root/.ssh/authorized_keys'), `${publicKey}\n`, 0o600)
    chmodSync(join(upper, 'root/.ssh'), 0o700)
  }
  const hostKey = readFileSync(`${hostKeyFile}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ')
  const log = openSync(join(host.dir, 'sshd.log'), 'a')
  const child = spawn(
    'unshare',
    [
      '--mount',
      '--uts',
      '--pid',
      '--fork',
      '--kill-child=SIGTERM',
      '--propagation',
      'private',
      'bash',
      '-c',
      hostScript,
      'light-host',
      host.dir,
      host.name,
    ],
    { detached: true, stdio: ['ignore', log, log] },
  )
  child.unref()
  closeSync(log)
  if (!child.pid) throw new Error(`${host.name}: could not start unshare`)
  return { ...host, hostKey, pid: child.pid }
}

/** The pids of every process inside the light host's PID namespace (sshd and its sessions). */
export function namespacePids(host: LightHost): number[] {
  const init = childOf(host.pid)
  if (!init) return []
  const ns = pidNamespace(init)
  if (!ns) return []
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry)
    if (pid > 0 && pidNamespace(pid) === ns) pids.push(pid)
  }
  return pids
}

function childOf(pid: number): number | undefined {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/)
    return children[0] ? Number(children[0]) : undefined
  } catch {
    return undefined
  }
}

function pidNamespace(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`)
  } catch {
    return undefined
  }
}

/** Ends the host: SIGTERM to unshare, which passes it to sshd (PID 1 of the namespace). */
export async function stopLight(host: LightHost, kill = false): Promise<void> {
  if (!alive(host.pid)) return
  if (kill) for (const pid of namespacePids(host)) signal(pid, 'SIGKILL')
  signal(host.pid, kill ? 'SIGKILL' : 'SIGTERM')
  for (let i = 0; i < 100 && alive(host.pid); i++) await sleep(50)
  if (alive(host.pid)) {
    for (const pid of namespacePids(host)) signal(pid, 'SIGKILL')
    signal(host.pid, 'SIGKILL')
    for (let i = 0; i < 100 && alive(host.pid); i++) await sleep(50)
  }
}

export function removeLight(host: LightHost): void {
  rmSync(host.dir, { recursive: true, force: true })
}
