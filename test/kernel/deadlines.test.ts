// The deadline wheel under a manual clock: entries expire in deadline order, never early, settled
// entries are skipped, and abandonAll fails the rest and leaves no timer behind.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { DEADLINE_RESOLUTION_MS, DeadlineEntry, DeadlineWheel } from '../../src/kernel/deadlines.ts'
import { ErrorCode, UnavailableError, type MicaError } from '../../src/errors.ts'
import { ManualClock } from '../helpers/manual-clock.ts'

type Outcome = { name: string; how: 'expired' | 'abandoned'; at: number; error?: MicaError }

/** An ask-like entry that records what happened to it in a shared log. */
class Entry extends DeadlineEntry {
  settled = false

  constructor(
    readonly name: string,
    readonly clock: ManualClock,
    readonly log: Outcome[],
  ) {
    super()
  }

  expire(): void {
    this.settled = true
    this.log.push({ name: this.name, how: 'expired', at: this.clock.now() })
  }

  abandon(error: MicaError): void {
    this.settled = true
    this.log.push({ name: this.name, how: 'abandoned', at: this.clock.now(), error })
  }

  /** What an ask does when its reply arrives. */
  settle(): void {
    this.settled = true
    this.unlink()
  }
}

function setup(resolutionMs?: number, start = 0) {
  const clock = new ManualClock(start)
  const wheel = new DeadlineWheel(clock, resolutionMs)
  const log: Outcome[] = []
  const add = (name: string, deadline: number): Entry => {
    const entry = new Entry(name, clock, log)
    wheel.add(entry, deadline)
    return entry
  }
  const names = () => log.map((o) => o.name)
  return { clock, wheel, log, add, names }
}

describe('manual clock', () => {
  test('manual clock - fires due timers in time order and counts pending ones', () => {
    const clock = new ManualClock(100)
    const fired: string[] = []
    clock.setTimeout(() => fired.push(`b@${clock.now()}`), 20)
    clock.setTimeout(() => fired.push(`a@${clock.now()}`), 10)
    const c = clock.setTimeout(() => fired.push('c'), 15)
    clock.setTimeout(() => fired.push(`d@${clock.now()}`), 50)
    assert.equal(clock.pending, 4)
    c.cancel()
    assert.equal(clock.pending, 3)
    clock.advance(20)
    assert.deepEqual(fired, ['a@110', 'b@120'])
    assert.equal(clock.now(), 120)
    assert.equal(clock.pending, 1)
    clock.advance(100)
    assert.deepEqual(fired, ['a@110', 'b@120', 'd@150'])
    assert.equal(clock.now(), 220)
    assert.equal(clock.pending, 0)
  })

  test('manual clock - a timer set while advancing fires in the same advance when due', () => {
    const clock = new ManualClock()
    const fired: number[] = []
    clock.setTimeout(() => {
      fired.push(clock.now())
      clock.setTimeout(() => fired.push(clock.now()), 5)
    }, 5)
    clock.advance(10)
    assert.deepEqual(fired, [5, 10])
  })
})

describe('deadline wheel', () => {
  test('deadlines - the default resolution is 5ms', () => {
    assert.equal(DEADLINE_RESOLUTION_MS, 5)
  })

  test('deadlines - entries expire in deadline order', () => {
    const { clock, add, names } = setup()
    add('c', 30)
    add('a', 10)
    add('d', 42)
    add('b', 20)
    clock.advance(100)
    assert.deepEqual(names(), ['a', 'b', 'c', 'd'])
  })

  test('deadlines - no entry expires before its deadline, nor later than one resolution after', () => {
    const { clock, add, log } = setup()
    const deadlines = new Map<string, number>()
    for (let i = 0; i < 200; i++) {
      const deadline = 1 + ((i * 37) % 500)
      deadlines.set(`e${i}`, deadline)
      add(`e${i}`, deadline)
    }
    for (let t = 0; t < 600; t++) clock.advance(1)
    assert.equal(log.length, 200)
    let last = 0
    for (const { name, at, how } of log) {
      const deadline = deadlines.get(name)!
      assert.equal(how, 'expired')
      assert.ok(at >= deadline, `${name} expired at ${at}, before its deadline ${deadline}`)
      assert.ok(at < deadline + DEADLINE_RESOLUTION_MS, `${name} expired at ${at}, late for ${deadline}`)
      assert.ok(at >= last, 'expiries run in time order')
      last = at
    }
  })

  test('deadlines - an entry does not expire until its time has come', () => {
    const { clock, add, log } = setup()
    add('a', 12)
    clock.advance(11)
    assert.equal(log.length, 0)
    clock.advance(1)
    clock.advance(DEADLINE_RESOLUTION_MS)
    assert.equal(log.length, 1)
    assert.ok(log[0]!.at >= 12)
  })

  test('deadlines - with 1ms resolution entries expire exactly at their deadline', () => {
    const { clock, add, log } = setup(1)
    add('b', 7)
    add('a', 3)
    add('c', 11)
    for (let t = 0; t < 20; t++) clock.advance(1)
    assert.deepEqual(
      log.map(({ name, at }) => [name, at]),
      [
        ['a', 3],
        ['b', 7],
        ['c', 11],
      ],
    )
  })

  test('deadlines - settled entries are not expired', () => {
    const { clock, wheel, add, names } = setup()
    const a = add('a', 10)
    add('b', 10)
    const c = add('c', 10)
    add('d', 20)
    const e = add('e', 30)
    a.settle()
    c.settle()
    e.settle()
    clock.advance(100)
    assert.deepEqual(names().sort(), ['b', 'd'])
    assert.equal(wheel.size, 0)
  })

  test('deadlines - an entry settled without unlinking is not expired', () => {
    const { clock, add, names } = setup()
    const a = add('a', 10)
    add('b', 10)
    a.settled = true
    clock.advance(10)
    assert.deepEqual(names(), ['b'])
  })

  test('deadlines - size counts only linked entries', () => {
    const { clock, wheel, add } = setup()
    assert.equal(wheel.size, 0)
    const entries = [add('a', 10), add('b', 10), add('c', 50), add('d', 90)]
    assert.equal(wheel.size, 4)
    entries[1]!.settle()
    entries[3]!.settle()
    assert.equal(wheel.size, 2)
    entries[1]!.settle()
    assert.equal(wheel.size, 2, 'unlinking twice is harmless')
    clock.advance(10)
    assert.equal(wheel.size, 1)
    clock.advance(40)
    assert.equal(wheel.size, 0)
  })

  test('deadlines - an entry added with a past deadline expires on the next advance(0)', () => {
    const { clock, add, names } = setup(undefined, 1_000)
    add('late', 500)
    assert.deepEqual(names(), [])
    clock.advance(0)
    assert.deepEqual(names(), ['late'])
    assert.equal(clock.pending, 0)
  })

  test('deadlines - an earlier deadline re-arms the single timer', () => {
    const { clock, add, names } = setup()
    add('late', 100)
    assert.equal(clock.pending, 1)
    add('early', 10)
    assert.equal(clock.pending, 1, 'the later timer is replaced, not duplicated')
    add('later', 200)
    assert.equal(clock.pending, 1)
    clock.advance(10)
    assert.deepEqual(names(), ['early'])
    assert.equal(clock.pending, 1)
    clock.advance(90)
    assert.deepEqual(names(), ['early', 'late'])
    clock.advance(100)
    assert.deepEqual(names(), ['early', 'late', 'later'])
    assert.equal(clock.pending, 0, 'no timer is left once the wheel is empty')
  })

  test('deadlines - an entry added while expiring is scheduled', () => {
    const { clock, wheel, log } = setup()
    class Retry extends Entry {
      override expire(): void {
        super.expire()
        if (this.name === 'first') wheel.add(new Retry('second', clock, log), clock.now() + 20)
      }
    }
    wheel.add(new Retry('first', clock, log), 10)
    clock.advance(10)
    assert.deepEqual(
      log.map((o) => o.name),
      ['first'],
    )
    assert.equal(wheel.size, 1)
    clock.advance(20)
    assert.deepEqual(
      log.map(({ name, at }) => [name, at]),
      [
        ['first', 10],
        ['second', 30],
      ],
    )
  })

  test('deadlines - abandonAll fails every pending entry and cancels the timer', () => {
    const { clock, wheel, add, log } = setup()
    add('a', 10)
    const b = add('b', 10)
    add('c', 500)
    add('d', 10_000)
    b.settle()
    assert.equal(clock.pending, 1)
    const error = new UnavailableError(ErrorCode.KERNEL_STOPPED, 'kernel stopped')
    wheel.abandonAll(error)
    assert.deepEqual(log.map((o) => o.name).sort(), ['a', 'c', 'd'])
    for (const outcome of log) {
      assert.equal(outcome.how, 'abandoned')
      assert.equal(outcome.error, error)
    }
    assert.equal(clock.pending, 0)
    assert.equal(wheel.size, 0)
    clock.advance(20_000)
    assert.equal(log.length, 3, 'nothing expires after abandonAll')
  })

  test('deadlines - abandonAll skips entries settled without unlinking', () => {
    const { wheel, add, names } = setup()
    const a = add('a', 10)
    add('b', 10)
    a.settled = true
    wheel.abandonAll(new UnavailableError(ErrorCode.KERNEL_STOPPED, 'stopped'))
    assert.deepEqual(names(), ['b'])
  })

  test('deadlines - the wheel works again after abandonAll', () => {
    const { clock, wheel, add, log } = setup()
    add('old', 10)
    wheel.abandonAll(new UnavailableError(ErrorCode.KERNEL_STOPPED, 'stopped'))
    add('new', 20)
    assert.equal(clock.pending, 1)
    clock.advance(20)
    assert.deepEqual(
      log.map(({ name, how }) => [name, how]),
      [
        ['old', 'abandoned'],
        ['new', 'expired'],
      ],
    )
    assert.equal(clock.pending, 0)
  })
})
