// hbmon_units validation: what becomes /etc/hbmon/units/NAME and the module's helper_map (NAME:UID,...) must
// keep to the kernel's name rule and never carry the map's separators or a path.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { checkUnits } from '../tasks/hbmon_access.ts'

test('a list of { name, unit, user } passes; nothing set is an empty map', () => {
  assert.equal(checkUnits(undefined), [])
  assert.equal(checkUnits([{ name: 'web-app', unit: 'web@1.service', user: 'www-data' }]), [
    { name: 'web-app', unit: 'web@1.service', user: 'www-data' },
  ])
})

test('names with a map separator, a path, a blank or too long are refused; so are a duplicate, a bad unit or user', () => {
  for (const name of ['a:b', 'a,b', 'a/b', '.hidden', 'has space', 'x'.repeat(32), ''])
    assert.throws(() => checkUnits([{ name, unit: 'u.service', user: 'u' }]), /name/, name)
  assert.throws(() => checkUnits([{ name: 'a', unit: 'u.service; rm -rf /', user: 'u' }]), /unit/)
  assert.throws(() => checkUnits([{ name: 'a', unit: 'u.service', user: 'u\nroot' }]), /user/)
  assert.throws(
    () =>
      checkUnits([
        { name: 'a', unit: 'u.service', user: 'u' },
        { name: 'a', unit: 'v.service', user: 'v' },
      ]),
    /twice/,
  )
  assert.throws(() => checkUnits({ name: 'a' }), /list/)
})

test.run()
