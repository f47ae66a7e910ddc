// The accelerator is chosen by trying it, and a VM that never starts fails fast and says why.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { chooseAccel, probeKvm } from '../../lab/accel.ts'
import { ensureImage, recipes } from '../../lab/images.ts'
import { Lab } from '../../lab/lab.ts'
import { bootVm, ensureSegment } from '../../lab/vms.ts'
import { terminate } from '../../lab/procs.ts'
import { tempDir } from '../tmp.ts'

const image = () => ensureImage(recipes.debian12!, () => {})

test('HBMON_LAB_ACCEL: tcg is taken as is, a bad value is refused', async () => {
  const { kernel } = await image()
  assert.equal(await chooseAccel(kernel, 'tcg'), { accel: 'tcg', reason: 'forced by HBMON_LAB_ACCEL=tcg' })
  try {
    await chooseAccel(kernel, 'hvf')
    assert.unreachable('a bad value was accepted')
  } catch (err) {
    assert.match((err as Error).message, 'HBMON_LAB_ACCEL must be kvm or tcg, got "hvf"')
  }
})

test('the default follows a real probe boot; forced kvm where the probe fails is an error within seconds', async () => {
  const { kernel } = await image()
  const probe = existsSync('/dev/kvm') ? await probeKvm(kernel) : undefined
  console.log(`  probe: ${probe ? `${probe.ok ? 'ok' : 'failed'} in ${probe.ms} ms: ${probe.detail}` : 'no /dev/kvm'}`)
  const chosen = await chooseAccel(kernel, '')
  console.log(`  chosen: ${chosen.accel} (${chosen.reason})`)
  assert.is(chosen.accel, probe?.ok ? 'kvm' : 'tcg')
  if (probe?.ok) {
    assert.is((await chooseAccel(kernel, 'kvm')).accel, 'kvm')
    return
  }
  const started = Date.now()
  try {
    await chooseAccel(kernel, 'kvm')
    assert.unreachable('forced kvm was accepted where it does not work')
  } catch (err) {
    assert.match(
      (err as Error).message,
      /^HBMON_LAB_ACCEL=kvm, but (KVM does not work on this machine: .+|this machine has no \/dev\/kvm)/,
    )
  }
  assert.ok(Date.now() - started < 30_000)
})

test('QEMU that exits at start fails the boot at once with its own message and command line', async () => {
  const real = await image()
  const dir = tempDir('hbmon-accel-')
  const notAKernel = join(dir, 'vmlinuz')
  writeFileSync(notAKernel, 'this is not a kernel\n')
  const segment = await ensureSegment(dir, undefined)
  try {
    await bootVm(
      {
        kind: 'vm',
        name: 'broken',
        image: dir,
        kernelRelease: 'none',
        hostKey: '',
        sshPort: 1,
        mac: '52:54:00:4c:00:99',
        dir: join(dir, 'vm'),
      },
      { ...real, kernel: notAKernel },
      segment,
      'tcg',
    )
    assert.unreachable('QEMU started with a file that is not a kernel')
  } catch (err) {
    const message = (err as Error).message
    assert.match(message, /broken: QEMU exited \(code 1\)/, message)
    assert.match(message, /command: qemu-system-x86_64 .*-kernel/)
    assert.match(message, /qemu said:\n.*(kernel|linux)/i)
  } finally {
    await terminate(segment.pid, 5000)
  }
})

test('a VM whose kernel prints nothing fails within the bound, with its console tail and QEMU command line', async () => {
  // loglevel=0 after the lab's own loglevel=6 keeps the kernel's banner off the console: a guest that looks
  // like one stuck before its first instruction.
  const lab = new Lab({ dir: tempDir('hbmon-accel-lab-'), kernelArgs: 'loglevel=0', bootBannerMs: 10_000 })
  const started = Date.now()
  try {
    await lab.up({ vms: ['debian12'] })
    assert.unreachable('a silent VM was waited for')
  } catch (err) {
    const message = (err as Error).message
    assert.match(message, /^debian12: the guest kernel printed nothing within 10 s under (kvm|tcg)/)
    assert.match(message, /command: qemu-system-x86_64 .*loglevel=0/)
    assert.match(message, /console \(last lines\):/)
  } finally {
    await lab.down()
  }
  assert.ok(Date.now() - started < 60_000, `took ${Date.now() - started} ms`)
})

test.run()
