// The transport's pure parts: the login user (which decides whether become needs sudo), and the shell words.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { $ } from 'zx'
import { loginUser, shellLine } from '../src/ssh.ts'
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

test("the connection's shell runs plain words in a subshell, a task's `sh -c WORD` as /bin/sh -c WORD, any other command quoted whole", () => {
  const tail = ' </dev/null 9>&-'
  const script = `printf '%s\\n' "$1" && mv -f -- a b`
  assert.is(shellLine(`sh -c ${quote(script)}`), `/bin/sh -c ${quote(script)}${tail}`)
  // Plain words (the command module's argv, the benchmark's no-op `command: "true"`): one process, not two.
  assert.is(shellLine("sh -c 'uname -r'"), `( uname -r )${tail}`)
  assert.is(shellLine('sh -c true'), `( true )${tail}`)
  assert.is(shellLine(`sh -c ${quote(`echo 'it'\''s' "a b"`)}`), `/bin/sh -c ${quote(`echo 'it'\''s' "a b"`)}${tail}`)
  assert.is(shellLine(`sh -c ${quote(`printf %s ${quote("it's $HOME")}`)}`), `( printf %s 'it'\\''s $HOME' )${tail}`)
  assert.is(shellLine("ls -l '/a b'"), `( ls -l '/a b' )${tail}`)
  // A reserved word first is syntax, and a syntax error would end the connection's shell: a shell of its own.
  for (const word of ['if', 'then', 'done', 'while', 'for', 'case', 'time'])
    assert.is(shellLine(`sh -c ${word}`), `/bin/sh -c ${word}${tail}`)
  assert.is(shellLine("echo if 'fi'"), `( echo if 'fi' )${tail}`)
  // Not one quoted word after sh -c, and not plain words: the whole line is the command.
  assert.is(shellLine("sh -c 'a' 'b'"), `( sh -c 'a' 'b' )${tail}`)
  for (const command of ["sh -c 'a'; rm x", 'sh -c $x', "sh -c 'a''b'", 'ls *', 'a  b', 'a;b', 'a\nb'])
    assert.is(shellLine(command), `/bin/sh -c ${quote(command)}${tail}`)
  // The engine's own scripts (a gather) run as they are, in a subshell.
  assert.is(shellLine('x=1; (exit 3); echo $?', true), `(\nx=1; (exit 3); echo $?\n)${tail}`)
})

test('a plain line runs in a subshell as it would in a shell of its own: exit, cd, builtins, quotes', async () => {
  // The connection's shell (sh -s) reads the lines from its input, as on a host; each prints its status.
  const lines = [
    'sh -c true',
    "sh -c 'exit 7'",
    "sh -c 'cd /'",
    `sh -c ${quote(`printf '<%s>' ${quote("it's $HOME *")} a`)}`,
    "sh -c 'if'",
    "sh -c 'nonexistent-command-hbmon'",
    'sh -c pwd',
  ]
  const input = lines.map((l) => `${shellLine(l)}\necho " =$?"\n`).join('')
  const own = lines.map((l) => `sh -c ${l.startsWith('sh -c ') ? l.slice(6) : quote(l)} </dev/null; echo " =$?"\n`)
  const viaSubshell = await $({ input, nothrow: true, cwd: '/tmp' })`sh -s`
  const viaShells = await $({ input: own.join(''), nothrow: true, cwd: '/tmp' })`sh -s`
  assert.is(viaSubshell.stdout, viaShells.stdout)
  assert.is(viaSubshell.stdout.match(/ =\d+$/gm)?.length, lines.length, 'the shell outlived every line')
  assert.match(viaSubshell.stdout, `<it's $HOME *><a> =0`)
})

test.run()
