// npm run demo [-- --down]: the main job on the local lab. Brings up the two VMs (Debian 12 and 13), rolls
// hbmon out with `npx deploy`, shows the status table, then makes a demo application hang on one VM and shows
// the event arriving: the signal, the line in /var/log/hbmon.log, and the frame at hbmon-listen on the other VM,
// which also runs the health monitor (playbooks/monitor.yml): the demo ends with its page's URL and a query.
// The application runs as `hbdemo`, a non-root member of the device group the deploy creates (hbmon, /dev/hbmon
// 0660), and the deploy maps its registration name to a systemd unit for that user only (hbmon_units), so the
// root helper restarts hbmon-demo.service after the hang.
// The lab stays up afterwards (`npm run lab -- ssh debian12`, `npm run lab -- down`) unless --down is given.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Lab, vmNames } from './lab.ts'

const root = fileURLToPath(new URL('..', import.meta.url))
const takeDown = process.argv.includes('--down')
const [app, monitor] = vmNames as [string, string]
const pagePort = 9120
const lab = new Lab({
  log: (line) => console.log(`lab: ${line}`),
  forwards: { [monitor]: [pagePort] },
  groups: {
    monitor: { hosts: [monitor], vars: { hbmon_monitor_iface: 'eth1', hbmon_monitor_listen: `10.0.2.15:${pagePort}` } },
  },
})

const step = (title: string) => console.log(`\n=== ${title}\n`)

function deploy(args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [`${root}/bin/deploy.js`, ...args], { cwd: root, stdio: 'inherit' })
    child.on('close', (code) => resolve(code ?? 1))
  })
}

async function main(): Promise<number> {
  step(`Lab: ${vmNames.join(' and ')} (QEMU; images are built on first use, which takes a few minutes)`)
  // A monitor VM left running by an earlier demo without the page's port forward boots again with it.
  const known = lab.hosts.find((h) => h.name === monitor)
  if (
    known?.kind === 'vm' &&
    !known.forwards?.[String(pagePort)] &&
    lab.status().some((r) => r.name === monitor && r.state === 'running')
  ) {
    console.log(`${monitor} runs without a port forward for the monitor's page: restarting it`)
    await lab.stop(monitor)
  }
  await lab.up({ vms: vmNames })
  for (const row of lab.status()) console.log(`${row.name.padEnd(10)} ${row.address.padEnd(16)} ${row.detail}`)

  // The application's user and the service the helper may restart for it (the deploy needs the user for its uid).
  for (const name of vmNames) {
    const r = await lab.ssh(
      name,
      `id hbdemo >/dev/null 2>&1 || useradd --system -m hbdemo
      printf '[Unit]\nDescription=hbmon demo service\n[Service]\nExecStart=/bin/sleep infinity\n' > /etc/systemd/system/hbmon-demo.service
      systemctl daemon-reload`,
    )
    if (r.code !== 0) throw new Error(`${name}: cannot create the demo user: ${r.stderr}`)
  }

  step(`npx deploy -i ${lab.inventoryPath} playbooks/monitor.yml   (the health monitor on ${monitor})`)
  const monitored = await deploy(['-i', lab.inventoryPath, 'playbooks/monitor.yml'])
  if (monitored !== 0) return monitored

  const units = JSON.stringify({ hbmon_units: [{ name: 'demo-app', unit: 'hbmon-demo.service', user: 'hbdemo' }] })
  step(
    `npx deploy -i ${lab.inventoryPath} --limit vms -e hbmon_iface=eth1 -e '${units}'   (frames to the monitor's MAC)`,
  )
  const deployed = await deploy(['-i', lab.inventoryPath, '--limit', 'vms', '-e', 'hbmon_iface=eth1', '-e', units])
  if (deployed !== 0) return deployed
  for (const name of vmNames) await lab.ssh(name, 'usermod -aG hbmon hbdemo')

  step('npx deploy playbooks/status.yml')
  const status = await deploy(['-i', lab.inventoryPath, '--limit', 'vms', 'playbooks/status.yml'])
  if (status !== 0) return status

  step(`A demo application on ${app} stops beating; the health monitor listens on ${monitor}`)
  const listening = lab.ssh(monitor, 'hbmon-listen -i eth1 --type hang --count 1 --timeout 60')
  await new Promise((resolve) => setTimeout(resolve, 3000)) // the listener's socket is bound
  const appCommand = 'hbctl demo --timeout 1000 --hang-after 3 --signal SIGTERM --l2 --helper --name demo-app'
  const demo = await lab.ssh(app, `ls -l /dev/hbmon && su hbdemo -s /bin/sh -c '${appCommand}'`)
  console.log(`${app}$ ls -l /dev/hbmon && su hbdemo -s /bin/sh -c '${appCommand}'`)
  process.stdout.write(demo.stdout + demo.stderr)
  console.log(`(exit ${demo.code}: the application died of the signal its supervisor would restart it on)`)

  const log = await lab.ssh(app, 'sleep 1; grep demo-app /var/log/hbmon.log | tail -n 5')
  console.log(`\n${app}$ grep demo-app /var/log/hbmon.log`)
  process.stdout.write(log.stdout)

  const helper = await lab.ssh(app, 'journalctl -t hbmon-event --no-pager -n 4 -o cat')
  console.log(`\n${app}$ journalctl -t hbmon-event   # the root helper, for the mapped (demo-app, hbdemo) only`)
  process.stdout.write(helper.stdout)

  const frame = await listening
  console.log(`\n${monitor}$ hbmon-listen -i eth1 --type hang --count 1`)
  process.stdout.write(frame.stdout + frame.stderr)
  const pageUrl = `http://127.0.0.1:${lab.forwardedPort(monitor, pagePort)}/`
  const state = (await (await fetch(`${pageUrl}api/state`)).json()) as {
    hosts: Array<{ name: string; hangs: number; crashes: number; lost: number }>
  }
  step(`The health monitor on ${monitor} (hbmon-monitor: page, /metrics, journal)`)
  for (const h of state.hosts)
    console.log(`${h.name.padEnd(10)} hangs ${h.hangs}  crashes ${h.crashes}  lost frames ${h.lost}`)
  console.log(`\npage:       ${pageUrl}`)
  console.log(`metrics:    ${pageUrl}metrics`)
  console.log(
    `Prometheus: hbmon_hangs_total{host="${app}",app="demo-app"}   (scrape ${new URL(pageUrl).host}; rules in monitor/alerts.yml)`,
  )
  const seen = state.hosts.some((h) => h.name === app && h.hangs > 0)
  return demo.stdout.includes('"signal"') && log.stdout.includes('hang') && frame.code === 0 && seen ? 0 : 1
}

let code = 1
try {
  code = await main()
} catch (err) {
  console.error(`demo: ${err instanceof Error ? err.message : String(err)}`)
} finally {
  if (takeDown) await lab.down()
  else
    console.log('\nThe lab is still up: `npm run lab -- ssh debian12`, `npm run lab -- status`, `npm run lab -- down`.')
}
process.exit(code)
