// Two real `npx deploy` processes on the same light hosts: the second refuses at once naming the holder (pid,
// machine, start time), or with --lock-wait waits for it; a controller SIGKILLed mid-batch leaves no lock
// behind (it lived with its SSH connection), and the re-run finishes the job with nothing done twice.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { Lab, lightName } from '../../lab/lab.ts'
import { root } from './_fleet.ts'

const dir = mkdtempSync(join(tmpdir(), 'hbmon-host-lock-'))
const lab = new Lab({ dir: join(dir, 'lab'), net: '127.0.91' })
const names = [1, 2, 3].map(lightName)
test.after(() => lab.down())
// A failed check must not leave a controller holding the next test's hosts: every run ends before the next test.
const running: Run[] = []
test.after.each(async () => void (await Promise.all(running.splice(0).map((r) => r.done))))

interface Run {
  child: ChildProcess
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; report?: any }>
}

/** `npx deploy ARGS --json FILE`, as a user types it. */
function npxDeploy(args: string[], json: string): Run {
  const child = spawn('npx', ['deploy', '-i', lab.inventoryPath, ...args, '--json', json], {
    cwd: root,
    env: { ...process.env, CI: '1', SSH_AUTH_SOCK: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout!.on('data', (c: Buffer) => (out += c))
  child.stderr!.on('data', (c: Buffer) => (out += c))
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; report?: any }>(
    (resolve) =>
      child.on('close', (code, signal) =>
        resolve({ code, signal, out, report: existsSync(json) ? JSON.parse(readFileSync(json, 'utf8')) : undefined }),
      ),
  )
  running.push({ child, done })
  return { child, done }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Waits until `path` exists on `host`. */
async function waitFor(host: string, path: string, seconds = 60): Promise<void> {
  for (let i = 0; i < seconds * 5; i++) {
    if ((await lab.ssh(host, `test -e ${path}`)).code === 0) return
    await sleep(200)
  }
  throw new Error(`${host}: ${path} did not appear within ${seconds} s`)
}

/** Whether `pid` descends from `ancestor` (so that the test only ever signals a process it started). */
function descends(pid: number, ancestor: number): boolean {
  for (let p = pid; p > 1; ) {
    if (p === ancestor) return true
    try {
      p = Number(
        readFileSync(`/proc/${p}/stat`, 'utf8')
          .replace(/^.*\) /, '')
          .split(' ')[1],
      )
    } catch {
      return false
    }
  }
  return false
}

const timed = join(dir, 'timed.yml')
writeFileSync(
  timed,
  `- hosts: all
  gather_facts: false
  tasks:
    - shell: date +%s.%N > /root/{{ run }}.start
    - command: sleep {{ nap }}
    - shell: date +%s.%N > /root/{{ run }}.end
`,
)
const holderLine = (pid: number) =>
  new RegExp(
    `another controller is rolling out to this host: deploy pid ${pid} on ${hostname()} \\(user \\w+\\), started \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z; waited 0 s`,
  )

test('a second controller refuses at once, naming the holder; it touches nothing', async () => {
  await lab.up({ light: 3 })
  const a = npxDeploy([timed, '-e', 'run=a1 nap=8'], join(dir, 'a1.json'))
  for (const n of names) await waitFor(n, '/root/a1.start')
  const held = (await lab.ssh(names[0]!, 'cat /run/lock/hbmon-deploy.lock')).stdout
  const pid = Number(/deploy pid (\d+)/.exec(held)?.[1])
  assert.ok(descends(pid, a.child.pid!), `the holder ${held} is our first npx deploy`)
  const started = Date.now()
  // The lock goes with the first command to the connection's shell. A first operation that does not go there
  // (a command with input gets a channel of its own) takes the lock alone, before it.
  const own = join(dir, 'own.yml')
  writeFileSync(
    own,
    `- hosts: all\n  gather_facts: false\n  tasks:\n    - command: { cmd: "sh -c 'cat > /root/c1.start'", stdin: x }\n`,
  )
  const [b, c] = await Promise.all([
    npxDeploy([timed, '-e', 'run=b1 nap=0'], join(dir, 'b1.json')).done,
    npxDeploy([own], join(dir, 'c1.json')).done,
  ])
  assert.ok(Date.now() - started < 8000, 'refused without waiting')
  for (const [run, r] of [
    ['b1', b],
    ['c1', c],
  ] as const) {
    assert.is(r.code, 2, r.out)
    for (const n of names) {
      assert.match(r.report.hosts[n].tasks[0].msg, holderLine(pid))
      assert.is((await lab.ssh(n, `test -e /root/${run}.start`)).code, 1, `${n}: ${run} ran a task`)
    }
  }
  const first = await a.done
  assert.is(first.code, 0, first.out)
})

test('with --lock-wait the second controller waits and runs after the first', async () => {
  const a = npxDeploy([timed, '-e', 'run=a2 nap=5'], join(dir, 'a2.json'))
  for (const n of names) await waitFor(n, '/root/a2.start')
  const b = npxDeploy([timed, '-e', 'run=b2 nap=0', '--lock-wait', '60'], join(dir, 'b2.json'))
  const [ra, rb] = await Promise.all([a.done, b.done])
  assert.is(ra.code, 0, ra.out)
  assert.is(rb.code, 0, rb.out)
  for (const n of names) {
    const t = (await lab.ssh(n, 'cat /root/a2.end /root/b2.start')).stdout.trim().split('\n').map(Number)
    assert.ok(t[1]! >= t[0]!, `${n}: b started at ${t[1]}, before a ended at ${t[0]}`)
  }
})

test('SIGKILL of npx deploy mid-batch: the lock goes with it; the re-run finishes, nothing done twice', async () => {
  const job = join(dir, 'job.yml')
  writeFileSync(
    job,
    `- hosts: all
  serial: 1
  gather_facts: false
  tasks:
    - shell: { cmd: "echo step1 >> /root/job.log; date > /root/job.step1", creates: /root/job.step1 }
    - command: { cmd: "sleep 4", creates: /root/job.done }
    - shell: { cmd: "echo done >> /root/job.log; date > /root/job.done", creates: /root/job.done }
`,
  )
  const a = npxDeploy([job], join(dir, 'kill.json'))
  await waitFor(names[1]!, '/root/job.step1') // the second batch is under way
  const held = (await lab.ssh(names[1]!, 'cat /run/lock/hbmon-deploy.lock')).stdout
  const pid = Number(/deploy pid (\d+)/.exec(held)?.[1])
  assert.ok(descends(pid, a.child.pid!), `the holder ${held} is our npx deploy`)
  process.kill(pid, 'SIGKILL')
  const killed = await a.done
  assert.is(killed.report, undefined, 'a killed controller wrote no report')
  assert.is((await lab.ssh(names[1]!, 'test -e /root/job.done')).code, 1, 'light02 was left mid-job')
  assert.is((await lab.ssh(names[2]!, 'test -e /root/job.step1')).code, 1, 'light03 was not started')
  const started = Date.now()
  const again = await npxDeploy([job, '--lock-wait', '10'], join(dir, 'again.json')).done
  assert.is(again.code, 0, again.out)
  // Lock-free at once: the killed controller's connection closed, sshd ended its session, flock went with it.
  assert.ok(Date.now() - started < 20_000)
  for (const n of names) assert.is((await lab.ssh(n, 'cat /root/job.log')).stdout, 'step1\ndone\n', n)
  assert.equal(
    names.map((n) => again.report.hosts[n].stats.changed),
    [0, 2, 3],
    'light01 was done, light02 finishes its last two steps, light03 does all three',
  )
})

test('the lab is down', async () => {
  await lab.down()
  assert.not.ok(existsSync(lab.dir))
  rmSync(dir, { recursive: true, force: true })
})

test.run()
