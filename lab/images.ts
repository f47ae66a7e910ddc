// VM images: built from Debian packages with mmdebstrap, packed with mkfs.ext4 -d (nothing mounted),
// cached outside the repo and keyed by a hash of the recipe, so a changed recipe means a new image.
import { createHash } from 'node:crypto'
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  chmodSync,
  chownSync,
  copyFileSync,
} from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { $ } from 'zx'

export interface ImageRecipe {
  name: string
  suite: string
  packages: string[]
  /**
   * Booted only when asked for by name (not one of the lab's default VMs), e.g. by the one test that needs it.
   */
  onDemand?: boolean
  /**
   * Keep the kernel and its initrd in the image's /boot too (the lab boots copies from the image's directory):
   * a host that lists its installed kernels from /boot, and that the lab reboots from its own /boot.
   */
  keepBoot?: boolean
}

export interface Image {
  name: string
  dir: string
  disk: string
  kernel: string
  initrd: string
  kernelRelease: string
  hostKey: string
}

// What every lab VM carries: a kernel with matching headers and a toolchain (the module is built on the
// host, as DKMS would), sshd, rsyslog and logrotate (what hbmon installs into), python3 for Ansible,
// sudo for the become tests, sparse for compile checks against the VM's own headers.
const basePackages = [
  'gcc',
  'make',
  'libc6-dev',
  'sparse',
  'openssh-server',
  'rsyslog',
  'logrotate',
  'kmod',
  'systemd-sysv',
  'udev',
  'iproute2',
  'python3',
  'sudo',
]

// Installed last, once everything else is configured: in one apt run, dpkg may configure the kernel (and
// run the initramfs hooks) before a hook's own tools are usable (seen: dmsetup's hook failing with 127).
const kernelPackages = ['linux-image-amd64', 'linux-headers-amd64']

// A small initramfs with just what a QEMU virtio guest needs to mount its root: quicker to build and to boot.
const initramfsHook = [
  'mkdir -p "$1/etc/initramfs-tools/conf.d"',
  'echo MODULES=list > "$1/etc/initramfs-tools/conf.d/hbmon-lab.conf"',
  'printf "virtio_pci\\nvirtio_blk\\next4\\n" >> "$1/etc/initramfs-tools/modules"',
  `chroot "$1" apt-get install -y -q ${kernelPackages.join(' ')}`,
].join(' && ')

export const recipes: Record<string, ImageRecipe> = {
  debian12: { name: 'debian12', suite: 'bookworm', packages: basePackages },
  debian13: { name: 'debian13', suite: 'trixie', packages: basePackages },
  // test/slow/kernels.test.ts: a bookworm host that gets a second kernel package and reboots between them.
  kernels: { name: 'kernels', suite: 'bookworm', packages: basePackages, onDemand: true, keepBoot: true },
}

// Bump when customize() changes what it writes into the tree.
const customizeVersion = 5

export function cacheDir(): string {
  return process.env.HBMON_LAB_CACHE ?? join(homedir(), '.cache', 'hbmon-lab')
}

export function labKeyPath(): string {
  return join(cacheDir(), 'lab_ed25519')
}

/**
 * The lab's SSH key pair, made once per cache: images carry its public half for root and `lab`. One promise
 * per process: both images are built in parallel on a fresh machine, and two callers that each made a key
 * would bake different keys into the two images (one VM then refuses the key that ended up on disk).
 */
export function labKey(): Promise<{ privateKey: string; publicKey: string }> {
  const path = labKeyPath()
  let made = labKeys.get(path)
  if (!made) labKeys.set(path, (made = makeLabKey()))
  return made
}

const labKeys = new Map<string, Promise<{ privateKey: string; publicKey: string }>>()

async function makeLabKey(): Promise<{ privateKey: string; publicKey: string }> {
  mkdirSync(cacheDir(), { recursive: true })
  const privateKey = labKeyPath()
  if (!existsSync(privateKey)) {
    const tmp = `${privateKey}.tmp${process.pid}`
    rmSync(tmp, { force: true })
    rmSync(`${tmp}.pub`, { force: true })
    await $`ssh-keygen -q -t ed25519 -N ${''} -C hbmon-lab -f ${tmp}`
    renameSync(`${tmp}.pub`, `${privateKey}.pub`)
    renameSync(tmp, privateKey)
  }
  return { privateKey, publicKey: readFileSync(`${privateKey}.pub`, 'utf8').trim() }
}

export function recipeHash(recipe: ImageRecipe, publicKey: string): string {
  const text = JSON.stringify({ ...recipe, publicKey, customizeVersion, kernelPackages, initramfsHook })
  return createHash('sha256').update(text).digest('hex').slice(0, 16)
}

function imageFromDir(name: string, dir: string): Image {
  const meta = JSON.parse(readFileSync(join(dir, 'image.json'), 'utf8')) as { kernelRelease: string; hostKey: string }
  return {
    name,
    dir,
    disk: join(dir, 'root.qcow2'),
    kernel: join(dir, 'vmlinuz'),
    initrd: join(dir, 'initrd.img'),
    kernelRelease: meta.kernelRelease,
    hostKey: meta.hostKey,
  }
}

/** Returns the cached image for the recipe, building it first when the recipe changed or it is missing. */
export async function ensureImage(recipe: ImageRecipe, log: (line: string) => void): Promise<Image> {
  const { publicKey } = await labKey()
  const hash = recipeHash(recipe, publicKey)
  const dir = join(cacheDir(), 'images', `${recipe.name}-${hash}`)
  if (existsSync(join(dir, 'image.json'))) return imageFromDir(recipe.name, dir)

  const work = `${dir}.building`
  rmSync(work, { recursive: true, force: true })
  mkdirSync(work, { recursive: true })
  const started = Date.now()
  const say = (line: string) => log(`${recipe.name}: ${line} (${Math.round((Date.now() - started) / 1000)} s)`)
  try {
    const root = join(work, 'root')
    say(`building from Debian ${recipe.suite} with mmdebstrap`)
    const build =
      $`mmdebstrap --variant=apt --include=${recipe.packages.join(',')} --customize-hook=${initramfsHook} ${recipe.suite} ${root}`
        .quiet()
        .nothrow()
    for await (const line of build.stderr) {
      for (const l of String(line).split('\n')) if (l.startsWith('I: ') || l.startsWith('E: ')) say(l.slice(3))
    }
    const result = await build
    if (result.exitCode !== 0) throw new Error(`mmdebstrap ${recipe.suite} failed:\n${result.stderr.slice(-3000)}`)

    const kernelRelease = customize(root, publicKey)
    // systemd-networkd brings eth0 up by DHCP without ifupdown's wait for udev to settle (~30 s in TCG);
    // timers that would compete for the VM's one emulated CPU during tests are masked.
    await $`chroot ${root} systemctl enable systemd-networkd.service`.quiet()
    await $`chroot ${root} systemctl mask systemd-networkd-wait-online.service apt-daily.timer apt-daily-upgrade.timer man-db.timer e2scrub_all.timer fstrim.timer`.quiet()
    say(`packing kernel ${kernelRelease} into an ext4 image`)
    const take = recipe.keepBoot ? copyFileSync : renameSync
    take(join(root, 'boot', `vmlinuz-${kernelRelease}`), join(work, 'vmlinuz'))
    take(join(root, 'boot', `initrd.img-${kernelRelease}`), join(work, 'initrd.img'))
    const hostKey = readFileSync(join(root, 'etc/ssh/ssh_host_ed25519_key.pub'), 'utf8')
      .trim()
      .split(' ')
      .slice(0, 2)
      .join(' ')
    const raw = join(work, 'root.raw')
    await $`mkfs.ext4 -q -F -L hbmon-root -d ${root} ${raw} 8G`
    await $`qemu-img convert -O qcow2 ${raw} ${join(work, 'root.qcow2')}`
    rmSync(raw)
    rmSync(root, { recursive: true, force: true })
    writeFileSync(
      join(work, 'image.json'),
      JSON.stringify({ recipe, kernelRelease, hostKey, builtAt: new Date().toISOString() }, null, 2),
    )
    rmSync(dir, { recursive: true, force: true })
    renameSync(work, dir)
    say('image ready')
  } catch (err) {
    rmSync(work, { recursive: true, force: true })
    throw err
  }
  pruneOld(recipe.name, dir)
  return imageFromDir(recipe.name, dir)
}

// Older builds of the same image are dead weight once the recipe moved on.
function pruneOld(name: string, keep: string): void {
  const images = join(cacheDir(), 'images')
  for (const entry of readdirSync(images)) {
    const path = join(images, entry)
    if (entry.startsWith(`${name}-`) && path !== keep && !entry.endsWith('.building'))
      rmSync(path, { recursive: true, force: true })
  }
}

function write(root: string, path: string, text: string, mode = 0o644): void {
  const full = join(root, path)
  mkdirSync(join(full, '..'), { recursive: true })
  writeFileSync(full, text)
  chmodSync(full, mode)
}

/** Makes the tree bootable and reachable; returns the kernel release it carries. */
function customize(root: string, publicKey: string): string {
  write(root, 'etc/fstab', '/dev/vda / ext4 errors=remount-ro 0 1\n')
  write(root, 'etc/hostname', 'hbmon-lab\n')
  write(root, 'etc/hosts', '127.0.0.1 localhost\n')
  // eth0: QEMU user networking (SSH port forward only). eth1: the lab's layer-2 segment, up, no address.
  write(root, 'etc/systemd/network/10-eth0.network', '[Match]\nName=eth0\n\n[Network]\nDHCP=ipv4\n')
  write(
    root,
    'etc/systemd/network/20-eth1.network',
    [
      '[Match]',
      'Name=eth1',
      '',
      '[Link]',
      'RequiredForOnline=no',
      '',
      '[Network]',
      'LinkLocalAddressing=no',
      'IPv6AcceptRA=no',
      'ConfigureWithoutCarrier=yes',
      '',
    ].join('\n'),
  )
  write(root, 'root/.ssh/authorized_keys', `${publicKey}\n`, 0o600)
  chmodSync(join(root, 'root/.ssh'), 0o700)
  // A non-root user for the become (sudo) tests.
  appendLine(root, 'etc/passwd', 'lab:x:1000:1000:hbmon lab:/home/lab:/bin/bash')
  appendLine(root, 'etc/group', 'lab:x:1000:')
  appendLine(root, 'etc/shadow', 'lab:!:19000:0:99999:7:::')
  write(root, 'home/lab/.ssh/authorized_keys', `${publicKey}\n`, 0o600)
  for (const path of ['home/lab', 'home/lab/.ssh', 'home/lab/.ssh/authorized_keys'])
    chownSync(join(root, path), 1000, 1000)
  chmodSync(join(root, 'home/lab/.ssh'), 0o700)
  write(root, 'etc/sudoers.d/lab', 'lab ALL=(ALL) NOPASSWD: ALL\n', 0o440)
  write(root, 'etc/ssh/sshd_config.d/lab.conf', 'UseDNS no\nPasswordAuthentication no\nMaxStartups 100:30:200\n')
  const releases = readdirSync(join(root, 'lib/modules'))
  if (releases.length !== 1) throw new Error(`expected one kernel in the image, found ${releases.join(', ')}`)
  return releases[0]!
}

function appendLine(root: string, path: string, line: string): void {
  const full = join(root, path)
  const text = readFileSync(full, 'utf8')
  if (!text.split('\n').includes(line))
    writeFileSync(full, text.endsWith('\n') ? `${text}${line}\n` : `${text}\n${line}\n`)
}
