import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { captureLogger, eventually, MODES, rejection, withKernel } from '../helpers/kernels.ts'
import { counter, hooked, recorder } from '../fixtures/actors.ts'
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
