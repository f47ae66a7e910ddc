// npm run demo [-- --down]: the main job on the local lab. Brings up the two VMs (Debian 12 and 13), rolls
// hbmon out with `npx deploy`, shows the status table, then makes a demo application hang on one VM and shows
// the event arriving: the signal, the line in /var/log/hbmon.log, and the frame at hbmon-listen on the other VM.
// The lab stays up afterwards (`npm run lab -- ssh debian12`, `npm run lab -- down`) unless --down is given.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Lab, vmNames } from './lab.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))
const takeDown = process.argv.includes('--down')
const [app, monitor] = vmNames as [string, string]
const lab = new Lab({ log: (line) => console.log(`lab: ${line}`) })

const step = (title: string) => console.log(`\n=== ${title}\n`)

function deploy(args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [`${root}/bin/deploy.js`, ...args], { cwd: root, stdio: 'inherit' })
    child.on('close', (code) => resolve(code ?? 1))
  })
}

async function main(): Promise<number> {
  step(`Lab: ${vmNames.join(' and ')} (QEMU; images are built on first use, which takes a few minutes)`)
  await lab.up({ vms: vmNames })
  for (const row of lab.status()) console.log(`${row.name.padEnd(10)} ${row.address.padEnd(16)} ${row.detail}`)

  step(`npx deploy -i ${lab.inventoryPath} --limit vms -e hbmon_iface=eth1`)
  const deployed = await deploy(['-i', lab.inventoryPath, '--limit', 'vms', '-e', 'hbmon_iface=eth1'])
  if (deployed !== 0) return deployed

  step('npx deploy playbooks/status.yml')
  const status = await deploy(['-i', lab.inventoryPath, '--limit', 'vms', 'playbooks/status.yml'])
  if (status !== 0) return status

  step(`A demo application on ${app} stops beating; the health monitor listens on ${monitor}`)
  const listening = lab.ssh(monitor, 'hbmon-listen -i eth1 --type hang --count 1 --timeout 60')
  await new Promise((resolve) => setTimeout(resolve, 3000)) // the listener's socket is bound
  const demo = await lab.ssh(app, 'hbctl demo --timeout 1000 --hang-after 3 --signal SIGTERM --l2 --helper --name demo-app')
  console.log(`${app}$ hbctl demo --timeout 1000 --hang-after 3 --signal SIGTERM --l2 --helper --name demo-app`)
  process.stdout.write(demo.stdout + demo.stderr)
  console.log(`(exit ${demo.code}: the application died of the signal its supervisor would restart it on)`)

  const log = await lab.ssh(app, 'sleep 1; grep demo-app /var/log/hbmon.log | tail -n 5')
  console.log(`\n${app}$ grep demo-app /var/log/hbmon.log`)
  process.stdout.write(log.stdout)

  const frame = await listening
  console.log(`\n${monitor}$ hbmon-listen -i eth1 --type hang --count 1`)
  process.stdout.write(frame.stdout + frame.stderr)
  return demo.stdout.includes('"signal"') && log.stdout.includes('hang') && frame.code === 0 ? 0 : 1
}

let code = 1
try {
  code = await main()
} catch (err) {
  console.error(`demo: ${err instanceof Error ? err.message : String(err)}`)
} finally {
  if (takeDown) await lab.down()
  else console.log('\nThe lab is still up: `npm run lab -- ssh debian12`, `npm run lab -- status`, `npm run lab -- down`.')
}
process.exit(code)
