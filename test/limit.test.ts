// --limit against Debian's `ansible all -i F --list-hosts --limit P` (differential), and its unit behaviour.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile, execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadInventory, parseInventory } from '../src/inventory.ts'
import { InputError } from '../src/util.ts'
import { selectHosts, splitPatterns } from '../src/limit.ts'
import { ansibleEnv } from './ansible.ts'
import { tempDir } from './tmp.ts'

const dir = fileURLToPath(new URL('fixtures/inventories/', import.meta.url))

/** The hosts `ansible all --list-hosts --limit P` prints, in its order, or 'error'. */
function ansibleLimit(file: string, limit: string, env: NodeJS.ProcessEnv, cwd: string): Promise<string[] | 'error'> {
  return new Promise((resolve) =>
    execFile('ansible', ['all', '-i', file, '--list-hosts', '--limit', limit], { env, cwd }, (error, stdout) =>
      resolve(
        error
          ? 'error'
          : stdout
              .split('\n')
              .slice(1)
              .map((l) => l.trim())
              .filter(Boolean),
      ),
    ),
  )
}

// The same answer for many limits in one process: what the `ansible` CLI does for `all --list-hosts --limit P`
// (CLI.get_host_list: subset(P), list_hosts('all'), no host is an error), on Ansible's own InventoryManager.
// One `ansible` run costs ~0.8 s; this costs that once per inventory. The CLI itself is checked against it below.
const viaManager = `
import json, sys
from ansible.errors import AnsibleError
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
out = []
for limit in json.loads(sys.argv[2]):
    inventory = InventoryManager(loader=DataLoader(), sources=[sys.argv[1]])
    try:
        inventory.subset(limit)
        hosts = [h.name for h in inventory.list_hosts('all')]
        out.append(hosts if hosts else 'error')
    except AnsibleError:
        out.append('error')
print(json.dumps(out))
`

async function parallel<T, R>(items: T[], width: number, run: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      results[i] = await run(items[i]!)
    }
  }
  await Promise.all(Array.from({ length: width }, worker))
  return results
}

// The Python that runs `ansible` (its shebang), which is not always the python3 first on PATH.
function ansiblePython(env: NodeJS.ProcessEnv): string {
  const ansible = execFileSync('sh', ['-c', 'command -v ansible'], { env, encoding: 'utf8' }).trim()
  return readFileSync(ansible, 'utf8')
    .split('\n')[0]!
    .replace(/^#!\s*/, '')
    .split(/\s+/)
    .at(-1)!
}

function ansibleLimits(file: string, limits: string[], env: NodeJS.ProcessEnv): Promise<(string[] | 'error')[]> {
  return new Promise((resolve, reject) =>
    execFile(
      ansiblePython(env),
      ['-c', viaManager, file, JSON.stringify(limits)],
      { env, cwd: dir },
      (error, stdout, stderr) =>
        error ? reject(new Error(stderr)) : resolve(JSON.parse(stdout.trim().split('\n').at(-1)!)),
    ),
  )
}

const patterns: Record<string, string[]> = {
  'ranges.yml': [
    'all',
    '*',
    'web',
    'db',
    'web*',
    'web0?.example.com',
    'web1[0-2]*',
    '[!w]*',
    '*.local',
    'app1*',
    'CACHE?',
    'cache-[a-c]',
    'db:cache-[a-c]',
    'web,db',
    'web:db',
    'app*:!app1*',
    'web:&app*',
    '&db',
    '!web',
    '!web:!db',
    'all:!web*:&db',
    '~app1',
    '~(app|db)[0-9]+$',
    '~.*\\.local',
    'web[0]',
    'web[-1]',
    'web[2:4]',
    'web[3:]',
    'web[11:]',
    'web[2:0]',
    'web[99]',
    'db1-node0[1:2]',
    'edge001:2222',
    '10.0.1.7',
    '10.0.[1:2].7',
    '10.0.*',
    'nomatch',
    'nomatch,app3',
    'app3,app1',
    'app3:app1',
    ' app3 , app1 ',
    '~[',
    'ungrouped',
  ],
  'diamond.yml': [
    'top',
    'bottom',
    'left:right',
    'left:&right',
    'top:!bottom',
    'extra',
    'lonely',
    'lonely:b1',
    'b*',
    '~b',
    'ungrouped',
    'l1,b2,b1',
    'extra:!left',
    'all:!top',
    '!extra',
    '*:!b?',
  ],
  'nested.yml': [
    'europe',
    'europe:!paris',
    'france:&paris',
    'e*',
    'america:europe',
    'par*',
    '~.*1$',
    '!europe',
    'paris:germany:east',
    'east,paris',
  ],
  'allvars.yml': ['ungrouped', 'all:!ungrouped', 'real', 'direct*', 'moved', 'loose:moved', 'all[0]'],
  'ordering.yml': ['10', '3', '1', '10:&3', 'later', '*', 'defined_after[1:]', '00?', '[0-9]*'],
}

// Ansible walks a group's grand-children through a Python set, so the host order of inventories nested deeper
// than all → group → child varies with object addresses; for those, the same hosts in any order is the contract,
// and subscripts (`group[1:2]`), which pick by that order, are compared only on the fixtures with a stable one.
const ordered = new Set(['ranges.yml', 'allvars.yml'])

for (const [name, list] of Object.entries(patterns)) {
  test(`${name}: --limit selects what ansible --list-hosts selects (${list.length} patterns)`, async () => {
    const file = join(dir, name)
    const inventory = await loadInventory(file)
    const theirs = await ansibleLimits(file, list, ansibleEnv())
    const shape = (hosts: string[] | 'error') => (hosts === 'error' || ordered.has(name) ? hosts : [...hosts].sort())
    const mismatches: string[] = []
    list.forEach((limit, i) => {
      let ours: string[] | 'error'
      try {
        ours = selectHosts(inventory, 'all', { limit }).map((h) => h.name)
      } catch (e) {
        if (!(e instanceof InputError)) throw e
        ours = 'error'
      }
      if (JSON.stringify(shape(ours)) !== JSON.stringify(shape(theirs[i]!)))
        mismatches.push(`--limit '${limit}': ours ${JSON.stringify(ours)}, ansible ${JSON.stringify(theirs[i])}`)
    })
    assert.equal(mismatches, [])
  })
}

test('the ansible CLI itself agrees with the InventoryManager answers above', async () => {
  const file = join(dir, 'ranges.yml')
  const sample = ['web[2:4]', 'app*:!app1*', '&db', 'nomatch', '~(app|db)[0-9]+$', 'app3,app1', 'web:&app*']
  const env = ansibleEnv()
  const [viaCli, viaApi] = await Promise.all([
    parallel(sample, 4, (p) => ansibleLimit(file, p, env, dir)),
    ansibleLimits(file, sample, env),
  ])
  assert.equal(viaCli, viaApi)
  assert.equal(viaCli[0], ['web03.example.com', 'web04.example.com', 'web05.example.com'])
})

test('--limit @file: one pattern per line, like ansible', async () => {
  const file = join(dir, 'ranges.yml')
  const work = tempDir('hbmon-limit-')
  writeFileSync(join(work, 'retry'), 'app3\n\nweb01.example.com\n!web0*\n  app5  \n')
  const theirs = await ansibleLimit(file, '@retry,db0-node01', ansibleEnv(), work)
  const ours = selectHosts(await loadInventory(file), 'all', { limit: '@retry,db0-node01', cwd: work }).map(
    (h) => h.name,
  )
  assert.equal(ours, theirs)
  assert.equal(ours, ['app3', 'app5', 'db0-node01'])
})

const small = () =>
  parseInventory(
    'web:\n  hosts:\n    web[1:4]:\ndb:\n  hosts:\n    db1:\n    web2:\nlb:\n  children:\n    web:\n    empty:\n',
    'hosts.yml',
  )

test('selectHosts: a play pattern narrowed by --limit, in inventory order', () => {
  const inv = small()
  const names = (pattern: string, limit?: string) => selectHosts(inv, pattern, { limit }).map((h) => h.name)
  // lb holds web, so all → [ungrouped, db, lb] and web's hosts come after db's.
  assert.equal(names('all'), ['db1', 'web2', 'web1', 'web3', 'web4'])
  assert.equal(names('db'), ['db1', 'web2'])
  assert.equal(names('db', 'web*'), ['web2'])
  assert.equal(names('lb:!web[0]'), ['web2', 'web3', 'web4'])
  assert.equal(names('!db'), ['web1', 'web3', 'web4']) // only exclusions: they apply to all
  assert.equal(names('&db:web'), ['web2']) // intersections apply after unions, wherever they are written
  assert.equal(names('nothing'), []) // a play pattern alone may match nothing (Ansible skips the play)
})

test('a --limit that leaves no host is an InputError; unmatched patterns warn', () => {
  const inv = small()
  const warnings: string[] = []
  assert.throws(
    () => selectHosts(inv, 'all', { limit: 'nope*', warn: (w) => warnings.push(w) }),
    (e: Error) =>
      e instanceof InputError && /^--limit: "nope\*" leave no host to target in hosts\.yml$/.test(e.message),
  )
  assert.equal(warnings, ['could not match supplied host pattern, ignoring: nope*'])
  assert.throws(
    () => selectHosts(inv, 'db', { limit: 'web1' }),
    (e: Error) => /"web1" and the pattern "db" leave no host/.test(e.message),
  )
  assert.throws(
    () => selectHosts(inv, 'all', { limit: 'empty' }),
    (e: Error) => e instanceof InputError,
  ) // a group with no host
  assert.throws(
    () => selectHosts(inv, 'all', { limit: 'web[9]' }),
    /no host matches the subscripted pattern "web\[9\]"/,
  )
  assert.throws(
    () => selectHosts(inv, 'all', { limit: '~(' }),
    /invalid host pattern "~\(": not a valid regular expression/,
  )
  assert.throws(() => selectHosts(inv, 'all', { limit: '@/nonexistent/file' }), /^--limit: cannot read the limit file/)
})

test('an error in a @file names its line', () => {
  const work = tempDir('hbmon-limit-')
  writeFileSync(join(work, 'hosts'), 'web1\n~[\n')
  assert.throws(
    () => selectHosts(small(), 'all', { limit: '@hosts', cwd: work }),
    (e: Error) => e.message.startsWith('hosts:2:1: invalid host pattern'),
  )
})

test('splitPatterns: commas, or colons when the whole is not one host', () => {
  assert.equal(splitPatterns('a, b ,c'), ['a', 'b', 'c'])
  assert.equal(splitPatterns('a:b:!c:&d'), ['a', 'b', '!c', '&d'])
  assert.equal(splitPatterns('web[1:3]'), ['web[1:3]'])
  assert.equal(splitPatterns('db:web[1:3]'), ['db', 'web[1:3]'])
  assert.equal(splitPatterns('host:22'), ['host:22'])
  assert.equal(splitPatterns('fe80::1'), ['fe80::1'])
  assert.equal(splitPatterns('a,fe80::1'), ['a', 'fe80::1'])
  assert.equal(splitPatterns(['a:b', 'c']), ['a', 'b', 'c'])
  assert.equal(splitPatterns(' , '), [])
})

test.run()
