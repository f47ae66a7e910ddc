// Debian's Ansible as the peer the tests compare with: run hermetically and quietly.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

let home: string | undefined

/** Its own HOME and config (one per process, removed at exit), the yaml inventory plugin only, and a parse
 * failure is an error. */
export function ansibleEnv(): NodeJS.ProcessEnv {
  if (!home) {
    const dir = mkdtempSync(join(tmpdir(), 'hbmon-ansible-'))
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }))
    home = dir
  }
  writeFileSync(join(home, 'ansible.cfg'), '')
  return {
    PATH: process.env.PATH,
    HOME: home,
    LANG: 'C.UTF-8',
    ANSIBLE_CONFIG: join(home, 'ansible.cfg'),
    ANSIBLE_INVENTORY_ENABLED: 'yaml',
    ANSIBLE_INVENTORY_UNPARSED_FAILED: 'true',
    ANSIBLE_LOCALHOST_WARNING: 'false',
    ANSIBLE_DEPRECATION_WARNINGS: 'false',
    ANSIBLE_NOCOLOR: '1',
  }
}
