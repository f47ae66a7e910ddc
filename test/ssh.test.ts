// The transport's pure parts: the login user (which decides whether become needs sudo), and the shell words.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { loginUser, ownShell } from '../src/ssh.ts'
import { type Connection } from '../src/connection.ts'
import { quote, splitWords } from '../src/util.ts'

const target = (user?: string): Connection => ({
  host: 'h',
  port: 22,
  ...(user ? { user } : {}),
  become: true,
  becomeUser: 'root',
  becomeMethod: 'sudo',
  connection: 'ssh',
  proxyJump: [],
  knownHostsFile: '/dev/null',
  sshOptions: {},
})

test('without ansible_user the login user is the local user, as with ssh (so become as root needs sudo)', () => {
  const saved = process.env.USER
  try {
    process.env.USER = 'alice'
    assert.is(loginUser(target()), 'alice')
    assert.is(loginUser(target('root')), 'root')
  } finally {
    process.env.USER = saved
  }
})

test('shell words: quotes and backslashes, nothing expanded; an unclosed quote is an error', () => {
  assert.equal(splitWords(`a 'b c' "d \\"e\\"" f\\ g $HOME`), ['a', 'b c', 'd "e"', 'f g', '$HOME'])
  assert.throws(() => splitWords(`echo 'oops`), /unterminated '/)
})

test("the connection's shell gives /bin/sh -c a task's `sh -c WORD` as WORD, and any other command quoted whole", () => {
  const script = `printf '%s\\n' "$1" && mv -f -- a b`
  assert.is(ownShell(`sh -c ${quote(script)}`), quote(script))
  assert.is(ownShell("sh -c 'uname -r'"), "'uname -r'")
  // A word quote() leaves bare (the benchmark's no-op task: `command: "true"`).
  assert.is(ownShell('sh -c true'), 'true')
  assert.is(ownShell('sh -c uname'), 'uname')
  // Not one quoted word after sh -c: the whole line is the command.
  for (const command of [
    "sh -c 'a' 'b'",
    "sh -c 'a'; rm x",
    'sh -c a b',
    'sh -c $x',
    'ls -l',
    "sh -c 'a''b'",
    "bash -c 'a'",
  ])
    assert.is(ownShell(command), quote(command))
})

test.run()
