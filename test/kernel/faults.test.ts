import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { MODES, eventually, rejection, sleep, withKernel } from '../helpers/kernels.ts'
import {
  budgeted,
  counter,
  dropNewest,
  dropOldest,
  rejecting,
  restarter,
  resumer,
  stopper,
  stuck,
} from '../fixtures/actors.ts'
import type { DeadLetter } from '../../src/mailbox/dead-letters.ts'

/** These tests leave a turn that never settles: stop abandons it after a short drain. */
const quickStop = { drainTimeoutMs: 100 }

for (const mode of MODES) {
  describe(`kernel faults (${mode.name})`, () => {
    test('overflow - reject: a full mailbox refuses new asks with 429 and dead-letters sends', () =>
      withKernel(mode, async (kernel) => {
        const letters: DeadLetter[] = []
        kernel.onDeadLetter((l) => letters.push(l))
        const ref = await kernel.spawn(rejecting, 'r')
        const holding = ref.ask('hold', { ms: 150 })
        await sleep(30) // the actor is busy inside `hold`: the next two fill the mailbox
        const queued = [ref.ask('take', 1), ref.ask('take', 2)]
        const refused = await rejection(ref.ask('take', 3))
        ref.send('take', 4)
        assert.deepEqual(refused, { name: 'TooManyRequestsError', code: 'mailbox_full', status: 429 })
        assert.equal(await holding, 'held')
        assert.deepEqual(await Promise.all(queued), [1, 2])
        assert.deepEqual(await ref.ask('seen'), [1, 2])
        await eventually(() => letters.length === 2)
        assert.deepEqual(
          letters.map((l) => [l.reason, l.message, l.ask]),
          [
            ['rejected', 3, true],
            ['rejected', 4, false],
          ],
        )
      }))

    test('overflow - drop-newest: the new message is dropped, queued ones survive', () =>
      withKernel(mode, async (kernel) => {
        const letters: DeadLetter[] = []
        kernel.onDeadLetter((l) => letters.push(l))
        const ref = await kernel.spawn(dropNewest, 'n')
        void ref.ask('hold', { ms: 100 })
        await sleep(30)
        for (const n of [1, 2, 3, 4]) ref.send('take', n)
        await sleep(120) // past `hold`: asking earlier would itself overflow the mailbox
        assert.deepEqual(await ref.ask('seen'), [1, 2])
        assert.deepEqual(
          letters.map((l) => [l.reason, l.message]),
          [
            ['dropped-newest', 3],
            ['dropped-newest', 4],
          ],
        )
      }))

    test('overflow - drop-oldest: the oldest queued message makes room', () =>
      withKernel(mode, async (kernel) => {
        const letters: DeadLetter[] = []
        kernel.onDeadLetter((l) => letters.push(l))
        const ref = await kernel.spawn(dropOldest, 'o')
        void ref.ask('hold', { ms: 100 })
        await sleep(30)
        const first = ref.ask('take', 1) // will be evicted: the ask must reject, never hang
        for (const n of [2, 3, 4]) ref.send('take', n)
        assert.equal((await rejection(first)).code, 'mailbox_full')
        await sleep(120)
        assert.deepEqual(await ref.ask('seen'), [3, 4])
        assert.deepEqual(
          letters.map((l) => [l.reason, l.message]),
          [
            ['dropped-oldest', 1],
            ['dropped-oldest', 2],
          ],
        )
      }))

    test('supervision - a throwing handler answers 500 and the actor keeps serving', () =>
      withKernel(mode, async (kernel, logger) => {
        const ref = await kernel.spawn(counter, 'boom')
        assert.deepEqual(await rejection(ref.ask('boom', { message: 'bad input' })), {
          name: 'InternalError',
          code: 'handler_error',
          status: 500,
        })
        assert.equal(await ref.ask('add', { by: 1 }), 1)
        await eventually(() => logger.warnings.some((w) => w.includes('boom failed')))
      }))

    test('supervision - resume keeps the state', () =>
      withKernel(mode, async (kernel) => {
        const ref = await kernel.spawn(resumer, 'a')
        await ref.ask('add', 5)
        await rejection(ref.ask('boom'))
        assert.equal(await ref.ask('get'), 5)
      }))

    test('supervision - restart rebuilds the state after a backoff; queued messages are served', () =>
      withKernel(mode, async (kernel) => {
        const ref = await kernel.spawn(restarter, 'a')
        await ref.ask('add', 5)
        const failed = ref.ask('boom')
        const after = ref.ask('add', 1) // queued behind the fault: served by the new incarnation
        assert.equal((await rejection(failed)).code, 'handler_error')
        assert.equal(await after, 1)
      }))

    test('supervision - an async rejection is a fault like a throw', () =>
      withKernel(mode, async (kernel) => {
        const ref = await kernel.spawn(restarter, 'b')
        await ref.ask('add', 2)
        assert.equal((await rejection(ref.ask('slowThenBoom', 10))).code, 'handler_error')
        assert.equal(await ref.ask('get'), 0)
      }))

    test('supervision - stop dead-letters the mailbox; the next message activates a fresh actor', () =>
      withKernel(mode, async (kernel) => {
        const letters: DeadLetter[] = []
        kernel.onDeadLetter((l) => letters.push(l))
        const ref = await kernel.spawn(stopper, 'a')
        await ref.ask('add', 5)
        const failed = ref.ask('boom')
        const lost = ref.ask('add', 1)
        assert.equal((await rejection(failed)).code, 'handler_error')
        assert.deepEqual(await rejection(lost), {
          name: 'UnavailableError',
          code: 'actor_stopped',
          status: 503,
        })
        assert.ok(letters.some((l) => l.reason === 'actor-stopped' && l.message === 1))
        assert.equal(await ref.ask('get'), 0)
      }))

    test('supervision - a spent restart budget stops the actor', () =>
      withKernel(mode, async (kernel, logger) => {
        const ref = await kernel.spawn(budgeted, 'a')
        for (let i = 0; i < 3; i++) {
          await ref.ask('add', 1)
          await rejection(ref.ask('boom'))
        }
        await eventually(() => logger.warnings.some((w) => w.includes('restart budget spent')))
        assert.equal(await ref.ask('get'), 0)
      }))

    test('timeouts - an ask to a handler that never settles times out with 408', () =>
      withKernel(mode, quickStop, async (kernel) => {
        const ref = await kernel.spawn(counter, 't')
        const started = Date.now()
        assert.deepEqual(await rejection(ref.ask('never', undefined, { timeout: 80 })), {
          name: 'TimeoutError',
          code: 'timeout',
          status: 408,
        })
        const took = Date.now() - started
        assert.ok(took >= 75 && took < 1000, `took ${took} ms`)
      }))

    test('timeouts - after the turn timeout the actor is restarted and serves the next messages', () =>
      withKernel(mode, async (kernel, logger) => {
        const ref = await kernel.spawn(stuck, 's')
        await ref.ask('add', 10)
        await rejection(ref.ask('never', undefined, { timeout: 50 }))
        // queued behind the stuck turn: served once the turn timeout (150 ms) restarts the actor
        assert.equal(await ref.ask('add', 1, { timeout: 2000 }), 1)
        await eventually(() => logger.warnings.some((w) => w.includes('did not settle within 150 ms')))
      }))

    test('timeouts - an AbortSignal aborts a pending ask with 499; an aborted one never starts', () =>
      withKernel(mode, quickStop, async (kernel) => {
        const ref = await kernel.spawn(counter, 'ab')
        const controller = new AbortController()
        const pending = ref.ask('never', undefined, { signal: controller.signal, timeout: 5000 })
        setTimeout(() => controller.abort(), 20)
        assert.deepEqual(await rejection(pending), { name: 'AbortedError', code: 'aborted', status: 499 })
        const aborted = AbortSignal.abort()
        assert.equal((await rejection(ref.ask('add', { by: 1 }, { signal: aborted }))).code, 'aborted')
      }))

    test('timeouts - an ask whose deadline passed while queued is not run', () =>
      withKernel(mode, async (kernel) => {
        const ref = await kernel.spawn(counter, 'dl')
        void ref.ask('addSlow', { by: 1, ms: 100 })
        const late = ref.ask('add', { by: 100 }, { timeout: 20 })
        assert.equal((await rejection(late)).code, 'timeout')
        assert.equal(await ref.ask('get'), 1)
      }))
  })
}
