// The kernel hook (templates/hbmon-kernel-hook) on a light host: this machine's Debian 12 userland, its kbuild
// headers for 6.1 and gcc, but no kernel to load into. Each of the hook's ways for a kernel release — a build
// the deploy left ahead, a build on the host, neither (a warning), already there, and the kernel's removal —
// with the line it leaves. The VM test (test/slow/kernels.test.ts) runs it from a real kernel package.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Lab } from '../../lab/lab.ts'
import { tempDir } from '../tmp.ts'

const dir = tempDir('hbmon-kernel-hook-')
const lab = new Lab({ dir: join(dir, 'lab'), net: '127.0.141' })
const host = 'light01'
const hook = '/usr/lib/hbmon/kernel-hook'
const source = fileURLToPath(new URL('../../kernel/', import.meta.url))
// The release this machine has kbuild headers for (lab/setup.sh installs linux-headers-amd64).
const headers = readdirSync('/lib/modules').find((r) => /-amd64$/.test(r))

async function sh(command: string, code = 0): Promise<{ stdout: string; stderr: string }> {
  const result = await lab.ssh(host, command)
  assert.is(result.code, code, `${command}\nexit ${result.code}\n${result.stderr}${result.stdout}`)
  return result
}

test('the hook builds on the host, installs a build left ahead, warns when it can do neither, and removes', async () => {
  assert.ok(headers, 'this machine has no /lib/modules/*-amd64 (kbuild headers)')
  await lab.up({ light: 1 })
  await sh('mkdir -p /usr/lib/hbmon/src')
  await lab.copyTo(host, fileURLToPath(new URL('../../templates/hbmon-kernel-hook', import.meta.url)), hook)
  for (const f of ['Makefile', 'hbmon.c', 'hbmon.h', 'hbmon-client.h', 'hbctl.c', 'hbmon-listen.c'])
    await lab.copyTo(host, join(source, f), `/usr/lib/hbmon/src/${f}`)

  // Neither a build ahead nor headers for this release: a warning, nothing installed, the package not failed.
  await sh('mkdir -p /lib/modules/9.9.9-hbmon-test/kernel')
  const neither = await sh(`sh ${hook} install 9.9.9-hbmon-test`)
  assert.match(
    neither.stderr,
    /\[hbmon\] kernel-hook: kernel 9\.9\.9-hbmon-test: NO hbmon module: .*missing: linux-headers-9\.9\.9-hbmon-test\).*WITHOUT hbmon/,
  )
  await sh('test ! -e /lib/modules/9.9.9-hbmon-test/updates/hbmon.ko')

  // Headers and make here: built on the host, installed beside its place and renamed, depmod run.
  await sh(`mkdir -p /lib/modules/${headers}/kernel`)
  const built = await sh(`sh ${hook} install ${headers}`)
  const srcversion = (await sh(`modinfo -F srcversion /lib/modules/${headers}/updates/hbmon.ko`)).stdout.trim()
  assert.match(srcversion, /^[0-9A-F]{23}$/)
  assert.match(built.stderr, new RegExp(`kernel ${headers}: built hbmon ${srcversion} on this host and installed it`))
  assert.match(
    (await sh(`modinfo -F vermagic /lib/modules/${headers}/updates/hbmon.ko`)).stdout,
    new RegExp(`^${headers} `),
  )
  assert.match((await sh(`cat /lib/modules/${headers}/modules.dep`)).stdout, /^updates\/hbmon\.ko:/m)
  await sh('ls /tmp | grep -c hbmon-kernel-hook', 1)

  // Run again (the headers package's own hook run): nothing to do.
  const again = await sh(`sh ${hook} install ${headers}`)
  assert.match(again.stderr, new RegExp(`kernel ${headers}: hbmon ${srcversion} is installed already`))

  // A build left ahead by the deploy wins over building: no headers needed.
  await sh(
    `mkdir -p /var/lib/hbmon/modules/9.9.9-hbmon-test && cp /lib/modules/${headers}/updates/hbmon.ko /var/lib/hbmon/modules/9.9.9-hbmon-test/`,
  )
  const ahead = await sh(`sh ${hook} install 9.9.9-hbmon-test`)
  assert.match(
    ahead.stderr,
    new RegExp(`kernel 9\\.9\\.9-hbmon-test: installed hbmon ${srcversion} built ahead by the deploy`),
  )
  await sh('cmp /var/lib/hbmon/modules/9.9.9-hbmon-test/hbmon.ko /lib/modules/9.9.9-hbmon-test/updates/hbmon.ko')

  // A headers package alone (no kernel image unpacked for it): left to the image's own hook run.
  await sh('mkdir -p /lib/modules/9.9.8-hbmon-test/build')
  const alone = await sh(`sh ${hook} install 9.9.8-hbmon-test`)
  assert.is(alone.stderr, '')

  // The kernel's removal takes its module.
  const removed = await sh(`sh ${hook} remove ${headers}`)
  assert.match(removed.stderr, new RegExp(`kernel ${headers} removed: its hbmon module too`))
  await sh(`test ! -e /lib/modules/${headers}/updates/hbmon.ko`)
  await sh(`sh ${hook} bogus`)
})

test('the lab goes down', async () => {
  await lab.down()
})

test.after(() => lab.down())

test.run()
