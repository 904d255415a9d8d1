// The mailbox core: the ring buffer under it, the two lanes and the overflow policies, and the
// dead-letter stream that dropped messages go to.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { Ring } from '../../src/mailbox/ring.ts'
import {
  DEFAULT_MAILBOX_CAPACITY,
  DEFAULT_OVERFLOW,
  Mailbox,
  type OverflowPolicy,
} from '../../src/mailbox/mailbox.ts'
import { DeadLetters, deadLetterOf, type DeadLetter } from '../../src/mailbox/dead-letters.ts'
import { seeded } from '../helpers/seeded.ts'

function fill<T>(mailbox: Mailbox<T>, items: T[]): void {
  for (const item of items) assert.equal(mailbox.push(item), undefined)
}

describe('ring', () => {
  test('ring - empty ring shifts undefined', () => {
    const ring = new Ring<number>()
    assert.equal(ring.size, 0)
    assert.equal(ring.shift(), undefined)
    assert.deepEqual(ring.drain(), [])
  })

  test('ring - one item at a time, then two: the lone slot spills into storage in order', () => {
    const ring = new Ring<number>()
    for (let round = 0; round < 3; round++) {
      ring.push(round)
      assert.equal(ring.size, 1)
      assert.equal(ring.shift(), round)
      assert.equal(ring.shift(), undefined)
    }
    ring.push(10) // lone
    ring.push(11) // spills: 10 moves into storage first
    ring.push(12)
    assert.equal(ring.shift(), 10)
    ring.push(13)
    assert.deepEqual(ring.drain(), [11, 12, 13])
    ring.push(14) // empty again: lone once more
    assert.equal(ring.size, 1)
    assert.deepEqual(ring.drain(), [14])
  })

  test('ring - keeps FIFO order across growth', () => {
    const ring = new Ring<number>()
    for (let i = 0; i < 1_000; i++) ring.push(i)
    assert.equal(ring.size, 1_000)
    for (let i = 0; i < 1_000; i++) assert.equal(ring.shift(), i)
    assert.equal(ring.size, 0)
    assert.equal(ring.shift(), undefined)
  })

  test('ring - keeps FIFO order when growing while wrapped around', () => {
    const ring = new Ring<number>()
    // fill the first 4 slots, move the head to the middle, then grow with the contents wrapped
    for (let i = 0; i < 4; i++) ring.push(i)
    assert.equal(ring.shift(), 0)
    assert.equal(ring.shift(), 1)
    for (let i = 4; i < 12; i++) ring.push(i)
    assert.deepEqual(ring.drain(), [2, 3, 4, 5, 6, 7, 8, 9, 10, 11])
  })

  test('ring - interleaved push and shift match a reference array', () => {
    const random = seeded(42)
    const ring = new Ring<number>()
    const reference: number[] = []
    let next = 0
    for (let step = 0; step < 20_000; step++) {
      // phases that favour pushing, then shifting, so the ring both grows and wraps many times
      const pushBias = Math.floor(step / 2_000) % 2 === 0 ? 0.7 : 0.3
      if (random() < pushBias) {
        ring.push(next)
        reference.push(next)
        next++
      } else {
        assert.equal(ring.shift(), reference.shift(), `step ${step}`)
      }
      assert.equal(ring.size, reference.length, `step ${step}`)
    }
    assert.deepEqual(ring.drain(), reference)
  })

  test('ring - drain empties in order and the ring is reusable', () => {
    const ring = new Ring<string>()
    for (const s of ['a', 'b', 'c', 'd', 'e']) ring.push(s)
    ring.shift()
    assert.deepEqual(ring.drain(), ['b', 'c', 'd', 'e'])
    assert.equal(ring.size, 0)
    assert.equal(ring.shift(), undefined)
    ring.push('f')
    ring.push('g')
    assert.equal(ring.size, 2)
    assert.deepEqual(ring.drain(), ['f', 'g'])
  })

  test('ring - drain keeps falsy items', () => {
    const ring = new Ring<unknown>()
    const items = [0, '', null, false, undefined, 'last']
    for (const item of items) ring.push(item)
    assert.deepEqual(ring.drain(), items)
    assert.equal(ring.size, 0)
  })
})

describe('mailbox lanes', () => {
  test('mailbox - the defaults are 10,000 and reject', () => {
    assert.equal(DEFAULT_MAILBOX_CAPACITY, 10_000)
    assert.equal(DEFAULT_OVERFLOW, 'reject')
  })

  test('mailbox - user messages come out in FIFO order', () => {
    const mailbox = new Mailbox<string>(10, 'reject')
    fill(mailbox, ['a', 'b', 'c'])
    assert.equal(mailbox.size, 3)
    assert.equal(mailbox.shift(), 'a')
    assert.equal(mailbox.shift(), 'b')
    assert.equal(mailbox.shift(), 'c')
    assert.equal(mailbox.shift(), undefined)
    assert.equal(mailbox.size, 0)
  })

  test('mailbox - the system lane is served before the user lane', () => {
    const mailbox = new Mailbox<string>(10, 'reject')
    fill(mailbox, ['u1', 'u2'])
    mailbox.pushSystem('s1')
    mailbox.pushSystem('s2')
    assert.equal(mailbox.size, 4)
    assert.equal(mailbox.shift(), 's1')
    mailbox.pushSystem('s3')
    assert.equal(mailbox.shift(), 's2')
    assert.equal(mailbox.shift(), 's3')
    assert.equal(mailbox.shift(), 'u1')
    assert.equal(mailbox.shift(), 'u2')
    assert.equal(mailbox.shift(), undefined)
  })

  test('mailbox - drain returns the system lane first, then the user lane, and empties both', () => {
    const mailbox = new Mailbox<string>(10, 'reject')
    fill(mailbox, ['u1', 'u2'])
    mailbox.pushSystem('s1')
    assert.deepEqual(mailbox.drain(), ['s1', 'u1', 'u2'])
    assert.equal(mailbox.size, 0)
    assert.equal(mailbox.shift(), undefined)
    assert.deepEqual(mailbox.drain(), [])
  })

  test('mailbox - capacity bounds the user lane only', () => {
    const mailbox = new Mailbox<number>(3, 'reject')
    fill(mailbox, [1, 2, 3])
    assert.notEqual(mailbox.push(4), undefined)
    assert.equal(mailbox.size, 3)
    for (let i = 0; i < 5; i++) mailbox.pushSystem(100 + i)
    assert.equal(mailbox.size, 8)
  })

  test('mailbox - a freed slot accepts a new message', () => {
    const mailbox = new Mailbox<number>(2, 'reject')
    fill(mailbox, [1, 2])
    assert.notEqual(mailbox.push(3), undefined)
    assert.equal(mailbox.shift(), 1)
    assert.equal(mailbox.push(3), undefined)
    assert.deepEqual(mailbox.drain(), [2, 3])
  })
})

describe('mailbox overflow', () => {
  test('mailbox - reject refuses the new message and keeps the queue', () => {
    const mailbox = new Mailbox<string>(2, 'reject')
    fill(mailbox, ['a', 'b'])
    assert.deepEqual(mailbox.push('c'), { lost: 'c', reason: 'rejected' })
    assert.deepEqual(mailbox.drain(), ['a', 'b'])
  })

  test('mailbox - drop-newest drops the new message and keeps the queue', () => {
    const mailbox = new Mailbox<string>(2, 'drop-newest')
    fill(mailbox, ['a', 'b'])
    assert.deepEqual(mailbox.push('c'), { lost: 'c', reason: 'dropped-newest' })
    assert.deepEqual(mailbox.push('d'), { lost: 'd', reason: 'dropped-newest' })
    assert.deepEqual(mailbox.drain(), ['a', 'b'])
  })

  test('mailbox - drop-oldest evicts the head and queues the new message', () => {
    const mailbox = new Mailbox<string>(3, 'drop-oldest')
    fill(mailbox, ['a', 'b', 'c'])
    assert.deepEqual(mailbox.push('d'), { lost: 'a', reason: 'dropped-oldest' })
    assert.deepEqual(mailbox.push('e'), { lost: 'b', reason: 'dropped-oldest' })
    assert.equal(mailbox.size, 3)
    assert.deepEqual(mailbox.drain(), ['c', 'd', 'e'])
  })

  test('mailbox - drop-oldest never evicts a system message', () => {
    const mailbox = new Mailbox<string>(2, 'drop-oldest')
    mailbox.pushSystem('stop')
    fill(mailbox, ['a', 'b'])
    assert.deepEqual(mailbox.push('c'), { lost: 'a', reason: 'dropped-oldest' })
    assert.deepEqual(mailbox.drain(), ['stop', 'b', 'c'])
  })

  for (const policy of ['reject', 'drop-newest', 'drop-oldest'] as OverflowPolicy[]) {
    test(`mailbox - ${policy} never drops a system message on a full mailbox`, () => {
      const mailbox = new Mailbox<string>(1, policy)
      fill(mailbox, ['user'])
      const system = Array.from({ length: 100 }, (_, i) => `sys${i}`)
      for (const s of system) mailbox.pushSystem(s)
      assert.notEqual(mailbox.push('overflow'), undefined)
      assert.equal(mailbox.size, 101)
      const drained = mailbox.drain()
      assert.deepEqual(drained.slice(0, 100), system)
      assert.equal(drained.length, 101)
    })
  }
})

describe('dead letters', () => {
  const letter = (n: number): DeadLetter =>
    deadLetterOf('counter/1', 'add', 'rejected', false, { n }, undefined)

  test('dead letters - deadLetterOf includes error only when given', () => {
    assert.deepEqual(letter(1), {
      to: 'counter/1',
      handler: 'add',
      reason: 'rejected',
      message: { n: 1 },
      ask: false,
    })
    assert.equal('error' in letter(1), false)
    const error = { id: 'mica', code: 'mailbox_full', detail: 'full', status: 429 }
    const withError = deadLetterOf('counter/1', 'add', 'rejected', true, undefined, error)
    assert.deepEqual(withError.error, error)
    assert.equal(withError.ask, true)
  })

  test('dead letters - count counts every publish, observed or not', () => {
    const letters = new DeadLetters()
    assert.equal(letters.count, 0)
    assert.equal(letters.observed, false)
    letters.publish(letter(1))
    letters.publish(letter(2))
    assert.equal(letters.count, 2)
  })

  test('dead letters - subscribers receive letters until they unsubscribe', () => {
    const letters = new DeadLetters()
    const seen: DeadLetter[] = []
    const unsubscribe = letters.subscribe((l) => seen.push(l))
    assert.equal(letters.observed, true)
    letters.publish(letter(1))
    unsubscribe()
    assert.equal(letters.observed, false)
    letters.publish(letter(2))
    assert.deepEqual(seen, [letter(1)])
    assert.equal(letters.count, 2)
  })

  test('dead letters - every subscriber receives each letter', () => {
    const letters = new DeadLetters()
    const a: number[] = []
    const b: number[] = []
    letters.subscribe((l) => a.push((l.message as { n: number }).n))
    const offB = letters.subscribe((l) => b.push((l.message as { n: number }).n))
    letters.publish(letter(1))
    offB()
    letters.publish(letter(2))
    assert.deepEqual(a, [1, 2])
    assert.deepEqual(b, [1])
  })

  test('dead letters - a throwing listener does not stop the others', () => {
    const letters = new DeadLetters()
    const before: number[] = []
    const after: number[] = []
    letters.subscribe((l) => before.push((l.message as { n: number }).n))
    letters.subscribe(() => {
      throw new Error('faulty listener')
    })
    letters.subscribe((l) => after.push((l.message as { n: number }).n))
    assert.doesNotThrow(() => letters.publish(letter(1)))
    letters.publish(letter(2))
    assert.deepEqual(before, [1, 2])
    assert.deepEqual(after, [1, 2])
    assert.equal(letters.count, 2)
  })

  test('dead letters - two streams do not share listeners or counts', () => {
    const a = new DeadLetters()
    const b = new DeadLetters()
    const seen: DeadLetter[] = []
    a.subscribe((l) => seen.push(l))
    b.publish(letter(1))
    assert.deepEqual(seen, [])
    assert.equal(a.count, 0)
    assert.equal(b.count, 1)
  })
})
