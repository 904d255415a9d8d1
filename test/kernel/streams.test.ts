import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { eventually, MODES, rejection, sleep, withKernel } from '../helpers/kernels.ts'
import { withCluster, type TransportKind } from '../helpers/cluster.ts'
import { chat, relay } from '../fixtures/streams.ts'
import { assertWindowHeld } from '../helpers/streams.ts'
import type { Kernel } from '../../src/kernel/kernel.ts'
import type { ActorRef } from '../../src/actors/types.ts'

type Chat = ActorRef<typeof chat>

/** The same stream behaviours, whatever carries them. */
function streamTests(
  setup: (fn: (caller: Kernel, chats: (id: string) => Chat) => Promise<void>) => Promise<void>,
) {
  test('streams - messages flow both ways in order; the handler returning ends the stream', () =>
    setup(async (_k, chats) => {
      const s = chats('e').stream('echo')
      const got: number[] = []
      const reading = (async () => {
        for await (const n of s) got.push(n)
      })()
      for (let i = 1; i <= 50; i++) await s.send(i)
      s.end()
      await reading
      await s.done
      assert.deepEqual(
        got,
        Array.from({ length: 50 }, (_, i) => (i + 1) * 2),
      )
    }))

  test('streams - a reply after the caller ended its side', () =>
    setup(async (_k, chats) => {
      const s = chats('s').stream('sum')
      for (const n of [1, 2, 3, 4]) await s.send(n)
      s.end()
      const out: number[] = []
      for await (const n of s) out.push(n)
      assert.deepEqual(out, [10])
    }))

  test('streams - a handler error cancels the stream for the caller with the error', () =>
    setup(async (_k, chats) => {
      const s = chats('f').stream('fail')
      for (const n of [1, 2, 3]) await s.send(n)
      assert.equal((await rejection(s.done)).code, 'handler_error')
      await assert.rejects(s.send(4), { code: 'handler_error' })
    }))

  test('streams - a caller cancel reaches the handler', () =>
    setup(async (_k, chats) => {
      const ref = chats('c')
      const s = ref.stream('watch')
      await s.send(1)
      await sleep(20)
      s.cancel('changed my mind')
      assert.equal((await rejection(s.done)).code, 'aborted')
      await eventually(async () => (await ref.ask('state')).cancelled === 'aborted')
    }))

  test('streams - credit: a slow reader holds the writer to its window', () =>
    setup(async (_k, chats) => assertWindowHeld(chats('w'))))

  test('streams - a stream to an unknown kind or handler fails at once', () =>
    setup(async (k) => {
      assert.equal((await rejection(k.ref('nobody/x').stream('h').done)).code, 'kind_not_found')
      assert.equal(
        (await rejection(k.ref<typeof chat>('chat/x').stream('nope' as 'echo').done)).code,
        'handler_not_found',
      )
    }))
}

for (const mode of MODES) {
  describe(`streams (${mode.name})`, () => {
    test('streams - an actor opens a stream from its handler', () =>
      withKernel(mode, async (kernel) => {
        await kernel.register(chat)
        const r = await kernel.spawn(relay, 'r')
        assert.deepEqual(
          await r.ask('viaStream', { to: 'chat/y', n: 20 }),
          Array.from({ length: 20 }, (_, i) => (i + 1) * 2),
        )
        await eventually(async () => (await kernel.stats()).streams === 0)
      }))

    streamTests((fn) =>
      withKernel(mode, async (kernel) => {
        await kernel.register(chat)
        await fn(kernel, (id) => kernel.ref<typeof chat>(`chat/${id}`))
        await eventually(async () => (await kernel.stats()).streams === 0)
      }),
    )
  })
}

for (const transport of ['memory', 'tcp'] as TransportKind[]) {
  describe(`streams across nodes (${transport})`, () => {
    test('streams - an actor on a worker streams to an actor on another node', () =>
      withCluster(transport, async (c) => {
        const a = await c.node('a')
        const b = await c.node('b', { workers: 2 })
        await a.register(chat)
        await b.register(relay)
        const got = await a.ref<typeof relay>('relay/r').ask('viaStream', { to: 'chat/z', n: 30 })
        assert.deepEqual(
          got,
          Array.from({ length: 30 }, (_, i) => (i + 1) * 2),
        )
        await eventually(async () => (await a.stats()).streams === 0 && (await b.stats()).streams === 0)
      }))

    streamTests((fn) =>
      withCluster(transport, async (c) => {
        const a = await c.node('a')
        const b = await c.node('b', { workers: 2 })
        await b.register(chat)
        await fn(a, (id) => a.ref<typeof chat>(`chat/${id}`))
        // every stream is over: no route left on either node, nor on b's worker hop
        await eventually(async () => (await a.stats()).streams === 0 && (await b.stats()).streams === 0)
      }),
    )
  })
}
