// The Debian packages the lab, the tests and the demo need (test/lab/setup.sh installs them): found by the
// commands they bring, and installed on first use, saying so, when any is missing. `npm run setup` stays
// for those who want them up front.
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const setupScript = fileURLToPath(new URL('setup.sh', import.meta.url))

// One path per package of setup.sh (the packages that bring no command of their own are left out).
const needed = [
  '/usr/bin/qemu-system-x86_64', '/usr/bin/qemu-img', '/usr/bin/mmdebstrap', '/usr/sbin/mkfs.ext4',
  '/usr/bin/vde_switch', '/usr/sbin/sshd', '/usr/bin/ssh', '/usr/bin/unshare', '/usr/sbin/ip', '/usr/sbin/nft',
  '/usr/bin/ansible-playbook', '/usr/bin/gcc', '/usr/bin/make', '/usr/bin/sparse', '/usr/bin/python3',
  '/usr/bin/sudo', '/usr/bin/time',
  '/usr/lib/python3/dist-packages/prometheus_client/__init__.py', '/usr/bin/prometheus', '/usr/bin/promtool', '/usr/bin/chromium',
]

export function missingPackages(): string[] {
  const missing = needed.filter((path) => !existsSync(path))
  const headers = existsSync('/usr/src') && readdirSync('/usr/src').some((d) => /^linux-headers-.*-amd64$/.test(d))
  return headers ? missing : [...missing, 'linux-headers-amd64']
}

/** Installs the Debian packages when something is missing; throws with what to do when that is not possible. */
export function ensurePackages(log: (line: string) => void): void {
  const missing = missingPackages()
  if (missing.length === 0) return
  if (process.getuid?.() !== 0) {
    throw new Error(`missing ${missing.join(', ')}: run \`sudo npm run setup\` once (it installs the Debian packages), or run as root`)
  }
  log(`first run on this machine: installing the Debian packages the lab needs (missing: ${missing.join(', ')}) with test/lab/setup.sh`)
  const result = spawnSync('bash', [setupScript], { stdio: ['ignore', 'inherit', 'inherit'] })
  if (result.status !== 0) throw new Error(`test/lab/setup.sh failed (exit ${result.status ?? result.signal}); see its output above`)
  const still = missingPackages()
  if (still.length > 0) throw new Error(`still missing after test/lab/setup.sh: ${still.join(', ')}`)
}
