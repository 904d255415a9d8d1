// Client-side selection: the strategies' distributions (asserted, not logged), the filters, the
// mark-down backoff on a manual clock, and the 503 when nothing is left.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { ManualClock } from '../helpers/manual-clock.ts'
import { ErrorCode, UnavailableError, BadRequestError } from '../../src/errors.ts'
import {
  Selector,
  byNodeMetadata,
  byServiceMetadata,
  byVersion,
  hash53,
  random,
  rendezvous,
  roundRobin,
  type Node,
  type Service,
} from '../../src/registry/selector.ts'
import { seeded } from '../helpers/seeded.ts'

function node(id: string, metadata: Record<string, string> = {}): Node {
  return { id, address: `127.0.0.1:${4000 + id.length}`, metadata }
}

function nodes(count: number, from = 0): Node[] {
  return Array.from({ length: count }, (_, i) => node(`n${from + i}`))
}

function service(nodeList: Node[], version = '1.0.0', metadata: Record<string, string> = {}): Service {
  return { name: 'greeter', version, metadata, nodes: nodeList }
}

function counts(ids: Iterable<string>): Map<string, number> {
  const out = new Map<string, number>()
  for (const id of ids) out.set(id, (out.get(id) ?? 0) + 1)
  return out
}

/** Asserts each of `ids` got `expected` picks within ±`tolerance` (a fraction), and reports spread. */
function assertEven(tally: Map<string, number>, ids: string[], expected: number, tolerance: number): void {
  assert.equal(tally.size, ids.length, `picked ${[...tally.keys()].join(',')}`)
  for (const id of ids) {
    const got = tally.get(id) ?? 0
    assert.ok(
      Math.abs(got - expected) <= expected * tolerance,
      `${id}: ${got} picks, expected ${expected} ±${tolerance * 100}%`,
    )
  }
}

const KEYS = Array.from({ length: 10_000 }, (_, i) => `user-${i}`)

function assign(strategy = rendezvous(), list: Node[]): Map<string, string> {
  const out = new Map<string, string>()
  for (const key of KEYS) out.set(key, strategy(list, key)!.id)
  return out
}

describe('strategies', () => {
  test('strategy - every strategy returns undefined for no nodes', () => {
    assert.equal(random()([]), undefined)
    assert.equal(roundRobin()([]), undefined)
    assert.equal(rendezvous()([], 'k'), undefined)
  })

  test('strategy - random with a seeded PRNG spreads 10,000 picks over 4 nodes within ±10%', () => {
    const list = nodes(4)
    const pick = random(seeded(7))
    const tally = counts(Array.from({ length: 10_000 }, () => pick(list)!.id))
    assertEven(tally, ['n0', 'n1', 'n2', 'n3'], 2_500, 0.1)
  })

  test('strategy - random is repeatable from the same seed', () => {
    const list = nodes(4)
    const a = random(seeded(3))
    const b = random(seeded(3))
    for (let i = 0; i < 100; i++) assert.equal(a(list), b(list))
  })

  test('strategy - round robin cycles exactly, each instance on its own counter', () => {
    const list = nodes(3)
    const rr = roundRobin()
    const seen = Array.from({ length: 9 }, () => rr(list)!.id)
    assert.deepEqual(seen, ['n0', 'n1', 'n2', 'n0', 'n1', 'n2', 'n0', 'n1', 'n2'])
    assert.equal(roundRobin()(list)!.id, 'n0')
  })

  test('strategy - rendezvous maps the same key to the same node, whatever the node order', () => {
    const list = nodes(5)
    const hrw = rendezvous()
    const reversed = [...list].reverse()
    for (const key of KEYS.slice(0, 500)) {
      const first = hrw(list, key)!.id
      assert.equal(hrw(list, key)!.id, first)
      assert.equal(hrw(reversed, key)!.id, first)
      assert.equal(rendezvous()(list, key)!.id, first)
    }
  })

  test('strategy - rendezvous spreads 10,000 keys over 5 nodes within ±15%', () => {
    const tally = counts(assign(rendezvous(), nodes(5)).values())
    assertEven(tally, ['n0', 'n1', 'n2', 'n3', 'n4'], 2_000, 0.15)
  })

  test('strategy - rendezvous: a 6th node takes about 1/6 of the keys, and keys move only to it', () => {
    const before = assign(rendezvous(), nodes(5))
    const after = assign(rendezvous(), nodes(6))
    let moved = 0
    for (const [key, was] of before) {
      const now = after.get(key)!
      if (now === was) continue
      assert.equal(now, 'n5', `${key} moved from ${was} to ${now}, not to the new node`)
      moved++
    }
    const fraction = moved / KEYS.length
    assert.ok(Math.abs(fraction - 1 / 6) <= 0.03, `moved ${fraction}, expected 1/6 ±3%`)
  })

  test('strategy - rendezvous: removing a node moves only the keys it held', () => {
    const list = nodes(5)
    const before = assign(rendezvous(), list)
    const after = assign(
      rendezvous(),
      list.filter((n) => n.id !== 'n2'),
    )
    let moved = 0
    for (const [key, was] of before) {
      if (was === 'n2') {
        assert.notEqual(after.get(key), 'n2')
        moved++
      } else {
        assert.equal(after.get(key), was, `${key} moved off ${was}, which did not leave`)
      }
    }
    assert.ok(moved > 0)
  })

  test('strategy - hash53 is stable, 53-bit and sensitive to every character', () => {
    assert.equal(hash53('abc'), hash53('abc'))
    assert.notEqual(hash53('abc'), hash53('abd'))
    assert.notEqual(hash53('a\u0000bc'), hash53('ab\u0000c'))
    for (const key of KEYS.slice(0, 100)) {
      const h = hash53(key)
      assert.ok(Number.isSafeInteger(h) && h >= 0)
    }
  })
})

describe('filters', () => {
  const v1 = service([node('a', { zone: 'eu' }), node('b', { zone: 'us' })], '1.0.0', { tier: 'gold' })
  const v2 = service([node('c', { zone: 'eu' })], '2.0.0', { tier: 'free' })

  test('filter - byVersion keeps the services of that version only', () => {
    assert.deepEqual(byVersion('2.0.0')([v1, v2]), [v2])
    assert.deepEqual(byVersion('3.0.0')([v1, v2]), [])
  })

  test('filter - byServiceMetadata matches service-level metadata, nodes untouched', () => {
    assert.deepEqual(byServiceMetadata('tier', 'gold')([v1, v2]), [v1])
    assert.deepEqual(byServiceMetadata('zone', 'eu')([v1, v2]), [])
    assert.deepEqual(byServiceMetadata('constructor', 'x')([v1, v2]), [])
  })

  test('filter - byNodeMetadata keeps matching nodes, drops emptied services, leaves input alone', () => {
    const eu = byNodeMetadata('zone', 'eu')([v1, v2])
    assert.deepEqual(
      eu.map((s) => [s.version, s.nodes.map((n) => n.id)]),
      [
        ['1.0.0', ['a']],
        ['2.0.0', ['c']],
      ],
    )
    assert.deepEqual(byNodeMetadata('zone', 'us')([v1, v2]).length, 1)
    assert.equal(v1.nodes.length, 2)
  })

  test('filter - the selector applies filters in order before picking', () => {
    const selector = new Selector({ strategy: roundRobin() })
    const filters = [byVersion('1.0.0'), byNodeMetadata('zone', 'us')]
    for (let i = 0; i < 5; i++) assert.equal(selector.select([v1, v2], { filters }).id, 'b')
  })

  test('filter - nothing left after the filters is a 503 that says so', () => {
    const selector = new Selector()
    assert.throws(
      () => selector.select([v1, v2], { filters: [byVersion('9.9.9')] }),
      (err: unknown) =>
        err instanceof UnavailableError &&
        err.status === 503 &&
        err.code === ErrorCode.UNAVAILABLE &&
        /none of the 3 nodes of greeter passed the 1 filter/.test(err.detail),
    )
  })
})

describe('selector', () => {
  test('selector - no services or no nodes throws UnavailableError 503', () => {
    const selector = new Selector()
    for (const input of [[], [service([])]]) {
      assert.throws(
        () => selector.select(input),
        (err: unknown) =>
          err instanceof UnavailableError &&
          err.status === 503 &&
          err.code === 'unavailable' &&
          err.retryable &&
          /no nodes to select from/.test(err.detail),
      )
    }
  })

  test('selector - a key goes through the keyed strategy (rendezvous by default)', () => {
    const list = nodes(5)
    const selector = new Selector({ strategy: roundRobin() })
    const hrw = rendezvous()
    for (const key of KEYS.slice(0, 200)) {
      assert.equal(selector.select([service(list)], { key }).id, hrw(list, key)!.id)
    }
    assert.deepEqual(
      [0, 1, 2].map(() => selector.select([service(list)]).id),
      ['n0', 'n1', 'n2'],
    )
  })

  test('selector - a marked-down node is skipped until its backoff passes', () => {
    const clock = new ManualClock()
    const selector = new Selector({ strategy: roundRobin(), clock, markDownMs: 1_000 })
    const input = [service(nodes(3))]
    selector.markDown('n1')
    assert.equal(selector.isDown('n1'), true)
    const seen = new Set(Array.from({ length: 30 }, () => selector.select(input).id))
    assert.deepEqual([...seen].sort(), ['n0', 'n2'])
    clock.advance(999)
    assert.equal(selector.isDown('n1'), true)
    clock.advance(1)
    assert.equal(selector.isDown('n1'), false)
    const back = new Set(Array.from({ length: 30 }, () => selector.select(input).id))
    assert.deepEqual([...back].sort(), ['n0', 'n1', 'n2'])
  })

  test('selector - a keyed call moves off a down node and back when it returns', () => {
    const clock = new ManualClock()
    const selector = new Selector({ clock, markDownMs: 1_000 })
    const input = [service(nodes(4))]
    const home = selector.select(input, { key: 'order-42' }).id
    selector.markDown(home)
    const away = selector.select(input, { key: 'order-42' }).id
    assert.notEqual(away, home)
    assert.equal(selector.select(input, { key: 'order-42' }).id, away)
    clock.advance(1_000)
    assert.equal(selector.select(input, { key: 'order-42' }).id, home)
  })

  test('selector - repeated failures double the backoff up to the cap; markUp resets it', () => {
    const clock = new ManualClock()
    const selector = new Selector({ clock, markDownMs: 1_000, maxMarkDownMs: 5_000 })
    /** Marks n0 down now and measures how long it stays down. */
    const downFor = (): number => {
      selector.markDown('n0')
      const from = clock.now()
      while (selector.isDown('n0')) clock.advance(100)
      return clock.now() - from
    }
    assert.deepEqual(
      [downFor(), downFor(), downFor(), downFor(), downFor()],
      [1_000, 2_000, 4_000, 5_000, 5_000],
    )
    selector.markUp('n0')
    assert.equal(downFor(), 1_000)
    selector.markDown('n0')
    selector.markUp('n0')
    assert.equal(selector.isDown('n0'), false)
  })

  test('selector - failures reported while already down do not extend the backoff', () => {
    const clock = new ManualClock()
    const selector = new Selector({ clock, markDownMs: 1_000 })
    selector.markDown('n0')
    clock.advance(500)
    selector.markDown('n0')
    selector.markDown('n0')
    clock.advance(500)
    assert.equal(selector.isDown('n0'), false)
    selector.markDown('n0')
    clock.advance(1_999)
    assert.equal(selector.isDown('n0'), true, 'second streak step is 2 s')
  })

  test('selector - a streak is forgotten after maxMarkDownMs back in rotation', () => {
    const clock = new ManualClock()
    const selector = new Selector({ clock, markDownMs: 1_000, maxMarkDownMs: 4_000 })
    selector.markDown('n0')
    clock.advance(1_000 + 4_000)
    selector.markDown('n0')
    clock.advance(1_000)
    assert.equal(selector.isDown('n0'), false, 'a fresh streak starts at markDownMs again')
  })

  test('selector - when every node is down it still picks among all of them', () => {
    const clock = new ManualClock()
    const selector = new Selector({ strategy: roundRobin(), clock })
    const input = [service(nodes(3))]
    for (const id of ['n0', 'n1', 'n2']) selector.markDown(id)
    assert.deepEqual(
      [0, 1, 2].map(() => selector.select(input).id),
      ['n0', 'n1', 'n2'],
    )
    assert.ok(selector.select(input, { key: 'k' }))
  })

  test('selector - nodes of several services are pooled', () => {
    const selector = new Selector({ strategy: roundRobin() })
    const input = [service(nodes(2)), service(nodes(2, 2), '2.0.0')]
    assert.deepEqual(
      [0, 1, 2, 3].map(() => selector.select(input).id),
      ['n0', 'n1', 'n2', 'n3'],
    )
  })

  test('selector - bad options are rejected with invalid_options', () => {
    for (const options of [
      { markDownMs: 0 },
      { markDownMs: Number.NaN },
      { markDownMs: 10, maxMarkDownMs: 5 },
    ]) {
      assert.throws(
        () => new Selector(options),
        (err: unknown) => err instanceof BadRequestError && err.code === ErrorCode.INVALID_OPTIONS,
      )
    }
  })
})
