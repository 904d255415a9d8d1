// Supervision policy: which directive a fault gets, the restart backoff, and the restart budget.
// Time is passed in explicitly (`now`), so nothing here waits.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import {
  DEFAULT_BACKOFF_FACTOR,
  DEFAULT_BACKOFF_INITIAL_MS,
  DEFAULT_BACKOFF_MAX_MS,
  DEFAULT_DIRECTIVE,
  DEFAULT_MAX_RESTARTS,
  DEFAULT_RESTART_WINDOW_MS,
  Supervisor,
  type Decider,
  type Directive,
} from '../../src/actors/supervision.ts'

describe('supervision directives', () => {
  test('supervision - the default directive is restart', () => {
    assert.equal(DEFAULT_DIRECTIVE, 'restart')
    assert.equal(new Supervisor().decide(new Error('boom')), 'restart')
    assert.equal(new Supervisor({}).decide(undefined), 'restart')
  })

  for (const directive of ['resume', 'restart', 'stop'] as Directive[]) {
    test(`supervision - a fixed ${directive} directive applies to every error`, () => {
      const supervisor = new Supervisor({ directive })
      assert.equal(supervisor.decide(new Error('a')), directive)
      assert.equal(supervisor.decide('not an error'), directive)
    })
  }

  test('supervision - a decider function chooses per error', () => {
    const seen: unknown[] = []
    const decider: Decider = (error) => {
      seen.push(error)
      if (error instanceof RangeError) return 'resume'
      if (error instanceof TypeError) return 'stop'
      return 'restart'
    }
    const supervisor = new Supervisor({ directive: decider })
    const range = new RangeError('r')
    assert.equal(supervisor.decide(range), 'resume')
    assert.equal(supervisor.decide(new TypeError('t')), 'stop')
    assert.equal(supervisor.decide(new Error('e')), 'restart')
    assert.equal(seen.length, 3)
    assert.equal(seen[0], range)
  })

  test('supervision - a decider that throws means stop', () => {
    const supervisor = new Supervisor({
      directive: () => {
        throw new Error('decider bug')
      },
    })
    assert.equal(supervisor.decide(new Error('fault')), 'stop')
  })

  test('supervision - a decider that returns garbage means stop', () => {
    for (const garbage of [undefined, null, '', 'Restart', 'escalate', 1, {}]) {
      const supervisor = new Supervisor({ directive: (() => garbage) as unknown as Decider })
      assert.equal(supervisor.decide(new Error('fault')), 'stop', String(garbage))
    }
  })

  test('supervision - an unknown fixed directive means stop', () => {
    const supervisor = new Supervisor({ directive: 'explode' as unknown as Directive })
    assert.equal(supervisor.decide(new Error('fault')), 'stop')
  })
})

describe('supervision restarts', () => {
  test('supervision - backoff starts at the default and doubles', () => {
    assert.deepEqual(
      [DEFAULT_BACKOFF_INITIAL_MS, DEFAULT_BACKOFF_FACTOR, DEFAULT_BACKOFF_MAX_MS],
      [10, 2, 2_000],
    )
    const supervisor = new Supervisor()
    const history: number[] = []
    const delays = Array.from({ length: 5 }, (_, i) => supervisor.nextRestart(history, i))
    assert.deepEqual(delays, [10, 20, 40, 80, 160])
    assert.deepEqual(history, [0, 1, 2, 3, 4])
  })

  test('supervision - backoff grows by the factor and caps at maxMs', () => {
    const supervisor = new Supervisor({
      maxRestarts: 100,
      backoff: { initialMs: 5, factor: 3, maxMs: 200 },
    })
    const history: number[] = []
    const delays = Array.from({ length: 7 }, (_, i) => supervisor.nextRestart(history, 1_000 + i))
    assert.deepEqual(delays, [5, 15, 45, 135, 200, 200, 200])
  })

  test('supervision - the default budget is 10 restarts within 60 seconds', () => {
    assert.equal(DEFAULT_MAX_RESTARTS, 10)
    assert.equal(DEFAULT_RESTART_WINDOW_MS, 60_000)
    const supervisor = new Supervisor()
    const history: number[] = []
    for (let i = 0; i < 10; i++) assert.ok(supervisor.nextRestart(history, i * 1_000) >= 0, `restart ${i}`)
    assert.equal(supervisor.nextRestart(history, 10_000), -1)
  })

  test('supervision - a spent budget returns -1 within the window', () => {
    const supervisor = new Supervisor({ maxRestarts: 3, withinMs: 1_000 })
    const history: number[] = []
    assert.equal(supervisor.nextRestart(history, 0), 10)
    assert.equal(supervisor.nextRestart(history, 100), 20)
    assert.equal(supervisor.nextRestart(history, 200), 40)
    assert.equal(supervisor.nextRestart(history, 300), -1)
    assert.equal(supervisor.nextRestart(history, 1_000), -1, 'the first restart is exactly withinMs old')
    assert.deepEqual(history, [0, 100, 200], 'a refused restart is not recorded')
  })

  test('supervision - restarts are allowed again after the window passes', () => {
    const supervisor = new Supervisor({ maxRestarts: 2, withinMs: 1_000 })
    const history: number[] = []
    assert.equal(supervisor.nextRestart(history, 0), 10)
    assert.equal(supervisor.nextRestart(history, 500), 20)
    assert.equal(supervisor.nextRestart(history, 900), -1)
    // the restart at 0 has left the window; the one at 500 has not, so the backoff is the second step
    assert.equal(supervisor.nextRestart(history, 1_001), 20)
    assert.deepEqual(history, [500, 1_001])
    assert.equal(supervisor.nextRestart(history, 1_200), -1)
    // both have left the window: the backoff starts over
    assert.equal(supervisor.nextRestart(history, 3_000), 10)
    assert.deepEqual(history, [3_000])
  })

  test('supervision - a budget of zero restarts always stops', () => {
    const supervisor = new Supervisor({ maxRestarts: 0 })
    const history: number[] = []
    assert.equal(supervisor.nextRestart(history, 0), -1)
    assert.equal(supervisor.nextRestart(history, 1_000_000), -1)
    assert.deepEqual(history, [])
  })

  test('supervision - histories are independent per actor', () => {
    const supervisor = new Supervisor({ maxRestarts: 1, withinMs: 1_000 })
    const a: number[] = []
    const b: number[] = []
    assert.equal(supervisor.nextRestart(a, 0), 10)
    assert.equal(supervisor.nextRestart(a, 1), -1)
    assert.equal(supervisor.nextRestart(b, 1), 10)
  })
})
