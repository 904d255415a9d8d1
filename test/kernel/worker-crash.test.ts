import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { eventually, MODES, rejection, withKernel } from '../helpers/kernels.ts'
import { counter } from '../fixtures/actors.ts'
import { chat } from '../fixtures/streams.ts'
import { hashKey } from '../../src/kernel/address.ts'

const workers = MODES.find((m) => m.workers)!

describe('kernel worker crashes', () => {
  for (const [how, handler] of [
    ['process.exit in a handler', 'quitThread'],
    ['an uncaught throw outside a handler', 'crash'],
  ] as const) {
    test(`workers - ${how}: asks in flight reject at once with 503 worker_crashed; the kernel keeps serving`, () =>
      withKernel(workers, async (kernel, logger) => {
        await kernel.register(counter)
        const victim = kernel.ref<typeof counter>('counter/victim')
        await victim.ask('add', { by: 1 })
        // a sibling pinned to the same worker, busy when the worker dies
        const slot = hashKey('counter/victim') % 2
        const siblingId = Array.from({ length: 50 }, (_, i) => `s${i}`).find(
          (id) => hashKey(`counter/${id}`) % 2 === slot,
        )!
        const sibling = kernel.ref<typeof counter>(`counter/${siblingId}`)
        const bystanders = Array.from({ length: 8 }, (_, i) => kernel.ref<typeof counter>(`counter/b${i}`))
        await Promise.all(bystanders.map((b) => b.ask('add', { by: 1 })))

        const started = Date.now()
        const inFlight = [
          sibling.ask('addSlow', { by: 1, ms: 5_000 }, { timeout: 10_000 }),
          victim.ask(handler, undefined, { timeout: 10_000 }),
        ]
        const results = await Promise.all(inFlight.map((p) => rejection(p)))
        const took = Date.now() - started
        for (const r of results)
          assert.deepEqual(r, { name: 'UnavailableError', code: 'worker_crashed', status: 503 })
        assert.ok(took < 3000, `rejected after ${took} ms`)
        await eventually(() => logger.warnings.some((w) => w.includes('died')))

        // the replacement worker serves; the victim's state was lost with its worker (not persistent)
        await eventually(async () => (await victim.ask('get').catch(() => -1)) === 0, 5000)
        assert.equal(await victim.ask('add', { by: 2 }), 2)
        const counts = await Promise.all(bystanders.map((b) => b.ask('get')))
        assert.ok(
          counts.every((c) => c === 0 || c === 1),
          String(counts),
        )
        assert.ok(counts.includes(1), 'actors on the surviving worker keep their state')
        const stats = await kernel.stats()
        assert.equal(stats.workers, 2)
      }))
  }

  test('workers - a worker dying mid-stream cancels the stream with worker_crashed; no route is left', () =>
    withKernel(workers, async (kernel, logger) => {
      await kernel.register(chat)
      const ref = kernel.ref<typeof chat>('chat/doomed')
      const s = ref.stream('crashy', { window: 4 })
      const echoed: number[] = []
      const reading = (async () => {
        for await (const n of s) echoed.push(n)
      })().catch((err: unknown) => err)
      await s.send(1)
      await s.send(2) // the handler crashes its worker after echoing this one
      assert.deepEqual(await rejection(s.done), {
        name: 'UnavailableError',
        code: 'worker_crashed',
        status: 503,
      })
      assert.equal(((await reading) as { code: string }).code, 'worker_crashed')
      await assert.rejects(s.send(3), { code: 'worker_crashed' })
      await eventually(() => logger.warnings.some((w) => w.includes('died')))
      await eventually(async () => (await kernel.stats()).streams === 0)
      // the actor comes back on the replacement worker and streams again
      await eventually(async () => {
        const again = ref.stream('echo')
        const back: number[] = []
        const read = (async () => {
          for await (const n of again) back.push(n)
        })()
        await again.send(21).catch(() => undefined)
        again.end()
        await Promise.all([read, again.done]).catch(() => undefined)
        return back[0] === 42
      }, 5_000)
      await eventually(async () => (await kernel.stats()).streams === 0)
    }))

  test('workers - a worker over its heap limit dies, is replaced, and the kernel keeps serving', () =>
    withKernel(workers, { workerResourceLimits: { maxOldGenerationSizeMb: 32 } }, async (kernel) => {
      await kernel.register(counter)
      const hog = kernel.ref<typeof counter>('counter/hog')
      const r = await rejection(hog.ask('big', { bytes: 512 * 1024 * 1024 }, { timeout: 20_000 }))
      assert.ok(r.code === 'worker_crashed' || r.code === 'handler_error', JSON.stringify(r))
      await eventually(async () => (await hog.ask('add', { by: 1 }).catch(() => -1)) === 1, 10_000)
    }))
})
