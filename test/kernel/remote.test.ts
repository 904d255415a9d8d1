import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { withCluster, type TransportKind } from '../helpers/cluster.ts'
import { eventually, rejection, sleep } from '../helpers/kernels.ts'
import { counter, refuser, rejecting, where } from '../fixtures/actors.ts'
import type { MicaError } from '../../src/errors.ts'
import type { DeadLetter } from '../../src/mailbox/dead-letters.ts'

for (const transport of ['memory', 'tcp'] as TransportKind[]) {
  describe(`kernel across nodes (${transport})`, () => {
    test('remote - an ask reaches a kind hosted only on another node, with metadata and deadline', () =>
      withCluster(transport, async (c) => {
        const a = await c.node('a')
        const b = await c.node('b')
        await b.register(counter)
        const ref = a.ref<typeof counter>('counter/x')
        assert.equal(await ref.ask('add', { by: 2 }), 2)
        assert.equal(await ref.ask('add', { by: 3 }), 5)
        const deadline = Date.now() + 3_000
        const seen = (await ref.ask('meta', undefined, { metadata: { 'Micro-Id': 'r1' }, deadline })) as {
          metadata: Record<string, string>
          deadline: number
        }
        assert.deepEqual(seen.metadata, { 'Micro-Id': 'r1' })
        assert.equal(seen.deadline, deadline)
        assert.equal(await b.ref<typeof counter>('counter/x').ask('get'), 5, 'the actor lives on b')
      }))

    test('remote - a remote error arrives as the same MicaError; unknown handler and kind are 404s', () =>
      withCluster(transport, async (c) => {
        const a = await c.node('a')
        const b = await c.node('b')
        await b.register(counter)
        assert.deepEqual(await rejection(a.ref('counter/e').ask('notFound')), {
          name: 'NotFoundError',
          code: 'actor_not_found',
          status: 404,
        })
        assert.equal(
          (await rejection(a.ref('counter/e').ask('boom', { message: 'x' }))).code,
          'handler_error',
        )
        assert.equal((await rejection(a.ref('counter/e').ask('nope'))).code, 'handler_not_found')
        assert.equal((await rejection(a.ref('ghost/1').ask('x'))).code, 'kind_not_found')
      }))

    test('remote - a keyed actor has one home across nodes (rendezvous), whoever asks', () =>
      withCluster(transport, async (c) => {
        const nodes = [await c.node('a'), await c.node('b'), await c.node('c')]
        for (const k of nodes) await k.register(counter)
        const ids = Array.from({ length: 30 }, (_, i) => `k${i}`)
        for (let round = 0; round < 3; round++) {
          for (const [i, id] of ids.entries()) {
            await nodes[(i + round) % 3]!.ref<typeof counter>(`counter/${id}`).ask('add', { by: 1 })
          }
        }
        for (const id of ids) assert.equal(await nodes[0]!.ref<typeof counter>(`counter/${id}`).ask('get'), 3)
        const homes = await Promise.all(nodes.map(async (k) => (await k.stats()).actors))
        assert.equal(
          homes.reduce((x, y) => x + y, 0),
          30,
          `each id activated once: ${homes}`,
        )
        assert.ok(
          homes.every((h) => h > 0),
          `the ids spread over the nodes: ${homes}`,
        )
      }))

    test('remote - a stateless kind hosted here is served here; sends cross nodes', () =>
      withCluster(transport, async (c) => {
        const a = await c.node('a')
        const b = await c.node('b')
        await a.register(where)
        await b.register(where)
        await b.register(counter)
        const threads = await Promise.all(Array.from({ length: 10 }, () => a.ref('where/').ask('thread')))
        assert.equal(new Set(threads).size, 1)
        assert.equal((await a.stats()).actors, 1)
        for (let i = 0; i < 100; i++) a.ref<typeof counter>('counter/s').send('add', { by: 1 })
        await eventually(async () => (await b.ref<typeof counter>('counter/s').ask('get')) === 100)
      }))

    test('remote - an address pinned to a node goes to that node', () =>
      withCluster(transport, async (c) => {
        const a = await c.node('a')
        const b = await c.node('b')
        await a.register(counter)
        await b.register(counter)
        await a.ref<typeof counter>('counter/p@b').ask('add', { by: 7 })
        assert.equal(await b.ref<typeof counter>('counter/p@b').ask('get'), 7)
        assert.equal((await a.stats()).actors, 0)
        assert.equal((await rejection(a.ref('counter/p@zz').ask('get'))).code, 'kind_not_found')
      }))

    test('remote - a stopped node deregisters: its keyed actors move to the nodes left', () =>
      withCluster(transport, async (c) => {
        const a = await c.node('a')
        const b = await c.node('b')
        await a.register(counter)
        await b.register(counter)
        const ids = Array.from({ length: 20 }, (_, i) => `m${i}`)
        for (const id of ids) await a.ref<typeof counter>(`counter/${id}`).ask('add', { by: 1 })
        assert.ok((await b.stats()).actors > 0)
        await b.stop()
        await eventually(async () => {
          for (const id of ids) await a.ref<typeof counter>(`counter/${id}`).ask('get')
          return (await a.stats()).actors === ids.length
        })
      }))

    test('remote - an ask refused before any handler ran (mailbox full) is retried with backoff', () =>
      withCluster(transport, async (c) => {
        const a = await c.node('a', { retries: 5, retryBackoffMs: 10 })
        const b = await c.node('b')
        await b.register(rejecting)
        const ref = a.ref<typeof rejecting>('rejecting/r')
        const holding = ref.ask('hold', { ms: 100 })
        await sleep(20)
        const queued = [ref.ask('take', 1), ref.ask('take', 2)]
        await sleep(10)
        // the mailbox (capacity 2) is full: b refuses with 429, a retries until there is room
        assert.equal(await ref.ask('take', 3), 3)
        await Promise.all([holding, ...queued])
        assert.deepEqual(await ref.ask('seen'), [1, 2, 3])
        const noRetry = await c.node('z', { retries: 0 })
        const again = noRetry.ref<typeof rejecting>('rejecting/r')
        void again.ask('hold', { ms: 80 })
        await sleep(20)
        const more = [again.ask('take', 4), again.ask('take', 5)]
        await sleep(10)
        assert.equal((await rejection(again.ask('take', 6))).code, 'mailbox_full')
        await Promise.all(more)
      }))

    test('remote - an ask aborted while it waits for its retry rejects at once and is never re-sent', () =>
      withCluster(transport, async (c) => {
        const a = await c.node('a', { retries: 3, retryBackoffMs: 400 })
        const b = await c.node('b')
        await b.register(rejecting)
        const ref = a.ref<typeof rejecting>('rejecting/r')
        const holding = ref.ask('hold', { ms: 150 })
        await sleep(20)
        const queued = [ref.ask('take', 1), ref.ask('take', 2)]
        await sleep(10)
        const controller = new AbortController()
        const started = Date.now()
        const refused = rejection(ref.ask('take', 3, { signal: controller.signal }))
        await sleep(50) // refused with 429 by now, waiting out its 400 ms backoff
        controller.abort()
        const err = await refused
        assert.equal(err.code, 'aborted')
        assert.ok(Date.now() - started < 300, `aborted in ${Date.now() - started} ms, not after the backoff`)
        await Promise.all([holding, ...queued])
        await sleep(450) // past the backoff: the aborted ask must not have been sent again
        assert.deepEqual(await ref.ask('seen'), [1, 2])
      }))

    test("remote - a handler's own 503 or 429 is never retried: the handler ran once, its error arrives as thrown", () =>
      withCluster(transport, async (c) => {
        const a = await c.node('a', { retries: 3, retryBackoffMs: 5 })
        const b = await c.node('b')
        const d = await c.node('d')
        await b.register(refuser)
        await d.register(refuser)
        const cases = [
          ['down', 'UnavailableError', 'unavailable', 503],
          ['busy', 'TooManyRequestsError', 'mailbox_full', 429],
          ['relayed', 'UnavailableError', 'actor_stopped', 503],
        ] as const
        for (const [handler, name, code, status] of cases) {
          for (const to of ['refuser/', 'refuser/k1']) {
            const err = (await a
              .ref(to)
              .ask(handler)
              .catch((e: unknown) => e)) as MicaError
            assert.deepEqual([err.name, err.code, err.status], [name, code, status], `${to} ${handler}`)
            assert.equal(err.id, `refuser.${handler}`, 'stamped with the endpoint that threw it')
            assert.equal(err.retryable, false)
          }
          const runs = (await Promise.all([b.stats(), d.stats()]))
            .map((s) => s.handlers[`refuser.${handler}`]?.count ?? 0)
            .reduce((x, y) => x + y, 0)
          assert.equal(runs, 2, `${handler}: one run per ask, no retry on another node`)
        }
      }))

    test('remote - sends to a kind hosted nowhere become dead letters', () =>
      withCluster(transport, async (c) => {
        const a = await c.node('a')
        const letters: DeadLetter[] = []
        a.onDeadLetter((l) => letters.push(l))
        a.ref('nowhere/1').send('x', 1)
        await eventually(() => letters.length === 1)
        assert.equal(letters[0]!.reason, 'kind-not-found')
      }))
  })
}
