// The differential suite: every case of cases.ts run by ansible-playbook and by npx deploy on twin light hosts
// (see oracle.ts). It prints one line per case and a summary ("N cases, N agree"); a case that disagrees
// fails the test unless it is a deliberate difference (listed in README with its reason), and a deliberate
// difference that agrees again is reported so that the table can shrink. HBMON_DIFF=name,name runs some cases.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { tempDir } from '../tmp.ts'
import { cases } from './cases.ts'
import { checkAll, Oracle, type Verdict } from './oracle.ts'

const oracle = new Oracle(tempDir('hbmon-differential-'), process.env.HBMON_LAB_NET ?? '127.0.42')
const only = process.env.HBMON_DIFF?.split(',')
const selected = only ? cases.filter((c) => only.includes(c.name)) : cases

test('the corpus: at least 60 cases, unique names', () => {
  assert.ok(cases.length >= 60, `${cases.length} cases`)
  assert.is(new Set(cases.map((c) => c.name)).size, cases.length)
})

test('ansible-playbook and npx deploy agree, or we refuse before connecting, or the difference is deliberate', async () => {
  try {
    const started = Date.now()
    await oracle.up(selected)
    const verdicts: Verdict[] = await checkAll(oracle, selected, Number(process.env.HBMON_DIFF_JOBS ?? 3), (v) =>
      console.log(
        `${v.agree ? 'agree   ' : v.deliberate ? 'differ* ' : 'DIFFER  '} ${v.name} (${v.seconds.toFixed(1)} s${v.grouped ? `, with ${v.grouped - 1} more in one ansible-playbook run` : ''})${v.agree ? '' : `\n    ${v.differences.join('\n    ')}`}`,
      ),
    )
    const agree = verdicts.filter((v) => v.agree).length
    const refused = selected.filter((c) => c.refused).length
    const deliberate = verdicts.filter((v) => !v.agree && v.deliberate)
    const wrong = verdicts.filter((v) => !v.agree && !v.deliberate)
    console.log(
      `\n${verdicts.length} cases, ${agree} agree (${refused} of them refused before connecting), ${deliberate.length} deliberate differences, ${wrong.length} unexplained; ${((Date.now() - started) / 1000).toFixed(0)} s`,
    )
    for (const v of verdicts.filter((v) => v.agree && v.deliberate))
      console.log(`note: ${v.name} is listed as a deliberate difference but agrees now`)
    assert.equal(
      wrong.map((v) => v.name),
      [],
    )
  } finally {
    await oracle.down()
  }
})

test.run()
