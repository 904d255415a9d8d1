import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { MODES, rejection, withKernel, eventually } from '../helpers/kernels.ts'
import { counter, spawner, where } from '../fixtures/actors.ts'
import type { DeadLetter } from '../../src/mailbox/dead-letters.ts'

for (const mode of MODES) {
  describe(`kernel messaging (${mode.name})`, () => {
    test('kernel - ask returns the handler result and state persists between messages', () =>
      withKernel(mode, async (kernel) => {
        const ref = await kernel.spawn(counter, 'a')
        assert.equal(await ref.ask('add', { by: 2 }), 2)
        assert.equal(await ref.ask('add', { by: 3 }), 5)
        assert.equal(await ref.ask('get'), 5)
        assert.equal(ref.address, 'counter/a')
      }))

    test('kernel - sends are handled in order and before a later ask', () =>
      withKernel(mode, async (kernel) => {
        const ref = await kernel.spawn(counter, 'b')
        for (let i = 1; i <= 1000; i++) ref.send('add', { by: 1 })
        assert.equal(await ref.ask('get'), 1000)
      }))

    test('kernel - one message at a time even when handlers are async (turn-based)', () =>
      withKernel(mode, async (kernel) => {
        const ref = await kernel.spawn(counter, 'c')
        // addSlow reads state, sleeps, then writes: any interleaving would lose updates
        const delays = [30, 1, 20, 5, 0, 12, 3, 25, 8, 1]
        const replies = await Promise.all(delays.map((ms, i) => ref.ask('addSlow', { by: i + 1, ms })))
        assert.deepEqual(
          await ref.ask('log'),
          delays.map((_, i) => i + 1),
        )
        assert.deepEqual(
          replies,
          delays.map((_, i) => ((i + 1) * (i + 2)) / 2),
        )
      }))

    test('kernel - refs to the same address share one actor', () =>
      withKernel(mode, async (kernel) => {
        await kernel.spawn(counter, 'd')
        const again = kernel.ref<typeof counter>('counter/d')
        await again.ask('add', { by: 7 })
        assert.equal(await kernel.ref<typeof counter>('counter/d').ask('get'), 7)
      }))

    test('kernel - any id of a hosted kind is activated by its first message', () =>
      withKernel(mode, async (kernel) => {
        await kernel.register(counter)
        const refs = Array.from({ length: 50 }, (_, i) => kernel.ref<typeof counter>(`counter/v${i}`))
        await Promise.all(refs.map((r, i) => r.ask('add', { by: i })))
        const values = await Promise.all(refs.map((r) => r.ask('get')))
        assert.deepEqual(
          values,
          refs.map((_, i) => i),
        )
        assert.equal((await kernel.stats()).actors, 50)
      }))

    test('kernel - metadata reaches the handler; the ask deadline is visible', () =>
      withKernel(mode, async (kernel) => {
        const ref = await kernel.spawn(counter, 'm')
        const before = Date.now()
        const seen = (await ref.ask('meta', undefined, {
          metadata: { 'Micro-Trace': 't1' },
          timeout: 1000,
        })) as {
          metadata: Record<string, string>
          deadline: number
          self: string
        }
        assert.deepEqual(seen.metadata, { 'Micro-Trace': 't1' })
        assert.ok(seen.deadline >= before + 1000 && seen.deadline <= Date.now() + 1000)
        assert.equal(seen.self, 'counter/m')
      }))

    test('kernel - json content type round trips', () =>
      withKernel(mode, async (kernel) => {
        const ref = await kernel.spawn(counter, 'j')
        const value = { a: [1, 'two', { three: true }], n: null }
        assert.deepEqual(await ref.ask('echo', value, { contentType: 'application/json' }), value)
      }))

    test('kernel - actors ask and send to other actors (ctx.ask / ctx.send)', () =>
      withKernel(mode, async (kernel) => {
        const a = await kernel.spawn(counter, 'x')
        await kernel.spawn(counter, 'y')
        assert.equal(await a.ask('askOther', { to: 'counter/y', handler: 'add', msg: { by: 4 } }), 4)
        assert.equal(await a.ask('tell', { to: 'counter/y', handler: 'add', msg: { by: 1 } }), true)
        await eventually(async () => (await kernel.ref<typeof counter>('counter/y').ask('get')) === 5)
      }))

    test('kernel - actors spawn actors; an inner ask inherits the outer deadline', () =>
      withKernel(mode, async (kernel) => {
        await kernel.register(counter)
        const s = await kernel.spawn(spawner, 's')
        assert.equal(await s.ask('spawnAndAsk', 'child'), 5)
        const deadline = Date.now() + 1500
        const inner = (await s.ask('remaining', { to: 'counter/child' }, { deadline })) as {
          deadline: number
        }
        assert.equal(inner.deadline, deadline)
      }))

    test('kernel - a stateless kind serves from every worker', () =>
      withKernel(mode, async (kernel) => {
        const ref = await kernel.spawn(where)
        assert.equal(ref.address, 'where/')
        const threads = new Set(await Promise.all(Array.from({ length: 20 }, () => ref.ask('thread'))))
        assert.equal(threads.size, mode.workers ? 2 : 1)
      }))

    test('kernel - dead letters are observable: unknown handler and unknown kind on send', () =>
      withKernel(mode, async (kernel) => {
        const letters: DeadLetter[] = []
        kernel.onDeadLetter((l) => letters.push(l))
        await kernel.register(counter)
        kernel.ref('counter/z').send('nope', { x: 1 })
        kernel.ref('ghost/1').send('anything', 1)
        await eventually(() => letters.length === 2)
        assert.equal(letters[0]!.reason, 'handler-not-found')
        assert.equal(letters[0]!.error?.code, 'handler_not_found')
        assert.deepEqual(letters[0]!.message, { x: 1 })
        assert.equal(letters[1]!.reason, 'kind-not-found')
      }))

    test('kernel - a client error thrown by a handler keeps its class and is no fault', () =>
      withKernel(mode, async (kernel) => {
        const ref = await kernel.spawn(counter, 'e')
        await ref.ask('add', { by: 3 })
        assert.deepEqual(await rejection(ref.ask('notFound')), {
          name: 'NotFoundError',
          code: 'actor_not_found',
          status: 404,
        })
        // a client error (< 500) is a business answer: no restart, the state is kept
        assert.equal(await ref.ask('get'), 3)
      }))
  })
}
