// systemd and service against a real systemd: the Debian 12 VM. One playbook (a small unit dropped with copy,
// daemon_reload, started/enabled, idempotent repeats, restarted, reloaded, stopped, disabled under check_mode,
// masked, a start refused on a masked unit, unmasked, an unknown unit, registered results written to a file)
// run by ansible-playbook and by npx deploy; the results, the recap and systemctl's view of the unit compared.
//
// Each tool gets its own unit (hbsvc-ansible, hbsvc-deploy) instead of a VM reset between the runs: a reset is
// a reboot or a snapshot reload (a minute under TCG on a machine other engineers share), while two units that
// nothing else touches start from the same state (no such unit) and end in states systemctl reports apart.
// The unit's name is replaced by UNIT before comparing. A light host (sshd as PID 1, no systemd) shows the
// refusals: systemd and service fail there, saying why.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Lab } from '../../lab/lab.ts'
import { ansibleEnv } from '../ansible.ts'
import { deploy } from '../fleet/_fleet.ts'
import { tempDir } from '../tmp.ts'

const dir = tempDir('hbmon-vm-services-')
const lab = new Lab({ dir: join(dir, 'lab'), net: '127.0.162', log: (line) => console.log(`  ${line}`) })
const vm = 'debian12'

const playbook = `- hosts: ${vm}
  gather_facts: false
  tasks:
    - file: {path: /usr/local/lib/systemd/system, state: directory}
    - copy:
        dest: "/usr/local/lib/systemd/system/{{ unit }}.service"
        content: |
          [Unit]
          Description=hbmon test service {{ unit }}
          [Service]
          ExecStart=/bin/sleep infinity
          ExecReload=/bin/true
          [Install]
          WantedBy=multi-user.target
    - systemd: {name: "{{ unit }}", daemon_reload: true, state: started, enabled: true}
      register: s1
    - systemd: {name: "{{ unit }}", state: started, enabled: true}
      register: s2
    - service: {name: "{{ unit }}", state: restarted}
      register: s3
    - systemd: {name: "{{ unit }}.service", state: reloaded}
      register: s4
    - systemd: {name: "{{ unit }}", state: stopped}
      register: s5
    - service: {name: "{{ unit }}", state: stopped, enabled: true}
      register: s6
    - systemd: {name: "{{ unit }}", enabled: false}
      check_mode: true
      register: s7
    - systemd: {name: "{{ unit }}", masked: true}
      register: s8
    - systemd: {name: "{{ unit }}", masked: true}
      register: s9
    - systemd: {name: "{{ unit }}", state: started}
      register: s10
      ignore_errors: true
    - systemd: {name: "{{ unit }}", masked: false, enabled: false}
      register: s11
    - service: {name: "{{ unit }}-nope", state: started}
      register: s12
      ignore_errors: true
    - systemd: {daemon_reload: true}
      register: s13
    - systemd: {name: "{{ unit }}", state: started}
      register: s14
    - copy:
        dest: "/root/{{ unit }}.results"
        content: |
          {{ s1.changed }}|{{ s1.name }}|{{ s1.state }}|{{ s1.enabled }}|{{ s1.status.ActiveState }}|{{ s1.status.LoadState }}|{{ s1.status.UnitFileState }}|{{ s1.status.Description }}
          {{ s2.changed }}|{{ s2.state }}|{{ s2.enabled }}|{{ s2.status.ActiveState }}|{{ s2.status.SubState }}|{{ s2.status.UnitFileState }}
          {{ s3.changed }}|{{ s3.state }}|{{ s3.enabled | default('none') }}|{{ s4.changed }}|{{ s4.state }}|{{ s4.name }}|{{ s4.status.Id }}
          {{ s5.changed }}|{{ s5.state }}|{{ s6.changed }}|{{ s6.enabled }}|{{ s6.status.ActiveState }}|{{ s7.changed }}|{{ s7.enabled }}
          {{ s8.changed }}|{{ s9.changed }}|{{ s9.status.LoadState }}|{{ s10.failed }}|{{ s10.msg | trim }}
          {{ s11.changed }}|{{ s11.enabled }}|{{ s12.failed }}|{{ s12.msg }}|{{ s13.changed }}|{{ s13.name }}|{{ s13.status }}
          {{ s14.changed }}|{{ s14.status.ActiveState }}|{{ s14.status.UnitFileState }}
`

/** The recap of Ansible's output: ok, changed, failed, skipped, ignored for the VM. */
function ansibleRecap(stdout: string): Record<string, number> {
  const line = new RegExp(`^${vm}\\s+:(.*)$`, 'm').exec(stdout)?.[1] ?? ''
  const count = (k: string) => Number(new RegExp(`${k}=(\\d+)`).exec(line)?.[1] ?? -1)
  return { ok: count('ok'), changed: count('changed'), failed: count('failed'), ignored: count('ignored') }
}

function ansiblePlaybook(
  args: string[],
  cwd: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('ansible-playbook', args, {
      cwd,
      env: { ...ansibleEnv(), ANSIBLE_PIPELINING: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => (stdout += c))
    child.stderr.on('data', (c: Buffer) => (stderr += c))
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

async function sh(host: string, command: string): Promise<string> {
  const result = await lab.ssh(host, command)
  assert.is(result.code, 0, `${host}: ${command}\nexit ${result.code}\n${result.stderr}${result.stdout}`)
  return result.stdout
}

/** What systemctl says of the unit afterwards, and the results file, with the unit's name as UNIT. */
async function outcome(unit: string): Promise<string> {
  const state = await sh(
    vm,
    `systemctl is-active ${unit} || true; systemctl is-enabled ${unit} || true; systemctl show -p LoadState,SubState,NeedDaemonReload ${unit}; cat /root/${unit}.results`,
  )
  return state.replaceAll(unit, 'UNIT')
}

test('ansible-playbook and npx deploy agree on systemd and service against the Debian 12 VM', async () => {
  const started = Date.now()
  await lab.up({ vms: [vm], light: 1 })
  console.log(`  lab up in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  const work = join(dir, 'play')
  mkdirSync(work, { recursive: true })
  writeFileSync(join(work, 'playbook.yml'), playbook)
  await sh(vm, 'systemctl stop hbsvc-ansible hbsvc-deploy 2>/dev/null; true')

  let t = Date.now()
  const theirs = await ansiblePlaybook(['-i', lab.inventoryPath, '-e', 'unit=hbsvc-ansible', 'playbook.yml'], work)
  console.log(`  ansible-playbook: ${((Date.now() - t) / 1000).toFixed(1)} s`)
  assert.is(theirs.code, 0, theirs.stdout + theirs.stderr)

  t = Date.now()
  const json = join(dir, 'deploy.json')
  const ours = await deploy(['-i', lab.inventoryPath, '-e', 'unit=hbsvc-deploy', join(work, 'playbook.yml')], json)
  console.log(`  npx deploy: ${((Date.now() - t) / 1000).toFixed(1)} s`)
  assert.is(ours.code, 0, ours.stdout + ours.stderr)

  const a = await outcome('hbsvc-ansible')
  const d = await outcome('hbsvc-deploy')
  console.log(
    a
      .split('\n')
      .map((l) => `    ${l}`)
      .join('\n'),
  )
  assert.fixture(d, a)
  const stats = ours.report.hosts[vm].stats
  assert.equal(
    { ok: stats.ok, changed: stats.changed, failed: stats.failed, ignored: stats.ignored },
    ansibleRecap(theirs.stdout),
  )
})

test('on a host without systemd, systemd and service fail saying so (npx deploy)', async () => {
  const work = join(dir, 'light')
  mkdirSync(work, { recursive: true })
  writeFileSync(
    join(work, 'playbook.yml'),
    `- hosts: light
  gather_facts: false
  tasks:
    - systemd: {name: ssh, state: started}
      register: a
      ignore_errors: true
    - service: {name: ssh, state: started}
      register: b
      ignore_errors: true
    - copy: {dest: /root/results, content: "{{ a.msg }}\\n{{ b.msg }}\\n"}
`,
  )
  const json = join(dir, 'light.json')
  const ours = await deploy(['-i', lab.inventoryPath, join(work, 'playbook.yml')], json)
  assert.is(ours.code, 0, ours.stdout + ours.stderr)
  const light = Object.keys(ours.report.hosts)[0]!
  const text = await sh(light, 'cat /root/results')
  assert.match(text, /systemd: this host is not running systemd/)
  assert.match(text, /service: this host's service manager is sshd \(ansible_service_mgr\), not systemd/)
  assert.equal(ours.report.hosts[light].stats.ignored, 2)
})

test.after(async () => {
  await lab.down()
})

test.run()
