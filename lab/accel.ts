// Which QEMU accelerator the lab's VMs use. A /dev/kvm that exists is not proof that KVM works: on nested
// hosts QEMU may abort on an MSR (IA32_ARCH_CAPABILITIES) or start a guest that never runs a single kernel
// instruction. So KVM is used only after a probe boot of the lab's own kernel prints its banner on the serial
// console; the verdict is cached per machine boot and QEMU binary. HBMON_LAB_ACCEL=kvm|tcg forces either
// (a forced kvm that fails its probe is an error, not a silent fallback).
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { cacheDir } from './images.ts'

export type Accel = 'kvm' | 'tcg'

export interface AccelChoice {
  accel: Accel
  /** One line: why this accelerator (forced, probed, cached probe). */
  reason: string
}

/** What proves a guest kernel runs: its first console line. */
export const kernelBanner = /Linux version \d/

const probeTimeoutMs = 15_000

export interface ProbeResult {
  ok: boolean
  /** Why not: QEMU's own error, or what the console showed before the bound. */
  detail: string
  ms: number
}

/** Boots `kernel` with KVM (no disk, no initrd) and waits for its banner on the serial console. */
export function probeKvm(kernel: string, timeoutMs = probeTimeoutMs): Promise<ProbeResult> {
  const started = Date.now()
  const args = [
    '-machine',
    'q35,accel=kvm',
    '-cpu',
    'max',
    '-smp',
    '1',
    '-m',
    '256',
    '-nodefaults',
    '-no-reboot',
    '-display',
    'none',
    '-serial',
    'stdio',
    '-kernel',
    kernel,
    '-append',
    'console=ttyS0 panic=-1',
  ]
  return new Promise((resolve) => {
    const child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    let settled = false
    const finish = (ok: boolean, detail: string) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      resolve({ ok, detail, ms: Date.now() - started })
    }
    const timer = setTimeout(() => {
      const last = output.trim().split('\n').at(-1)?.trim()
      finish(
        false,
        `the guest printed no kernel banner within ${timeoutMs / 1000} s${last ? ` (last console line: "${last.slice(0, 120)}")` : ' (console silent)'}`,
      )
    }, timeoutMs)
    const read = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-8192)
      if (kernelBanner.test(output)) finish(true, 'kernel banner seen')
    }
    child.stdout.on('data', read)
    child.stderr.on('data', read)
    child.on('error', (err) => finish(false, `qemu-system-x86_64 did not start: ${err.message}`))
    child.on('exit', (code, sig) => {
      const errors = output
        .split('\n')
        .filter((l) => l.includes('qemu-system-x86_64'))
        .map((l) => l.trim())
      finish(
        false,
        `QEMU exited (${sig ?? `code ${code}`}) before the kernel banner${errors.length ? `: ${errors.join(' / ').slice(0, 300)}` : ''}`,
      )
    })
  })
}

/** What the cached verdict is valid for: this boot of this machine and this QEMU binary. */
function machineKey(): string {
  const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
  const qemu = ['/usr/bin/qemu-system-x86_64', '/usr/local/bin/qemu-system-x86_64'].find(existsSync)
  const qemuStamp = qemu ? `${qemu}@${statSync(qemu).mtimeMs}` : 'no-qemu'
  return `${bootId} ${qemuStamp}`
}

const verdictPath = () => join(cacheDir(), 'accel.json')

function readVerdict(): { ok: boolean; detail: string } | undefined {
  try {
    const saved = JSON.parse(readFileSync(verdictPath(), 'utf8')) as { key: string; ok: boolean; detail: string }
    return saved.key === machineKey() ? saved : undefined
  } catch {
    return undefined
  }
}

function saveVerdict(result: ProbeResult): void {
  mkdirSync(cacheDir(), { recursive: true })
  const tmp = `${verdictPath()}.tmp${process.pid}`
  writeFileSync(
    tmp,
    JSON.stringify(
      { key: machineKey(), ok: result.ok, detail: result.detail, ms: result.ms, at: new Date().toISOString() },
      null,
      2,
    ),
  )
  renameSync(tmp, verdictPath())
}

/**
 * Picks the accelerator for this run. `kernel` is a lab kernel to probe with. Throws when KVM is forced but
 * does not work here, so a forced run fails in seconds with the reason instead of hanging at boot.
 */
export async function chooseAccel(kernel: string, forced = process.env.HBMON_LAB_ACCEL): Promise<AccelChoice> {
  if (forced !== undefined && forced !== '' && forced !== 'kvm' && forced !== 'tcg') {
    throw new Error(`HBMON_LAB_ACCEL must be kvm or tcg, got "${forced}"`)
  }
  if (forced === 'tcg') return { accel: 'tcg', reason: 'forced by HBMON_LAB_ACCEL=tcg' }
  if (!existsSync('/dev/kvm')) {
    if (forced === 'kvm') throw new Error('HBMON_LAB_ACCEL=kvm, but this machine has no /dev/kvm')
    return { accel: 'tcg', reason: 'no /dev/kvm on this machine' }
  }
  let verdict = readVerdict()
  let cached = true
  if (!verdict) {
    cached = false
    const result = await probeKvm(kernel)
    saveVerdict(result)
    verdict = result
  }
  const how = cached ? 'cached KVM probe' : 'KVM probe'
  if (verdict.ok) return { accel: 'kvm', reason: `${how} booted the lab kernel` }
  if (forced === 'kvm') {
    throw new Error(
      `HBMON_LAB_ACCEL=kvm, but KVM does not work on this machine: ${verdict.detail.replace(/\.$/, '')}. Unset it to fall back to TCG.`,
    )
  }
  return { accel: 'tcg', reason: `/dev/kvm exists but the ${how} failed: ${verdict.detail}` }
}
