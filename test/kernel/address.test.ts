// Addresses: `kind/id` and `kind/id@node` parsing, the invalid forms, the parse cache, and the key
// hash that pins a keyed actor to a worker.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import {
  AddressCache,
  MAX_ID_LENGTH,
  formatAddress,
  hashKey,
  parseAddress,
} from '../../src/kernel/address.ts'
import { BadRequestError, ErrorCode } from '../../src/errors.ts'

function assertInvalid(text: unknown): void {
  assert.throws(
    () => parseAddress(text as string),
    (err: unknown) => {
      assert.ok(err instanceof BadRequestError, `${String(text)}: expected BadRequestError`)
      assert.equal(err.code, ErrorCode.INVALID_ADDRESS, String(text))
      assert.equal(err.status, 400)
      return true
    },
  )
}

describe('address parsing', () => {
  test('address - parses kind/id', () => {
    assert.deepEqual(parseAddress('counter/42'), {
      kind: 'counter',
      id: '42',
      node: undefined,
      key: 'counter/42',
      hash: hashKey('counter/42'),
    })
  })

  test('address - kind/ has an empty id', () => {
    assert.deepEqual(parseAddress('greeter/'), {
      kind: 'greeter',
      id: '',
      node: undefined,
      key: 'greeter/',
      hash: hashKey('greeter/'),
    })
  })

  test('address - a kind without a slash has an empty id', () => {
    assert.deepEqual(parseAddress('greeter'), {
      kind: 'greeter',
      id: '',
      node: undefined,
      key: 'greeter/',
      hash: hashKey('greeter/'),
    })
  })

  test('address - the id may contain slashes', () => {
    assert.deepEqual(parseAddress('files/a/b'), {
      kind: 'files',
      id: 'a/b',
      node: undefined,
      key: 'files/a/b',
      hash: hashKey('files/a/b'),
    })
  })

  test('address - kind/id@node pins to a node', () => {
    assert.deepEqual(parseAddress('counter/id@node-1'), {
      kind: 'counter',
      id: 'id',
      node: 'node-1',
      key: 'counter/id',
      hash: hashKey('counter/id'),
    })
  })

  test('address - kind@node and kind/@node have an empty id', () => {
    assert.deepEqual(parseAddress('greeter@node-1'), {
      kind: 'greeter',
      id: '',
      node: 'node-1',
      key: 'greeter/',
      hash: hashKey('greeter/'),
    })
    assert.deepEqual(parseAddress('greeter/@n.2'), {
      kind: 'greeter',
      id: '',
      node: 'n.2',
      key: 'greeter/',
      hash: hashKey('greeter/'),
    })
  })

  test('address - kinds and ids use the allowed characters', () => {
    assert.equal(parseAddress('my_kind.v2-beta/user:7 with spaces').id, 'user:7 with spaces')
    assert.equal(parseAddress('A_b.C-9/x').kind, 'A_b.C-9')
    assert.equal(parseAddress('k/x@host:4222').node, 'host:4222')
  })

  test('address - an id of exactly the maximum length is accepted', () => {
    assert.equal(MAX_ID_LENGTH, 512)
    assert.equal(parseAddress(`k/${'x'.repeat(512)}`).id.length, 512)
  })

  test('address - formatAddress is the inverse of parse', () => {
    assert.equal(formatAddress('counter', '42'), 'counter/42')
    assert.equal(formatAddress('greeter'), 'greeter/')
    for (const text of ['counter/42', 'greeter/', 'files/a/b']) {
      const a = parseAddress(text)
      assert.equal(formatAddress(a.kind, a.id), text)
    }
  })
})

describe('invalid addresses', () => {
  test('address - an empty kind is invalid', () => {
    assertInvalid('')
    assertInvalid('/id')
    assertInvalid('@node')
  })

  test('address - a kind with spaces or other characters is invalid', () => {
    assertInvalid('my kind/id')
    assertInvalid(' counter/id')
    assertInvalid('count:er/id')
    assertInvalid('counter@x/id')
  })

  test('address - a kind longer than 128 characters is invalid', () => {
    assert.equal(parseAddress(`${'k'.repeat(128)}/id`).kind.length, 128)
    assertInvalid(`${'k'.repeat(129)}/id`)
  })

  test('address - an id longer than 512 characters is invalid', () => {
    assertInvalid(`k/${'x'.repeat(MAX_ID_LENGTH + 1)}`)
    assertInvalid(`k/${'x'.repeat(10_000)}@node-1`)
  })

  test('address - a bad node is invalid', () => {
    assertInvalid('k/id@')
    assertInvalid('k/id@node 1')
    assertInvalid('k/id@a@b')
    assertInvalid('k/id@node/1')
    assertInvalid(`k/id@${'n'.repeat(129)}`)
  })

  test('address - a non-string is invalid', () => {
    for (const value of [undefined, null, 42, {}, ['k', 'id'], Symbol('k')]) assertInvalid(value)
  })
})

describe('address cache', () => {
  test('address - the cache returns the same result as parse', () => {
    const cache = new AddressCache()
    for (const text of ['counter/1', 'greeter/', 'greeter', 'files/a/b', 'counter/id@node-1']) {
      assert.deepEqual(cache.parse(text), parseAddress(text))
      assert.deepEqual(cache.parse(text), parseAddress(text), 'the cached result is equal too')
      assert.equal(cache.parse(text), cache.parse(text), 'a cached address is reused')
    }
  })

  test('address - the cache rethrows invalid addresses every time', () => {
    const cache = new AddressCache()
    for (let i = 0; i < 2; i++) {
      assert.throws(
        () => cache.parse('bad kind/x'),
        (err: unknown) => err instanceof BadRequestError && err.code === ErrorCode.INVALID_ADDRESS,
      )
    }
  })

  test('address - a full cache still parses correctly', () => {
    const cache = new AddressCache(3)
    for (let i = 0; i < 20; i++) {
      const text = `k/${i}`
      assert.deepEqual(cache.parse(text), parseAddress(text))
    }
    assert.deepEqual(cache.parse('k/0'), parseAddress('k/0'))
  })
})

describe('key hash', () => {
  test('address - hashKey is 32-bit FNV-1a', () => {
    assert.equal(hashKey(''), 0x811c9dc5)
    assert.equal(hashKey('a'), 0xe40c292c)
    assert.equal(hashKey('foobar'), 0xbf9cf968)
  })

  test('address - hashKey is stable and unsigned', () => {
    const keys = ['counter/1', 'counter/2', 'files/a/b', 'é/ü', '']
    const first = keys.map(hashKey)
    assert.deepEqual(keys.map(hashKey), first)
    for (const h of first) assert.ok(Number.isInteger(h) && h >= 0 && h <= 0xffffffff)
    assert.notEqual(hashKey('counter/1'), hashKey('counter/2'))
  })

  test('address - hashKey spreads 10,000 keys evenly over 4 buckets', () => {
    const buckets = [0, 0, 0, 0]
    for (let i = 0; i < 10_000; i++) buckets[hashKey(`counter/${i}`) % 4]!++
    for (const count of buckets) {
      assert.ok(Math.abs(count - 2_500) <= 2_500 * 0.15, `bucket counts ${buckets.join(', ')}`)
    }
  })

  test('address - hashKey spreads random-looking keys evenly over 4 buckets', () => {
    const buckets = [0, 0, 0, 0]
    for (let i = 0; i < 10_000; i++) buckets[hashKey(`user-${(i * 2_654_435_761) >>> 0}`) % 4]!++
    for (const count of buckets) {
      assert.ok(Math.abs(count - 2_500) <= 2_500 * 0.15, `bucket counts ${buckets.join(', ')}`)
    }
  })
})
