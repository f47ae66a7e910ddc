// Debian's Ansible as the peer the tests compare with: run hermetically and quietly.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

let home: string | undefined

/** Its own HOME and config (one per process, removed at exit), the yaml inventory plugin only, and a parse
 * failure is an error. */
export function ansibleEnv(): NodeJS.ProcessEnv {
  if (!home) {
    const dir = mkdtempSync(join(tmpdir(), 'hbmon-ansible-'))
    process.on('exit', () => {
      // Ansible's ssh masters (ControlPersist) would outlive the test by a minute: end them with their sockets.
      const sockets = join(dir, '.ansible', 'cp')
      for (const socket of existsSync(sockets) ? readdirSync(sockets) : []) {
        spawnSync('ssh', ['-o', `ControlPath=${join(sockets, socket)}`, '-O', 'exit', 'hbmon-ansible-master'], {
          stdio: 'ignore',
          timeout: 5000,
        })
      }
      rmSync(dir, { recursive: true, force: true })
    })
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
    // The test runner finds what a file left running by this mark: Ansible's processes carry it too.
    ...(process.env.HBMON_TEST_MARK ? { HBMON_TEST_MARK: process.env.HBMON_TEST_MARK } : {}),
  }
}
