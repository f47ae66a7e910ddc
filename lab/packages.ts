// The Debian packages the lab, the tests and the demo need: lab/setup.sh holds the one list, says which
// of them are missing (`--missing`) and installs them. Done on first use, saying so; `npm run setup` stays for
// those who want them up front.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const setupScript = fileURLToPath(new URL('setup.sh', import.meta.url))

export function missingPackages(): string[] {
  const result = spawnSync('bash', [setupScript, '--missing'], { encoding: 'utf8' })
  if (result.status !== 0) throw new Error(`lab/setup.sh --missing failed: ${result.stderr.trim()}`)
  return result.stdout.split('\n').filter(Boolean)
}

/** Installs the Debian packages when something is missing; throws with what to do when that is not possible. */
export function ensurePackages(log: (line: string) => void): void {
  const missing = missingPackages()
  if (missing.length === 0) return
  if (process.getuid?.() !== 0) {
    throw new Error(
      `missing ${missing.join(', ')}: run \`sudo npm run setup\` once (it installs the Debian packages), or run as root`,
    )
  }
  log(
    `first run on this machine: installing the Debian packages the lab needs (missing: ${missing.join(', ')}) with lab/setup.sh`,
  )
  const result = spawnSync('bash', [setupScript], { stdio: ['ignore', 'inherit', 'inherit'] })
  if (result.status !== 0)
    throw new Error(`lab/setup.sh failed (exit ${result.status ?? result.signal}); see its output above`)
  const still = missingPackages()
  if (still.length > 0) throw new Error(`still missing after lab/setup.sh: ${still.join(', ')}`)
}
