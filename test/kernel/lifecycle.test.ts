import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { captureLogger, eventually, MODES, rejection, sleep, withKernel } from '../helpers/kernels.ts'
import { counter, hog, hooked, recorder } from '../fixtures/actors.ts'
import { MicaError } from '../../src/errors.ts'
import { reachedNoHandler } from '../../src/service/client-options.ts'
import { createKernel } from '../../src/kernel/kernel.ts'

for (const mode of MODES) {
  describe(`kernel lifecycle (${mode.name})`, () => {
    test('lifecycle - started runs before the first message; stopped runs on ctx.stop()', () =>
      withKernel(mode, async (kernel) => {
        const log = await kernel.spawn(recorder, 'log')
        const ref = await kernel.spawn(hooked, 'h1')
        assert.equal(await ref.ask('started'), 1)
        assert.equal(await ref.ask('stop'), 'bye')
        await eventually(async () => (await log.ask('events')).length === 2)
        assert.deepEqual(await log.ask('events'), ['started hooked/h1', 'stopped hooked/h1'])
        // the next message activates a new incarnation, whose started hook runs again
        assert.equal(await ref.ask('started'), 1)
        await eventually(async () => (await log.ask('events')).length === 3)
      }))

    test('lifecycle - spawn by module URL', () =>
      withKernel(mode, async (kernel) => {
        const url = new URL('../fixtures/counter.ts#greeter', import.meta.url)
        const ref = await kernel.spawn(url)
        assert.equal(await ref.ask('hello', { name: 'url' }), 'Hello url')
      }))

    test('lifecycle - stop drains queued messages before it resolves', async () => {
      const kernel = await createKernel({ ...mode.options, logger: captureLogger() })
      const ref = await kernel.spawn(counter, 'drain')
      const replies = Array.from({ length: 200 }, () => ref.ask('addSlow', { by: 1, ms: 0 }))
      await kernel.stop()
      assert.deepEqual((await Promise.all(replies)).at(-1), 200)
      assert.equal((await rejection(ref.ask('get'))).code, 'kernel_stopped')
      assert.doesNotThrow(() => ref.send('get'))
      await assert.rejects(kernel.spawn(counter, 'late'), { code: 'kernel_stopped' })
    })

    test('lifecycle - stop past the drain timeout: an ask cut off mid-turn is not retryable, one that never ran is', async () => {
      const kernel = await createKernel({ ...mode.options, logger: captureLogger(), drainTimeoutMs: 100 })
      const ref = await kernel.spawn(counter, 'cut')
      const outcome = (p: Promise<unknown>) =>
        p.then(
          () => undefined,
          (e: unknown) => e as MicaError,
        )
      const midTurn = outcome(ref.ask('addSlow', { by: 1, ms: 1_000 }, { timeout: 10_000 }))
      const queued = outcome(ref.ask('add', { by: 1 }, { timeout: 10_000 }))
      await sleep(50) // the first is in its turn (on a worker: delivered there), the second waits behind it
      await kernel.stop()
      const cut = (await midTurn)!
      assert.deepEqual([cut.code, cut.id], ['kernel_stopped', 'counter.addSlow'], 'stamped with its endpoint')
      assert.deepEqual([cut.retryable, reachedNoHandler(cut)], [false, false], 'it may have run')
      const never = (await queued)!
      assert.equal(never.code, 'actor_stopped')
      assert.deepEqual([never.retryable, reachedNoHandler(never)], [true, true], 'it never ran')
      const late = (await outcome(ref.ask('add', { by: 1 })))!
      assert.deepEqual([late.code, late.retryable, reachedNoHandler(late)], ['kernel_stopped', true, true])
    })

    if (mode.workers)
      test('lifecycle - stop while a handler holds its worker thread: its asks may have run (connection_lost)', async () => {
        const kernel = await createKernel({ ...mode.options, logger: captureLogger(), drainTimeoutMs: 100 })
        const ref = await kernel.spawn(hog, 'h')
        const outcome = (p: Promise<unknown>) =>
          p.then(
            () => undefined,
            (e: unknown) => e as MicaError,
          )
        const spinning = outcome(ref.ask('spin', 3_000, { timeout: 10_000 }))
        const behind = outcome(ref.ask('spin', 1, { timeout: 10_000 }))
        await sleep(50)
        const started = Date.now()
        await kernel.stop() // the worker cannot answer its stop: it is terminated after the grace period
        assert.ok(Date.now() - started < 2_900, 'stop did not wait for the handler')
        for (const e of [await spinning, await behind]) {
          assert.ok(e instanceof MicaError)
          assert.equal(e.code, 'connection_lost')
          assert.deepEqual(
            [e.retryable, reachedNoHandler(e)],
            [false, false],
            'delivered to the worker: it may have run',
          )
        }
      })

    test('lifecycle - stop leaves no handle open', async () => {
      const before = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap')
      const kernel = await createKernel({ ...mode.options, logger: captureLogger(), drainTimeoutMs: 200 })
      const ref = await kernel.spawn(counter, 'h')
      await Promise.all(Array.from({ length: 100 }, () => ref.ask('add', { by: 1 })))
      void ref.ask('never', undefined, { timeout: 60_000 }).catch(() => undefined)
      await kernel.stop()
      const after = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap')
      assert.deepEqual(after.sort(), before.sort())
    })

    test('lifecycle - stop twice is the same stop', async () => {
      const kernel = await createKernel({ ...mode.options, logger: captureLogger() })
      const a = kernel.stop()
      const b = kernel.stop()
      assert.equal(a, b)
      await a
      assert.equal(kernel.running, false)
    })
  })
}
