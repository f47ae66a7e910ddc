// The bad-input corpus (test/fixtures/bad/): every file is refused with exit 4 and file:line, in bounded time and
// memory (measured per case with /usr/bin/time), and the light hosts' sshd logs (LogLevel VERBOSE) show that
// nothing connected. Then vars holding shell metacharacters, used in every task that takes a path or a command,
// run on real hosts: no `touch` they hide ever runs, on the hosts or on the controller.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { Lab, lightName } from '../../lab/lab.ts'
import { connections, deploy, root } from './_fleet.ts'

const fixtures = join(root, 'test/fixtures/bad')
const dir = mkdtempSync(join(tmpdir(), 'hbmon-bad-input-'))
const lab = new Lab({ dir: join(dir, 'lab'), net: '127.0.90' })
const names = [1, 2].map(lightName)
test.after(() => lab.down())

const allConnections = () => names.map((n) => connections(lab, n)).reduce((a, b) => a + b, 0)
const fixture = (name: string) => join(fixtures, name)
const goodInventory = fixture('good-inventory.yml')
const goodPlaybook = fixture('good-playbook.yml')

interface Measured {
  code: number | null
  stderr: string
  seconds: number
  cpuSeconds: number
  maxRssMiB: number
}

/** `node bin/deploy.js ARGS` under /usr/bin/time: exit code, stderr, wall and CPU time, peak RSS. */
function measured(args: string[]): Promise<Measured> {
  return new Promise((resolve) => {
    const child = spawn(
      '/usr/bin/time',
      ['-f', 'hbmon-time %e %U %S %M', process.execPath, join(root, 'bin/deploy.js'), ...args],
      { cwd: fixtures, env: { ...process.env, CI: '1', SSH_AUTH_SOCK: '' }, stdio: ['ignore', 'ignore', 'pipe'] },
    )
    let stderr = ''
    child.stderr.on('data', (c: Buffer) => (stderr += c))
    child.on('close', (code) => {
      const m = /hbmon-time ([\d.]+) ([\d.]+) ([\d.]+) (\d+)\s*$/.exec(stderr)
      assert.ok(m, `no timing line in: ${stderr}`)
      resolve({
        code,
        stderr: stderr.slice(0, m!.index),
        seconds: Number(m![1]),
        cpuSeconds: Number(m![2]) + Number(m![3]),
        maxRssMiB: Number(m![4]) / 1024,
      })
    })
  })
}

// [fixture, how it is passed, the message: file:line:column: path: reason]
const inventory = (f: string) => ['-i', fixture(f), goodPlaybook]
const playbook = (f: string) => ['-i', goodInventory, fixture(f)]
const extraVars = (f: string) => ['-i', goodInventory, goodPlaybook, '-e', `@${fixture(f)}`]
const cases: [string, (f: string) => string[], RegExp][] = [
  ['inv-wrong-type.yml', inventory, /inv-wrong-type\.yml:5:21: .*ansible_port: expected a port number/],
  ['inv-unknown-key.yml', inventory, /inv-unknown-key\.yml:5:3: all\.hostz: unexpected key "hostz"/],
  ['inv-syntax.yml', inventory, /inv-syntax\.yml:4:5: Flow map .* must be sufficiently indented/],
  [
    'inv-duplicate-key.yml',
    inventory,
    /inv-duplicate-key\.yml:5:7: .*duplicate key "ansible_host" \(first at line 4\)/,
  ],
  [
    'inv-alias-bomb.yml',
    inventory,
    /inv-alias-bomb\.yml:\d+:\d+: all\.vars\..*too many values once aliases are expanded/,
  ],
  ['inv-host-metachar.yml', inventory, /inv-host-metachar\.yml:3:5: .*is not a valid host name: ";" is not allowed/],
  ['inv-host-subst.yml', inventory, /inv-host-subst\.yml:3:5: .*is not a valid host name: "\$" is not allowed/],
  ['inv-group-metachar.yml', inventory, /inv-group-metachar\.yml:3:5: .*is not a valid group name: "`" is not allowed/],
  ['inv-var-name-metachar.yml', inventory, /inv-var-name-metachar\.yml:5:7: .*is not a valid variable name: ";"/],
  [
    'inv-ansible-host-metachar.yml',
    inventory,
    /inv-ansible-host-metachar\.yml:4:21: .*ansible_host: .* is not a valid address: ";" is not allowed/,
  ],
  ['pb-wrong-type.yml', playbook, /pb-wrong-type\.yml:2:12: 0\.serial\.0: expected a number of hosts or a percentage/],
  ['pb-unknown-key.yml', playbook, /pb-unknown-key\.yml:2:3: 0\.taskz: unknown play keyword "taskz"/],
  ['pb-unknown-task-key.yml', playbook, /pb-unknown-task-key\.yml:4:7: 0\.tasks\.0\.regsiter: one task per entry/],
  ['pb-syntax.yml', playbook, /pb-syntax\.yml:3:16: the string opened by " here is never closed/],
  ['pb-duplicate-key.yml', playbook, /pb-duplicate-key\.yml:5:7: 0\.tasks\.0\.command: duplicate key "command"/],
  ['pb-alias-bomb.yml', playbook, /pb-alias-bomb\.yml:\d+:\d+: 0\.vars\..*too many values once aliases are expanded/],
  ['pb-copy-src-traversal.yml', playbook, /pb-copy-src-traversal\.yml:4:9: .*a relative src cannot leave .*fixtures/],
  [
    'pb-template-src-traversal.yml',
    playbook,
    /pb-template-src-traversal\.yml:4:9: .*a relative src cannot leave .*fixtures/,
  ],
  ['pb-template-dest-dotdot.yml', playbook, /pb-template-dest-dotdot\.yml:4:9: .*"\.\." is not allowed in dest/],
  ['pb-copy-dest-dotdot.yml', playbook, /pb-copy-dest-dotdot\.yml:4:9: .*"\.\." is not allowed in dest/],
  ['vars-wrong-type.yml', extraVars, /vars-wrong-type\.yml:1:1: extra vars must be a mapping/],
  ['vars-syntax.yml', extraVars, /vars-syntax\.yml:3:1: Flow sequence .* must be sufficiently indented/],
  ['vars-duplicate-key.yml', extraVars, /vars-duplicate-key\.yml:2:1: hbmon_release: duplicate key/],
  ['vars-alias-bomb.yml', extraVars, /vars-alias-bomb\.yml:\d+:\d+: .*too many values once aliases are expanded/],
  ['vars-name-metachar.yml', extraVars, /vars-name-metachar\.yml:2:1: .*not a valid variable name/],
]

test('every fixture in test/fixtures/bad is a case here', () => {
  const listed = new Set(cases.map(([f]) => f))
  const files = readdirSync(fixtures).filter((f) => f.endsWith('.yml') && !f.startsWith('good-'))
  assert.equal(
    files.filter((f) => !listed.has(f)),
    [],
  )
})

const table: string[] = []
function check(what: string, r: Measured, message: RegExp, before: number): void {
  table.push(
    `${what.padEnd(34)} exit ${r.code}  ${r.seconds.toFixed(2)} s wall  ${r.cpuSeconds.toFixed(2)} s CPU  ${r.maxRssMiB.toFixed(0)} MiB`,
  )
  assert.is(r.code, 4, r.stderr)
  assert.match(r.stderr, message)
  // Bounded: ~0.5 s of CPU and ~110 MiB for most, ~3 s and ~240 MiB for the alias bombs. CPU time is the bound:
  // wall time on the 2 shared cores went from 2.7 s to 12 s for the same file while VMs ran beside it.
  assert.ok(r.cpuSeconds < 10, `${what}: ${r.cpuSeconds} s of CPU`)
  assert.ok(r.seconds < 60, `${what}: ${r.seconds} s`)
  assert.ok(r.maxRssMiB < 400, `${what}: ${r.maxRssMiB} MiB`)
  assert.is(allConnections(), before, `${what}: the sshd logs show a new connection`)
}

for (const [file, how, message] of cases)
  test(`${file}: exit 4, file:line, bounded, no connection`, async () => {
    if (!existsSync(lab.inventoryPath)) await lab.up({ light: 2 })
    const before = allConnections()
    check(file, await measured(how(file)), message, before)
  })

test('a 50 MB inventory, playbook and vars file are refused before they are parsed', async () => {
  const big = join(dir, 'big.yml')
  // Valid YAML all the way through (an inventory), so only its size can be the reason.
  const chunks = ['all:\n  hosts:\n    light01:\n      ansible_host: 127.0.90.2\n  vars:\n']
  for (let i = 0, size = 0; size < 50 * 1024 * 1024; i++) {
    const l = `    v${i}: "${'x'.repeat(1000)}"\n`
    chunks.push(l)
    size += l.length
  }
  writeFileSync(big, chunks.join(''))
  const before = allConnections()
  const message = /big\.yml: the (inventory|playbook|extra vars file) is 50\.\d MiB; input files are limited to 8 MiB/
  check('50 MB inventory', await measured(['-i', big, goodPlaybook]), message, before)
  check('50 MB playbook', await measured(['-i', goodInventory, big]), message, before)
  check('50 MB vars file', await measured(['-i', goodInventory, goodPlaybook, '-e', `@${big}`]), message, before)
  rmSync(big)
})

test('the sshd logs do record connections (so the checks above can fail)', async () => {
  const before = allConnections()
  const r = await deploy(['-i', lab.inventoryPath, goodPlaybook])
  assert.is(r.code, 0, r.stdout + r.stderr)
  assert.is(allConnections(), before + 2)
  process.stdout.write(`\n${table.join('\n')}\n`)
})

// Each hides a `touch` of its own marker: in $( ), in backticks, after ;, after a newline, after a closing quote.
const evil: Record<string, string> = {
  sub: '$(touch /tmp/pwned-sub)',
  tick: '`touch /tmp/pwned-tick`',
  semi: 'x;touch /tmp/pwned-semi',
  nl: 'x\ntouch /tmp/pwned-nl',
  quote: "x';touch /tmp/pwned-quote;'",
  // Without a slash, so that the paths below are made for real and the quoting of every step is exercised.
  bare: "$(touch pwned-bare)`touch pwned-bare2`;touch pwned-bare3'\n",
}

/** A play using `{{ v }}` in every task argument that is a path or a command. */
function evilTasks(v: string): unknown[] {
  const x = `{{ evil_${v} }}`
  const d = `/tmp/evil/${v}`
  const t = (task: Record<string, unknown>) => ({ ...task, ignore_errors: true })
  return [
    t({ file: { path: d, state: 'directory' } }),
    t({ command: `echo ${x}` }),
    t({ command: { argv: ['echo', x] } }),
    t({ command: { cmd: 'true', chdir: `${d}/${x}` } }),
    t({ command: { cmd: 'true', creates: `${d}/${x}` } }),
    t({ command: { cmd: 'true', removes: `${d}/${x}` } }),
    t({ command: { cmd: 'cat', stdin: x } }),
    // shell runs its line with sh, as Ansible's does: `| quote` is how a var goes into one.
    t({ shell: `echo {{ evil_${v} | quote }}` }),
    t({ shell: { cmd: 'true', chdir: `${d}/${x}`, creates: `${d}/${x}.none` } }),
    t({ shell: { cmd: 'true', removes: `${d}/${x}` } }),
    t({ file: { path: `${d}/${x}.dir`, state: 'directory', mode: '0750' } }),
    t({ file: { path: `${d}/${x}.touched`, state: 'touch' } }),
    t({ copy: { content: x, dest: `${d}/${x}.copy`, mode: '0640', validate: 'test -s %s' } }),
    t({ template: { src: 'ok.j2', dest: `${d}/${x}.tpl` } }),
    t({ fetch: { src: `${d}/${x}.copy`, dest: join(dir, 'fetched') } }),
    t({ file: { path: `${d}/${x}.touched`, state: 'absent' } }),
  ]
}

test('vars with $( ), backticks, ;, newlines and quotes, in every path and command argument, run nothing', async () => {
  const pb = join(fixtures, `.evil-${process.pid}.yml`) // beside ok.j2, which the template task needs
  const vars = join(dir, 'evil-vars.yml')
  writeFileSync(vars, stringify(Object.fromEntries(Object.entries(evil).map(([k, v]) => [`evil_${k}`, v]))))
  writeFileSync(
    pb,
    stringify([{ hosts: 'all', gather_facts: false, tasks: Object.keys(evil).flatMap((v) => evilTasks(v)) }]),
  )
  try {
    const r = await deploy(['-i', lab.inventoryPath, pb, '-e', `@${vars}`], join(dir, 'evil.json'))
    assert.ok(r.code === 0 || r.code === 2, r.stdout + r.stderr)
    for (const n of names) {
      // No marker anywhere the commands could have run (/tmp, root's home, the task dirs, /). The values with a
      // slash do make directories such as "/tmp/evil/sub/$(touch " holding "tmp/pwned-sub).copy": their names
      // as written, which is right; a marker is a file named exactly pwned-sub, pwned-bare2, ...
      const markers = [...Object.keys(evil).map((k) => `pwned-${k}`), 'pwned-bare2', 'pwned-bare3']
      const find = `find /tmp /root / -xdev -maxdepth 1 -false ${markers.map((m) => `-o -name ${m}`).join(' ')}`
      const deep = `find /tmp /root ${markers.map((m, i) => `${i ? '-o ' : ''}-name ${m}`).join(' ')}`
      const found = await lab.ssh(n, `${find} 2>/dev/null; ${deep}; true`)
      assert.is(found.stdout.trim(), '', `${n}: ${found.stdout}`)
      // The bare value's files were made under their literal names: the quoting held through mkdir, mv, chmod.
      const listed = await lab.ssh(n, "find /tmp/evil/bare -mindepth 1 -maxdepth 1 -printf '%f\\0'")
      const made = listed.stdout.split('\0')
      for (const suffix of ['.dir', '.copy', '.tpl']) assert.ok(made.includes(`${evil.bare}${suffix}`), `${n}: ${made}`)
      const copy = await lab.ssh(n, `cat '/tmp/evil/bare/${evil.bare!.replace(/'/g, `'\\''`)}.copy'`)
      assert.is(copy.stdout, evil.bare, `${n}: the copy holds the value as written`)
    }
    // fetch runs on the controller: nothing there either.
    for (const f of ['/tmp/pwned-sub', '/tmp/pwned-tick', '/tmp/pwned-semi', '/tmp/pwned-nl', '/tmp/pwned-quote'])
      assert.not.ok(existsSync(f), f)
    assert.not.ok(existsSync(join(root, 'pwned-bare')))
    // Each task ran on each host and said so: a task that failed for its odd path is fine, a skipped one is not.
    const tasks = r.report.hosts[names[0]!].tasks as { status: string }[]
    assert.is(tasks.length, Object.keys(evil).length * evilTasks('x').length)
  } finally {
    rmSync(pb, { force: true })
  }
})

test('the lab is down', async () => {
  await lab.down()
  assert.not.ok(existsSync(lab.dir))
  rmSync(dir, { recursive: true, force: true })
})

test.run()
