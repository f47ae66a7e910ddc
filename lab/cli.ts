// npm run lab -- up [--vms debian12,debian13] [--light 20] | status | down | ssh NAME [COMMAND]
//                 | stop|kill|pause|resume|cut|restore NAME
import { spawnSync } from 'node:child_process'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { Lab, vmNames } from './lab.ts'
import { recordFacts } from './record-facts.ts'

const usage = `Usage: npm run lab -- COMMAND [options]

  up [--vms LIST] [--light N]   bring the lab up (idempotent). With neither flag: the VMs ${vmNames.join(', ')}.
                                --vms none stops every VM; --light 0 stops every light host.
  status                        one line per host: name, kind, address, state
  down                          end every lab process and remove its mounts, overlays and files
  ssh NAME [COMMAND...]         open a shell on a host (or run COMMAND), host key checked
  stop|kill|pause|resume NAME   fault controls: clean stop, power cut, SIGSTOP, SIGCONT
  cut|restore NAME              drop / allow packets to the host's SSH port
  record-facts [--hosts LIST] [--facts LIST]
                                record what every fact (or the named ones) prints on the lab's hosts into
                                test/facts/fixtures/

Environment: HBMON_LAB_DIR (state, default lab/.run), HBMON_LAB_CACHE (images, default
~/.cache/hbmon-lab), HBMON_LAB_NET (light hosts' /24, default 127.0.0), HBMON_LAB_ACCEL (kvm or tcg:
force QEMU's accelerator; by default KVM is used only after a probe boot shows that it works here).
`

const { values, positionals } = parseArgs({
  allowPositionals: true,
  strict: true,
  options: {
    vms: { type: 'string' },
    light: { type: 'string' },
    hosts: { type: 'string' },
    facts: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
})

const [command, name, ...rest] = positionals
const lab = new Lab({ log: (line) => process.stderr.write(`lab: ${line}\n`), downOnSignal: false })

function needName(): string {
  if (!name) throw new Error(`${command} needs a host name`)
  return name
}

async function main(): Promise<number> {
  if (values.help || !command) {
    process.stdout.write(usage)
    return command || values.help ? 0 : 4
  }
  switch (command) {
    case 'up': {
      const vms =
        values.vms === undefined
          ? values.light === undefined
            ? vmNames
            : undefined
          : values.vms === 'none'
            ? []
            : values.vms.split(',').filter(Boolean)
      const light = values.light === undefined ? undefined : Number(values.light)
      if (light !== undefined && !Number.isInteger(light))
        throw new Error(`--light takes a whole number, got ${values.light}`)
      const started = Date.now()
      await lab.up({ vms, light })
      process.stderr.write(
        `lab: up in ${((Date.now() - started) / 1000).toFixed(1)} s; inventory ${lab.inventoryPath}\n`,
      )
      printStatus()
      return 0
    }
    case 'status':
      printStatus()
      return 0
    case 'down':
      await lab.down()
      process.stderr.write('lab: down\n')
      return 0
    case 'ssh': {
      const args = await lab.sshArgs(needName())
      const tty = rest.length === 0 && process.stdin.isTTY ? ['-t'] : []
      return spawnSync('ssh', [...tty, ...args, ...rest], { stdio: 'inherit' }).status ?? 255
    }
    case 'stop':
      await lab.stop(needName())
      return 0
    case 'kill':
      await lab.kill(needName())
      return 0
    case 'pause':
      await lab.pause(needName())
      return 0
    case 'resume':
      await lab.resume(needName())
      return 0
    case 'cut':
      await lab.cut(needName())
      return 0
    case 'restore':
      await lab.restore(needName())
      return 0
    case 'record-facts': {
      const out = fileURLToPath(new URL('../test/facts/fixtures/', import.meta.url))
      const written = await recordFacts(
        lab.inventoryPath,
        out,
        values.hosts?.split(',').filter(Boolean),
        values.facts?.split(',').filter(Boolean),
      )
      process.stderr.write(`lab: ${written.length} fixtures written under ${out}\n`)
      return 0
    }
    default:
      process.stderr.write(`unknown command ${command}\n\n${usage}`)
      return 4
  }
}

function printStatus(): void {
  const accel = lab.accel
  if (accel) process.stdout.write(`accelerator: ${accel.accel} (${accel.reason})\n`)
  const rows = lab.status()
  if (rows.length === 0) {
    process.stdout.write('no lab hosts\n')
    return
  }
  for (const row of rows) {
    process.stdout.write(
      `${row.name.padEnd(10)} ${row.kind.padEnd(6)} ${row.address.padEnd(16)} ${row.state.padEnd(8)} ${row.detail}\n`,
    )
  }
}

try {
  process.exitCode = await main()
} catch (err) {
  process.stderr.write(`lab: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exitCode = 1
}
