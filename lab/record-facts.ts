// Records what each fact's script prints on the lab's hosts, for the parser tests in test/facts.test.ts:
// one JSON file per (fact, case, host) in test/facts/fixtures/<fact>/. Run with the lab up (VMs, light hosts
// or both): `npm run lab -- record-facts`. The parsed value is stored beside the output, so that a parser
// change shows as a diff of the fixtures when they are recorded again.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gatherCommand, type Fact } from '../src/fact.ts'
import { loadInventory } from '../src/inventory.ts'
import { Transport } from '../src/ssh.ts'
import { FileContent, FileStats, GlobMatches, PathStat } from '../facts/files.ts'
import { HbmonHost, KernelModules, ModuleCheck, ModuleStatus, ReleaseHistory, ReleaseManifest } from '../facts/hbmon.ts'
import { AptPackages, PackageManager } from '../facts/packages.ts'
import { ServiceManager, SystemdUnit } from '../facts/services.ts'
import {
  Environment,
  GroupEntries,
  GroupExists,
  InstalledKernels,
  InstalledPackages,
  System,
  UserEntryFact,
  UserIds,
} from '../facts/system.ts'

/** Each fact with the arguments worth recording: a present and an absent thing where it matters. */
export const samples: { case: string; fact: Fact<unknown>; args: string[] }[] = [
  {
    case: 'mixed',
    fact: FileStats,
    // Pairs 0|1 PATH: every kind of path, summed or not (/etc/os-release, a link to a file, is not).
    args: [
      ['1', '/etc/hostname'],
      ['1', '/etc'],
      ['1', '/nonexistent'],
      ['1', '/dev/null'],
      ['0', '/etc/os-release'],
      ['1', '/etc/ssh/sshd_config'],
    ].flat(),
  },
  { case: 'no-checksum', fact: FileStats, args: ['0', '/etc/hostname', '0', '/usr/bin'] },
  { case: 'present', fact: FileContent, args: ['/etc/hostname'] },
  { case: 'file', fact: PathStat, args: ['0', 'sha1', '1', '1', '/etc/hostname'] },
  { case: 'link', fact: PathStat, args: ['0', 'sha256', '1', '1', '/bin'] },
  { case: 'followed', fact: PathStat, args: ['1', 'sha1', '0', '0', '/etc/os-release'] },
  { case: 'device', fact: PathStat, args: ['0', 'none', '0', '0', '/dev/null'] },
  { case: 'absent', fact: PathStat, args: ['0', 'sha1', '1', '1', '/nonexistent'] },
  { case: 'absent', fact: FileContent, args: ['/nonexistent'] },
  { case: 'matches', fact: GlobMatches, args: ['host*', '/etc'] },
  { case: 'no-match', fact: GlobMatches, args: ['/nonexistent*', ''] },
  { case: 'default', fact: System, args: [] },
  { case: 'default', fact: Environment, args: [] },
  { case: 'root', fact: GroupExists, args: ['root'] },
  { case: 'absent', fact: GroupExists, args: ['no-such-group'] },
  { case: 'mixed', fact: GroupEntries, args: ['root', 'no-such-group', 'sudo'] },
  { case: 'root', fact: UserEntryFact, args: ['root'] },
  { case: 'nobody', fact: UserEntryFact, args: ['nobody'] },
  { case: 'absent', fact: UserEntryFact, args: ['no-such-user'] },
  { case: 'mixed', fact: UserIds, args: ['root', 'nobody', 'no-such-user'] },
  { case: 'mixed', fact: InstalledPackages, args: ['openssh-server', 'no-such-package', 'rsyslog'] },
  { case: 'default', fact: InstalledKernels, args: [] },
  { case: 'mixed', fact: AptPackages, args: ['openssh-server', 'no-such-package', 'mail-transport-agent', 'hello'] },
  { case: 'cache', fact: AptPackages, args: [] },
  { case: 'default', fact: PackageManager, args: [] },
  { case: 'default', fact: ServiceManager, args: [] },
  { case: 'ssh', fact: SystemdUnit, args: ['ssh'] },
  { case: 'absent', fact: SystemdUnit, args: ['no-such-unit'] },
  { case: 'default', fact: HbmonHost, args: [] },
  { case: 'every', fact: KernelModules, args: [] },
  { case: 'absent', fact: KernelModules, args: ['0.0.0-none'] },
  { case: 'all', fact: ModuleStatus, args: ['all'] },
  { case: 'default', fact: ModuleCheck, args: [] },
  { case: 'default', fact: ReleaseHistory, args: [] },
  { case: 'absent', fact: ReleaseManifest, args: ['000000000000'] },
]

export interface FactFixture {
  fact: string
  case: string
  host: string
  args: string[]
  stdout: string
  code: number
  parsed: unknown
}

/** Runs every sample on every host of the inventory, one remote command per host; returns the files written. */
export async function recordFacts(
  inventoryPath: string,
  outDir: string,
  hostNames?: string[],
  factNames?: string[],
): Promise<string[]> {
  const chosen = samples.filter((s) => !factNames || factNames.includes(s.fact.name))
  const inventory = await loadInventory(inventoryPath)
  const transport = new Transport()
  const written: string[] = []
  try {
    for (const host of inventory.hosts.values()) {
      if (hostNames && !hostNames.includes(host.name)) continue
      const session = await transport.session(host.name, host.connection)
      // Each sample's own output, as its fact prints it for those args alone.
      const { command, split } = gatherCommand(
        chosen.map((s) => [s.fact, ...s.args] as const),
        { merge: false },
      )
      const outputs = split((await session.exec(command)).stdout)
      for (const [i, sample] of chosen.entries()) {
        const { stdout, code } = outputs[i]!
        let parsed: unknown
        try {
          parsed = toJson(sample.fact.parse(stdout, code, sample.args))
        } catch (e) {
          parsed = { error: (e as Error).message }
        }
        const fixture: FactFixture = {
          fact: sample.fact.name,
          case: sample.case,
          host: host.name,
          args: sample.args,
          stdout,
          code,
          parsed,
        }
        const dir = join(outDir, sample.fact.name)
        mkdirSync(dir, { recursive: true })
        const file = join(dir, `${sample.case}.${host.name}.json`)
        writeFileSync(file, `${JSON.stringify(fixture, null, 2)}\n`)
        written.push(file)
      }
    }
  } finally {
    await transport.closeAll()
  }
  return written
}

/** Maps and Sets as JSON can hold them. */
export function toJson(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value, (_key, v: unknown) =>
      v instanceof Map ? Object.fromEntries(v) : v instanceof Set ? [...v] : v,
    ),
  )
}
