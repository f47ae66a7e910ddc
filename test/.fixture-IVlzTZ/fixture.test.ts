import { test } from 'uvu'
test('a', () => {})
test('b', () => {})
test.run()
