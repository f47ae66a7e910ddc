// hbmon_release: records what is installed as a release — /var/lib/hbmon/releases/<id>/ with a copy of every
// managed file and a manifest of their sha256 and modes — and points /var/lib/hbmon/current at it (written
// atomically); keeps the last `keep` releases. The id is a hash of the manifest, so an unchanged host keeps
// its release and reports no change. Runs after verify: the current release is always a verified one, which
// is what load and verify roll back to.
import { defineTask } from '../src/task.ts'
import { formatManifest, ReleaseHistory } from '../facts/hbmon.ts'
import { factsOf, installedManifest, kernelsOf, recordRelease, releaseId, writeHistory } from './_hbmon.ts'

export default defineTask<{ keep?: number }>({
  name: 'hbmon_release',
  description: 'record the installed hbmon files as a release on the host and make it current',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      keep: {
        type: 'integer',
        minimum: 1,
        description: 'how many releases to keep (default: var hbmon_keep_releases, else 5)',
      },
    },
  },
  async run(host, args) {
    const keep = args.keep ?? (Number(host.vars.hbmon_keep_releases) || 5)
    const [facts, kernels] = await Promise.all([factsOf(host), kernelsOf(host)])
    const others = kernels.kernels.map((k) => k.release)
    const [entries, history] = await Promise.all([
      installedManifest(host, facts.kernel, others),
      host.fact(ReleaseHistory),
    ])
    if (!entries.length) return { changed: false, skipped: true, msg: 'nothing installed to record' }
    const id = releaseId(formatManifest(entries))
    const data = { release: id, previous: history.current, files: entries.length }
    if (history.current === id)
      return { changed: false, msg: `release ${id} is current`, data, facts: { hbmon_release: id } }
    return {
      changed: false,
      data,
      facts: { hbmon_release: id },
      changes: [
        {
          describe: `release ${id} (${entries.length} files) is current${history.current ? `, previous ${history.current}` : ''}`,
          async apply() {
            await recordRelease(host, entries)
            await writeHistory(host, [...history.ids.filter((i) => i !== id), id], id, keep)
          },
        },
      ],
    }
  },
})
