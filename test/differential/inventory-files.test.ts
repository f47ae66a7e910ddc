// An Ansible user's inventory files as they are (INI, group_vars/ and host_vars/, directories mixing YAML and
// INI, several -i, --playbook-dir): each tree is given to Debian's `ansible-inventory --list` and to
// `deploy --list-inventory`, and the two JSON documents must be equal. Trees Ansible cannot read must be
// refused by us too: exit 4, with the file and line.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile } from 'node:child_process'
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ansibleEnv } from '../ansible.ts'
import { root } from '../fleet/_fleet.ts'
import { tempDir } from '../tmp.ts'

interface Tree {
  name: string
  files: Record<string, string>
  /** Arguments of both tools (default: -i hosts). */
  args?: string[]
  /** Ansible cannot read it either: we must exit 4 with a message matching this. */
  refused?: RegExp
  /** Warnings we must print (what Ansible silently skips). */
  warns?: RegExp[]
}

const ini = (s: string) => s.replace(/^\n/, '')

export const trees: Tree[] = [
  {
    name: 'ini-sections-children-vars',
    files: {
      hosts: ini(`
# An inventory as people write it
; with both comment styles
bastion.example.com ansible_port=2201

[web]
web[01:03].example.com ansible_user=deploy
web-extra:2222 http_port=8080   # a comment after the vars

[db]
db1 ansible_host=10.0.0.11
db2 ansible_host=10.0.0.12 role=replica

[prod:children]
web
db
cache

[cache]
redis[a:c]

[prod:vars]
env = production
http_port = 80

[web:vars]
http_port=8000
`),
    },
  },
  {
    name: 'ini-value-types',
    files: {
      hosts: ini(`
h1 int=1 quoted_int='1' float=1.5 whole=2.0 exp=1e3 neg=-4 hex=0x1F oct=0o17 under=1_000
h2 t=True f=False yes=yes true=true none=None list=[1,'a',None] tuple=(1,2) dict="{'a': {'b': [1]}}"
h3 spaced="a b c" octal=0755 semver=1.2.3 path=/etc/hbmon empty='' tuple2=1,2 str="'x'"
[all:vars]
g_int = 42
g_str = 'forty two'
g_comment = 42 # python ignores this comment
g_hash = value # but this one stays in the string
g_list = [1, 2, 3]
g_dict = {"k": "v", 1: 2}
g_bool = True
g_yes = yes
g_unicode = 'caf\\u00e9'
g_bytes = b'raw'
g_concat = 'a' "b"
g_eq = a=b=c
`),
    },
  },
  {
    name: 'ini-children-declared-later-and-nested',
    files: {
      hosts: ini(`
[world:children]
europe
asia
[europe:children]
france
germany
[france]
paris1
paris2 ansible_group_priority=5
[germany]
berlin1
[asia]
tokyo1
[france:vars]
level=france
[europe:vars]
level=europe
ansible_group_priority=3
[world:vars]
level=world
[ungrouped]
loner
`),
    },
  },
  {
    name: 'ini-host-in-several-groups-first-port-wins',
    files: {
      hosts: ini(`
a1:2201 x=1
[g1]
a1:2299 x=2
a2
[g2]
a2 x=3
a1
`),
    },
  },
  {
    name: 'yml-extension-but-ini',
    files: { 'hosts.yml': '[web]\nw1\nw2 a=1\n' },
    args: ['-i', 'hosts.yml'],
  },
  {
    name: 'group-vars-dir-file-json-noext',
    files: {
      hosts: '[web]\nw1\nw2\n[db]\nd1\n[prod:children]\nweb\ndb\n',
      'group_vars/all/10-base.yml': 'ntp: pool.ntp.org\nshared: all-10\nlist: [1, 2]\n',
      'group_vars/all/20-more.yaml': 'shared: all-20\n',
      'group_vars/all/30-plain': 'plain_file: yes\n',
      'group_vars/all/sub/40-deeper.yml': 'deeper: 1\n',
      'group_vars/all/.hidden.yml': 'hidden: 1\n',
      'group_vars/all/backup.yml~': 'backup: 1\n',
      'group_vars/all/notes.txt': 'not: read\n',
      'group_vars/web.yml': 'shared: web\nhttp_port: 80\n',
      'group_vars/db.json': '{"shared": "db", "db_port": 5432}\n',
      'group_vars/prod': 'shared: prod\nenv: production\n',
      'host_vars/w1.yml': 'shared: w1\n',
      'host_vars/d1/main.yml': 'shared: d1\nextra: [a]\n',
      'host_vars/d1/empty.yml': '',
    },
  },
  {
    name: 'group-vars-name-beats-extensions',
    files: {
      hosts: '[web]\nw1\n',
      'group_vars/web': 'from: noext\n',
      'group_vars/web.yml': 'from: yml\nonly_yml: 1\n',
      'group_vars/all.yml': 'a: yml\n',
      'group_vars/all.yaml': 'a: yaml\nonly_yaml: 1\n',
      'group_vars/wbe.yml': 'typo: 1\n',
    },
    warns: [
      /group_vars\/web\.yml: not read, as Ansible reads only web of the files named web/,
      /group_vars\/all\.yaml: not read, as Ansible reads only all\.yml/,
      /group_vars\/wbe\.yml: no such group or host in the inventory/,
    ],
  },
  {
    name: 'inventory-vars-below-group-vars',
    files: {
      hosts: '[web]\nw1 h=inline\n[web:vars]\ng=ini\nh=ini\n[all:vars]\na=ini\nb=ini\n',
      'group_vars/all.yml': 'a: group_vars_all\ng: group_vars_all\n',
      'group_vars/web.yml': 'g: group_vars_web\nh: group_vars_web\n',
    },
  },
  {
    name: 'dir-mixing-yaml-and-ini',
    files: {
      'inv/01-hosts.yml': 'web:\n  hosts:\n    w1:\n      from_yaml: 1\n    w2:\n',
      'inv/02-more': '[db]\nd1\n[web]\nw3\n[web:vars]\nfrom_ini=1\n',
      'inv/03-skipped.ini': '[skipped]\ns1\n',
      'inv/README.md': '# not an inventory\n',
      'inv/sub/04-nested.yaml': 'all:\n  children:\n    cache:\n      hosts:\n        c1:\n',
      'inv/group_vars/web.yml': 'port: 80\n',
      'inv/host_vars/d1.yml': 'port: 5432\n',
    },
    args: ['-i', 'inv'],
    warns: [/inv\/03-skipped\.ini: skipped, as Ansible skips \.ini files in an inventory directory/],
  },
  {
    name: 'several-sources-in-order',
    files: {
      'a/hosts': '[web]\nw1 x=a\n[web:vars]\nv=a\n',
      'a/group_vars/web.yml': 'gv: a\nonly_a: 1\n',
      'b/hosts.yml': 'web:\n  hosts:\n    w1:\n      x: b\n    w2:\n  vars:\n    v: b\n',
      'b/group_vars/web.yml': 'gv: b\n',
      'b/group_vars/all.yml': 'all_b: 1\n',
      'b/host_vars/w1.yml': 'hv: b\n',
      'a/host_vars/w1.yml': 'hv: a\nonly_hv_a: 1\n',
    },
    args: ['-i', 'a/hosts', '-i', 'b/hosts.yml'],
  },
  {
    name: 'playbook-dir-above-inventory',
    files: {
      'inv/hosts': '[web]\nw1\nw2\n[web:vars]\nx=inv\n',
      'inv/group_vars/all.yml': 'a: inv_all\nb: inv_all\nc: inv_all\n',
      'inv/group_vars/web.yml': 'b: inv_web\nc: inv_web\nd: inv_web\n',
      'inv/host_vars/w1.yml': 'd: inv_host\ne: inv_host\n',
      'play/group_vars/all.yml': 'a: play_all\nc: play_all\n',
      'play/group_vars/web.yml': 'c: play_web\n',
      'play/host_vars/w1.yml': 'e: play_host\n',
    },
    args: ['-i', 'inv/hosts', '--playbook-dir', 'play'],
  },
  {
    name: 'group-vars-depth-and-priority',
    files: {
      hosts: '[parent:children]\nchild\n[child]\nh1\n[other]\nh1\n[zz]\nh1\n[zz:vars]\nansible_group_priority=10\n',
      'group_vars/parent.yml': 'v: parent\nw: parent\n',
      'group_vars/child.yml': 'v: child\n',
      'group_vars/other.yml': 'w: other\nu: other\n',
      'group_vars/zz.yml': 'u: zz\n',
    },
  },
  { name: 'host-list', files: {}, args: ['-i', 'h1,h2:2222, 10.0.0.1,'] },
  {
    name: 'empty-ini-and-comments-only',
    files: { hosts: '# nothing here\n; nor here\n\n[empty]\n' },
  },
  // --- refused by both ---
  {
    name: 'refuse-vars-for-undeclared-group',
    files: { hosts: '[web]\nw1\n[db:vars]\nx=1\n' },
    refused: /hosts:3:1: .*\[db:vars\].*never declared/,
  },
  {
    name: 'refuse-children-undeclared',
    files: { hosts: '[prod:children]\nweb\n' },
    refused: /hosts:2:1: .*names a group that is never declared: web/,
  },
  {
    name: 'refuse-unknown-section-type',
    files: { hosts: '[web:hostz]\nw1\n' },
    refused: /hosts:1:1: .*unknown type "hostz"/,
  },
  {
    name: 'refuse-host-var-without-equals',
    files: { hosts: '[web]\nw1 ansible_user deploy\n' },
    refused: /hosts:2:1: expected key=value after the host name, got "ansible_user"/,
  },
  {
    name: 'refuse-unclosed-quote',
    files: { hosts: '[web]\nw1 x="open\n' },
    refused: /hosts:2:1: .*no closing quotation/,
  },
  {
    name: 'refuse-group-vars-list',
    files: { hosts: '[web]\nw1\n', 'group_vars/web.yml': '- a\n- b\n' },
    refused: /group_vars\/web\.yml:1:1: expected a mapping of variables, got a list/,
  },
  {
    name: 'refuse-section-with-space',
    files: { hosts: '[web servers]\nw1\n' },
    refused: /hosts:1:1: invalid section "\[web servers\]"/,
  },
]

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    execFile(command, args, { cwd, env, maxBuffer: 64 << 20 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  )
}

const base = tempDir('hbmon-inventory-files-')
const env: NodeJS.ProcessEnv = { ...ansibleEnv(), ANSIBLE_INVENTORY_ENABLED: 'host_list,yaml,ini' }

for (const tree of trees) {
  test(tree.name, async () => {
    const dir = join(base, tree.name)
    mkdirSync(dir, { recursive: true })
    for (const [path, text] of Object.entries(tree.files)) {
      mkdirSync(join(dir, path, '..'), { recursive: true })
      writeFileSync(join(dir, path), text)
      chmodSync(join(dir, path), 0o644)
    }
    const args = tree.args ?? ['-i', 'hosts']
    const [theirs, ours] = await Promise.all([
      run('ansible-inventory', [...args, '--list'], dir, env),
      run(process.execPath, [join(root, 'bin/deploy.js'), ...args, '--list-inventory'], dir, {
        ...process.env,
        HOME: env['HOME'],
      }),
    ])
    if (tree.refused) {
      assert.is.not(theirs.code, 0, `ansible-inventory read it: ${theirs.stdout.slice(0, 300)}`)
      assert.is(ours.code, 4, `deploy: ${ours.stdout.slice(0, 300)}${ours.stderr}`)
      assert.match(ours.stderr, tree.refused)
      return
    }
    assert.is(theirs.code, 0, theirs.stderr)
    assert.is(ours.code, 0, ours.stderr)
    assert.equal(JSON.parse(ours.stdout), JSON.parse(theirs.stdout))
    for (const warning of tree.warns ?? []) assert.match(ours.stderr, warning)
  })
}

test.run()
