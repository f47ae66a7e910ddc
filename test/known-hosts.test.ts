// known_hosts as OpenSSH reads it: plain, [host]:port, hashed, wildcards, negation, @revoked; appends are atomic.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createHmac, randomBytes } from 'node:crypto'
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  appendKnownHost,
  checkHostKey,
  keyType,
  knownHostName,
  knownKeyTypes,
  parseKnownHosts,
  readKnownHosts,
} from '../src/known-hosts.ts'
import { tempDir } from './tmp.ts'

// Wire-format key blobs: string type, then a string of key bytes.
function blob(type: string, seed: string): Buffer {
  const t = Buffer.from(type)
  const k = Buffer.from(seed.padEnd(32, '.'))
  const out = Buffer.alloc(8 + t.length + k.length)
  out.writeUInt32BE(t.length, 0)
  t.copy(out, 4)
  out.writeUInt32BE(k.length, 4 + t.length)
  k.copy(out, 8 + t.length)
  return out
}
const keyA = blob('ssh-ed25519', 'A')
const keyB = blob('ssh-ed25519', 'B')
const rsa = blob('ssh-rsa', 'R')
const line = (hosts: string, key: Buffer, marker = '') =>
  `${marker}${hosts} ${keyType(key)} ${key.toString('base64')} comment`

function hashed(name: string): string {
  const salt = randomBytes(20)
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`
}

test('names: port 22 plain, other ports in brackets', () => {
  assert.is(knownHostName('10.0.0.1', 22), '10.0.0.1')
  assert.is(knownHostName('10.0.0.1', 2222), '[10.0.0.1]:2222')
})

test('plain, comma lists, [host]:port, comments and blank lines', () => {
  const entries = parseKnownHosts(
    ['# comment', '', line('alpha,10.0.0.1', keyA), line('[10.0.0.1]:2222', keyB), 'garbage line'].join('\n'),
  )
  assert.is(entries.length, 2)
  assert.is(checkHostKey(entries, 'alpha', keyA).status, 'known')
  assert.is(checkHostKey(entries, '10.0.0.1', keyA).status, 'known')
  assert.is(checkHostKey(entries, '[10.0.0.1]:2222', keyB).status, 'known')
  assert.equal(checkHostKey(entries, '[10.0.0.1]:2222', keyA), { status: 'changed', line: 4 })
  assert.is(checkHostKey(entries, 'beta', keyA).status, 'unknown')
  // another key type for a known host is not "changed": ssh asks for the known types first
  assert.is(checkHostKey(entries, 'alpha', rsa).status, 'unknown')
  assert.equal(knownKeyTypes(entries, 'alpha'), ['ssh-ed25519'])
})

test('hashed entries (|1|salt|hmac) for plain and bracketed names', () => {
  const entries = parseKnownHosts(
    [line(hashed('gamma.example'), keyA), line(hashed('[gamma.example]:2200'), keyB)].join('\n'),
  )
  assert.is(checkHostKey(entries, 'gamma.example', keyA).status, 'known')
  assert.is(checkHostKey(entries, 'gamma.example', keyB).status, 'changed')
  assert.is(checkHostKey(entries, '[gamma.example]:2200', keyB).status, 'known')
  assert.is(checkHostKey(entries, 'delta.example', keyA).status, 'unknown')
})

test('wildcards, negation and @revoked', () => {
  const entries = parseKnownHosts(
    [
      line('*.lab,!bad.lab', keyA),
      line('web?', keyB),
      line('revoked.lab', keyA, '@revoked '),
      line('*', rsa, '@cert-authority '),
    ].join('\n'),
  )
  assert.is(checkHostKey(entries, 'x.lab', keyA).status, 'known')
  assert.is(checkHostKey(entries, 'bad.lab', keyA).status, 'unknown')
  assert.is(checkHostKey(entries, 'web1', keyB).status, 'known')
  assert.is(checkHostKey(entries, 'web12', keyB).status, 'unknown')
  assert.equal(checkHostKey(entries, 'revoked.lab', keyA), { status: 'revoked', line: 3 })
})

test('append: adds a line, keeps the file mode, serializes concurrent appends', async () => {
  const dir = tempDir('hbmon-kh-')
  const file = join(dir, 'sub', 'known_hosts')
  await Promise.all(
    Array.from({ length: 20 }, (_, i) => appendKnownHost(file, `host${i}`, blob('ssh-ed25519', String(i)))),
  )
  const entries = await readKnownHosts(file)
  assert.is(entries.length, 20)
  for (let i = 0; i < 20; i++)
    assert.is(checkHostKey(entries, `host${i}`, blob('ssh-ed25519', String(i))).status, 'known')
  assert.is(statSync(file).mode & 0o777, 0o600)
  const other = join(dir, 'kh2')
  writeFileSync(other, line('a', keyA), { mode: 0o644 }) // no trailing newline
  await appendKnownHost(other, 'b', keyB)
  assert.is(readFileSync(other, 'utf8').split('\n').length, 3)
  assert.is(statSync(other).mode & 0o777, 0o644)
  assert.equal(await readKnownHosts(join(dir, 'missing')), [])
})

test.run()
