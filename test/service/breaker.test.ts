import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { defineActor } from '../../src/actors/define.ts'
import { CircuitBreakers } from '../../src/service/breaker.ts'
import { Bulkheads } from '../../src/service/bulkhead.ts'
import { ManualClock } from '../helpers/manual-clock.ts'
import { rejection, sleep } from '../helpers/kernels.ts'
import { withServices } from './kit.ts'
import { greeter } from './greeter.ts'

describe('circuit breaker', () => {
  test('breaker - closed -> open after N consecutive failures -> half-open after the cool-down', () => {
    const clock = new ManualClock(1_000)
    const b = new CircuitBreakers({ failures: 3, coolDownMs: 500 }, clock)
    assert.equal(b.state('n'), 'closed')
    b.failure('n')
    b.failure('n')
    b.success('n') // a success ends the streak
    b.failure('n')
    b.failure('n')
    assert.equal(b.state('n'), 'closed')
    b.failure('n')
    assert.equal(b.state('n'), 'open')
    assert.equal(b.allows('n'), false)
    clock.advance(499)
    assert.equal(b.state('n'), 'open')
    clock.advance(1)
    assert.equal(b.state('n'), 'half-open')
    assert.equal(b.allows('n'), true)
    b.acquire('n') // the probe
    assert.equal(b.allows('n'), false, 'one probe at a time')
    b.failure('n') // the probe failed: open for another cool-down
    assert.equal(b.state('n'), 'open')
    clock.advance(500)
    b.acquire('n')
    b.success('n') // the probe succeeded
    assert.equal(b.state('n'), 'closed')
    assert.equal(b.state('other'), 'closed', 'per node')
  })

  test('breaker - the client fails fast when every node is open, probes once after the cool-down', async () => {
    await withServices(async (s) => {
      let broken = true
      let runs = 0
      const flaky = defineActor({
        kind: 'Flaky',
        handlers: {
          run: () => {
            runs++
            if (broken) throw new Error('broken')
            return 'ok'
          },
        },
      })
      const work = await s.started({ name: 'flaky' }, (w) => w.handle(flaky))
      const caller = await s.started({
        name: 'caller',
        client: { retries: 0, breaker: { failures: 2, coolDownMs: 80 } },
      })
      const node = work.kernel.nodeId
      for (let i = 0; i < 2; i++)
        assert.equal((await rejection(caller.client.call('flaky', 'Flaky.run'))).status, 500)
      assert.equal(caller.client.circuit(node), 'open')
      const fast = await rejection(caller.client.call('flaky', 'Flaky.run'))
      assert.deepEqual(fast, { name: 'UnavailableError', code: 'circuit_open', status: 503 })
      assert.equal(runs, 2, 'nothing was sent while open')
      await sleep(100)
      assert.equal(caller.client.circuit(node), 'half-open')
      broken = false
      assert.equal(await caller.client.call('flaky', 'Flaky.run'), 'ok')
      assert.equal(caller.client.circuit(node), 'closed')
    })
  })
})

describe('circuit breaker across nodes', () => {
  test('breaker - with two nodes, calls stop going to the one whose circuit opened', async () => {
    await withServices(async (s) => {
      const runs = { broken: 0, fine: 0 }
      const flaky = (which: keyof typeof runs) =>
        defineActor({
          kind: 'Flaky',
          handlers: {
            run: () => {
              runs[which]++
              if (which === 'broken') throw new Error('broken')
              return 'ok'
            },
          },
        })
      const bad = await s.started({ name: 'flaky' }, (w) => w.handle(flaky('broken')))
      await s.started({ name: 'flaky' }, (w) => w.handle(flaky('fine')))
      const caller = await s.started({
        name: 'caller',
        client: { retries: 0, breaker: { failures: 2, coolDownMs: 60_000 } },
      })
      for (let i = 0; i < 100 && caller.client.circuit(bad.kernel.nodeId) !== 'open'; i++)
        await caller.client.call('flaky', 'Flaky.run').catch(() => undefined)
      assert.equal(caller.client.circuit(bad.kernel.nodeId), 'open')
      assert.equal(runs.broken, 2, 'two consecutive failures opened it')
      const fine = runs.fine
      for (let i = 0; i < 10; i++) assert.equal(await caller.client.call('flaky', 'Flaky.run'), 'ok')
      assert.deepEqual(runs, { broken: 2, fine: fine + 10 }, 'every call went to the closed node')
    })
  })
})

describe('bulkhead', () => {
  test('bulkhead - counts per service and gives slots back once', () => {
    const b = new Bulkheads({ maxInFlight: 2 })
    const r1 = b.acquire('a')
    b.acquire('a')
    assert.throws(() => b.acquire('a'), { code: 'bulkhead_full', status: 429 })
    b.acquire('b')
    r1()
    r1()
    assert.equal(b.inFlight('a'), 1)
  })

  test('bulkhead - calls over maxInFlight to one service are refused with a 429 at once', async () => {
    await withServices(async (s) => {
      const slow = defineActor({
        kind: 'Slow',
        handlers: { wait: async (ms: number) => (await sleep(ms), 'done') },
      })
      await s.started({ name: 'slow' }, (w) => w.handle(slow))
      await s.started({ name: 'greeter' }, (w) => w.handle(greeter))
      const caller = await s.started({ name: 'caller', client: { bulkhead: { maxInFlight: 1 } } })
      const first = caller.client.call('slow', 'Slow.wait', 100)
      const t0 = Date.now()
      const refused = await rejection(caller.client.call('slow', 'Slow.wait', 1))
      assert.deepEqual(refused, { name: 'TooManyRequestsError', code: 'bulkhead_full', status: 429 })
      assert.ok(Date.now() - t0 < 50, 'refused without waiting')
      assert.equal(
        ((await caller.client.call('greeter', 'Greeter.hello', { name: 'x' })) as { greeting: string })
          .greeting,
        'Hello x',
      )
      assert.equal(await first, 'done')
      assert.equal(await caller.client.call('slow', 'Slow.wait', 1), 'done', 'the slot came back')
    })
  })
})
