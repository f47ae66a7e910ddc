// Fleet benchmark: `npx deploy` against Debian's ansible-playbook, the tool our users would pick instead, with
// the same playbook and inventory on the same light hosts in the same run, cold then with nothing to change.
// Reports wall time and CPU time (this process's children) as ratios, since the machine is shared and noisy.
//
//   npx tsx bench/fleet.ts [HOSTS]      (default 50; root, after `npm run setup`)
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Lab } from '../lab/lab.ts'
import { ansibleEnv } from '../test/ansible.ts'

const root = fileURLToPath(new URL('..', import.meta.url))
const hosts = Number(process.argv[2] ?? 50)
const work = mkdtempSync(join(tmpdir(), 'hbmon-bench-'))

interface Measure {
  wall: number
  cpu: number
  code: number | null
}

/** Runs a command to completion; CPU time from the kernel's rusage of the child and all it waited for. */
function measure(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<Measure> {
  const wrapped = ['-f', '%e %U %S', '-o', join(work, 'time.out'), command, ...args]
  return new Promise((resolve) => {
    const child = spawn('/usr/bin/time', wrapped, { cwd: work, env, stdio: ['ignore', 'ignore', 'inherit'] })
    child.on('close', (code) => {
      const [wall, user, sys] = readFileSync(join(work, 'time.out'), 'utf8')
        .trim()
        .split('\n')
        .at(-1)!
        .split(' ')
        .map(Number)
      resolve({ wall: wall!, cpu: user! + sys!, code })
    })
  })
}

const lab = new Lab({ dir: join(work, 'lab'), net: '127.0.60' })
try {
  console.log(`bringing up ${hosts} light hosts`)
  await lab.up({ light: hosts })
  for (const file of ['site.yml', 'bench.conf.j2']) copyFileSync(join(root, 'bench/fleet', file), join(work, file))
  writeFileSync(join(work, 'payload.bin'), randomBytes(1 << 20))
  const env = ansibleEnv()
  writeFileSync(
    env.ANSIBLE_CONFIG!,
    `[defaults]\nforks = ${hosts}\nhost_key_checking = True\n[ssh_connection]\npipelining = True\nssh_args = -o ControlMaster=auto -o ControlPersist=60s\n`,
  )
  const ansible = (extra: string[] = []) =>
    measure('ansible-playbook', ['-i', lab.inventoryPath, 'site.yml', ...extra], env)
  const ours = () =>
    measure(process.execPath, [join(root, 'bin/deploy.js'), '-i', lab.inventoryPath, 'site.yml'], {
      ...process.env,
      CI: '1',
    })

  const results: Record<string, Measure> = {}
  results['ansible cold'] = await ansible()
  results['ansible no-change'] = await ansible()
  // Same hosts for both tools: remove what Ansible wrote, so that our cold run is cold too.
  await Promise.all(lab.hosts.map((h) => lab.ssh(h.name, 'rm -rf /srv/bench')))
  results['deploy cold'] = await ours()
  results['deploy no-change'] = await ours()

  console.log(`\n${hosts} light hosts, same playbook (file, 1 MB copy, template, command)`)
  for (const [name, m] of Object.entries(results))
    console.log(
      `  ${name.padEnd(18)} wall ${m.wall.toFixed(1).padStart(6)} s   cpu ${m.cpu.toFixed(1).padStart(6)} s   exit ${m.code}`,
    )
  for (const phase of ['cold', 'no-change']) {
    const a = results[`ansible ${phase}`]!
    const d = results[`deploy ${phase}`]!
    console.log(
      `  ${phase.padEnd(10)} deploy/ansible: wall ${(d.wall / a.wall).toFixed(2)}x, cpu ${(d.cpu / a.cpu).toFixed(2)}x`,
    )
  }
  if (Object.values(results).some((m) => m.code !== 0)) process.exitCode = 1
} finally {
  await lab.down()
  rmSync(work, { recursive: true, force: true })
}
