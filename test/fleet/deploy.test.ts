// A generic playbook against 20 light hosts over real sshd: first run changes everything, the second nothing;
// --check changes nothing on the hosts and says what it would change; --diff shows the diffs.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, rmSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Lab, lightName } from '../../lab/lab.ts'
import { deploy, statuses } from './_fleet.ts'

const dir = mkdtempSync(join(tmpdir(), 'hbmon-fleet-deploy-'))
const lab = new Lab({ dir: join(dir, 'lab'), net: '127.0.20' })
const names = Array.from({ length: 20 }, (_, i) => lightName(i + 1))
test.after(() => lab.down())

// The playbook and its files.
const work = join(dir, 'play')
mkdirSync(join(work, 'files'), { recursive: true })
mkdirSync(join(work, 'templates'), { recursive: true })
const big = randomBytes(1024 * 1024)
const bigSha = createHash('sha256').update(big).digest('hex')
writeFileSync(join(work, 'files/big.bin'), big)
writeFileSync(
  join(work, 'templates/app.conf.j2'),
  'host = {{ inventory_hostname }}\ngreeting = {{ greeting }}\nkernel = {{ ansible_kernel }}\n',
)
const playbook = join(work, 'site.yml')
writeFileSync(
  playbook,
  `- name: Files
  hosts: light
  vars: { app: /srv/app, greeting: hello }
  tasks:
    - name: App directory
      file: { path: "{{ app }}", state: directory, mode: "0750" }
    - name: Big file
      copy: { src: big.bin, dest: "{{ app }}/big.bin", mode: "0600" }
    - name: Readme
      copy: { content: "managed\\n", dest: "{{ app }}/README" }
    - name: Config
      template: { src: app.conf.j2, dest: "{{ app }}/app.conf" }
      notify: Reload
    - name: Stamp
      command: touch {{ app }}/stamp
      args: { creates: "{{ app }}/stamp" }
  handlers:
    - name: Reload
      shell: echo reloaded >> {{ app }}/reloads
`,
)
const json = (name: string) => join(dir, `${name}.json`)

test('first run: every file on 20 hosts, handlers once per host', async () => {
  await lab.up({ light: 20 })
  const run = await deploy(['-i', lab.inventoryPath, playbook], json('first'))
  console.log(`  first run on 20 hosts: ${run.seconds.toFixed(1)} s (engine wall ${run.report?.wallMs} ms)`)
  assert.is(run.code, 0, run.stdout + run.stderr)
  assert.equal(Object.keys(run.report.hosts), names)
  for (const name of names)
    assert.equal(statuses(run.report, name), [
      'Gathering Facts=ok',
      'App directory=changed',
      'Big file=changed',
      'Readme=changed',
      'Config=changed',
      'Stamp=changed',
      'Reload=changed',
    ])
  assert.equal(run.report.totals, {
    ok: 140,
    changed: 120,
    unreachable: 0,
    failed: 0,
    skipped: 0,
    rescued: 0,
    ignored: 0,
  })
  assert.match(run.stdout, /PLAY RECAP/)
  assert.match(run.stdout, /light20 +: ok=7 +changed=6 +unreachable=0 +failed=0/)
  const checks = await Promise.all(
    names.map((n) =>
      lab.ssh(n, 'cd /srv/app && sha256sum big.bin && stat -c %a . big.bin README && cat app.conf reloads && ls -A'),
    ),
  )
  for (const [i, n] of names.entries()) {
    const out = checks[i]!.stdout
    assert.ok(out.startsWith(`${bigSha}  big.bin\n750\n600\n644\nhost = ${n}\ngreeting = hello\nkernel = `), out)
    assert.ok(
      out.endsWith('reloaded\nREADME\napp.conf\nbig.bin\nreloads\nstamp\n'),
      `${n}: no temporary file may be left: ${out}`,
    )
  }
})

test('second run: 0 changed, handlers not run', async () => {
  const run = await deploy(['-i', lab.inventoryPath, playbook], json('second'))
  console.log(`  no-change run on 20 hosts: ${run.seconds.toFixed(1)} s (engine wall ${run.report?.wallMs} ms)`)
  assert.is(run.code, 0, run.stdout + run.stderr)
  assert.is(run.report.totals.changed, 0)
  assert.is(run.report.totals.ok, 20 * 6)
  assert.not.ok(run.report.results)
  for (const name of names) assert.not.ok(statuses(run.report, name).includes('Reload=changed'))
})

test('--check --diff: says what would change, changes nothing on the hosts', async () => {
  await lab.ssh('light03', 'rm /srv/app/README && chmod 0644 /srv/app/big.bin')
  const run = await deploy(
    ['-i', lab.inventoryPath, playbook, '--check', '--diff', '-e', 'greeting=bonjour'],
    json('check'),
  )
  assert.is(run.code, 0, run.stdout + run.stderr)
  assert.is(run.report.check, true)
  for (const name of names) {
    const tasks = run.report.hosts[name].tasks as any[]
    const config = tasks.find((t) => t.task === 'Config')
    assert.is(config.status, 'changed')
    assert.match(
      config.diff,
      new RegExp(
        `--- before: /srv/app/app.conf\\n\\+\\+\\+ after: /srv/app/app.conf\\n@@ .* @@\\n host = ${name}\\n-greeting = hello\\n\\+greeting = bonjour\\n`,
      ),
    )
    // The handler would run: Ansible runs notified handlers in check mode too (they check themselves).
    assert.is(
      tasks.find((t) => t.task === 'Reload')?.status,
      'skipped',
      'a shell command only says it would run under --check',
    )
  }
  const light03 = run.report.hosts.light03.tasks as any[]
  assert.is(light03.find((t: any) => t.task === 'Readme').status, 'changed')
  assert.match(light03.find((t: any) => t.task === 'Readme').msg, /README: created/)
  assert.match(light03.find((t: any) => t.task === 'Big file').msg, /mode 0644 → 0600/)
  assert.is(run.report.hosts.light04.tasks.find((t: any) => t.task === 'Readme').status, 'ok')
  assert.is(run.report.totals.changed, 20 + 2)
  assert.match(run.stdout, /\+greeting = bonjour/)
  assert.match(run.stdout, /check mode: nothing was changed/)
  // Nothing changed on the hosts.
  const after = await Promise.all(
    names.map((n) =>
      lab.ssh(n, 'cat /srv/app/app.conf; ls /srv/app; stat -c %a /srv/app/big.bin; wc -l < /srv/app/reloads'),
    ),
  )
  for (const [i, n] of names.entries()) {
    assert.match(after[i]!.stdout, /greeting = hello\n/)
    assert.is(after[i]!.stdout.includes('README'), n !== 'light03', n)
    assert.ok(after[i]!.stdout.endsWith(n === 'light03' ? '\n644\n1\n' : '\n600\n1\n'), after[i]!.stdout)
  }
})

test('--diff on a real run shows the diffs and applies them', async () => {
  // A copy to app.conf that died half-way (a power cut) left its temp file; a file that is not ours stays.
  const plant = 'touch /srv/app/.app.conf.hbmon-0123456789ab.tmp /srv/app/.app.conf.keep.tmp'
  assert.is((await lab.ssh('light02', plant)).code, 0)
  const run = await deploy(
    ['-i', lab.inventoryPath, playbook, '--diff', '-e', 'greeting=bonjour', '--limit', '~light0[1-5]', '--forks', '2'],
    json('diff'),
  )
  assert.is(run.code, 0, run.stdout + run.stderr)
  assert.equal(Object.keys(run.report.hosts), ['light01', 'light02', 'light03', 'light04', 'light05'])
  assert.is((run.stdout.match(/\+greeting = bonjour/g) ?? []).length, 5)
  assert.match(
    run.stdout,
    /--- before: \/srv\/app\/README\n\+\+\+ after: \/srv\/app\/README\n@@ -0,0 \+1 @@\n\+managed/,
  )
  const conf = await lab.ssh('light02', 'cat /srv/app/app.conf; cat /srv/app/reloads')
  assert.match(conf.stdout, /greeting = bonjour\n[\s\S]*reloaded\nreloaded\n$/)
  const left = await lab.ssh('light02', 'ls -A /srv/app')
  assert.not.match(left.stdout, /hbmon-0123456789ab/, 'the orphaned temp file went with the next copy to app.conf')
  assert.match(left.stdout, /\.app\.conf\.keep\.tmp/)
  const untouched = await lab.ssh('light06', 'cat /srv/app/app.conf')
  assert.match(untouched.stdout, /greeting = hello/)
})

test('the lab is down', async () => {
  await lab.down()
  assert.not.ok(existsSync(lab.dir))
  rmSync(dir, { recursive: true, force: true })
})

test.run()
