import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { defineActor } from '../../src/actors/define.ts'
import { errors, type MicaError } from '../../src/errors.ts'
import { byVersion } from '../../src/registry/selector.ts'
import type { RegistryNode } from '../../src/registry/registry.ts'
import type { Service } from '../../src/service/service.ts'
import type { Stream } from '../../src/kernel/stream.ts'
import { JSON_CONTENT_TYPE } from '../../src/codec/codec.ts'
import { rejection, sleep } from '../helpers/kernels.ts'
import { withServices, type Services } from './kit.ts'
import { RegistryView } from '../helpers/cluster.ts'
import { replyMetadata } from '../../src/service/call-scope.ts'
import { backoffFn, reachedNoHandler } from '../../src/service/client-options.ts'
import { bounded, greeter, journaled } from './greeter.ts'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'

/** A kind whose handler counts its runs and fails as told. */
function counting(kind: string) {
  const runs: string[] = []
  const def = defineActor({
    kind,
    handlers: {
      run: (req: { fail?: 'unavailable' | 'internal' }, ctx) => {
        runs.push(ctx.self)
        if (req.fail === 'unavailable') throw errors.unavailable('db down')
        if (req.fail === 'internal') throw new Error('boom')
        return 'ok'
      },
      slow: async (ms: number) => {
        runs.push('slow')
        await sleep(ms)
        return 'slow ok'
      },
    },
  })
  return { def, runs }
}

/** A node registered for `service` that does not host its kinds (a stale record). */
async function ghost(s: Services, service: string): Promise<RegistryNode> {
  const node = { id: 'ghost', address: '127.0.0.1:9', metadata: {} }
  await s.registry.register({ name: service, version: '', metadata: {}, endpoints: [], nodes: [node] })
  return node
}

const ghostFirst = (nodes: readonly RegistryNode[]) => nodes.find((n) => n.id === 'ghost') ?? nodes[0]

describe('service client', () => {
  test('client - call reaches Kind.handler of a service on another node', async () => {
    await withServices(async (s) => {
      await s.started({ name: 'greeter' }, (g) => g.handle(greeter))
      const caller = await s.started({ name: 'caller' })
      assert.deepEqual(await caller.client.call('greeter', 'Greeter.hello', { name: 'Ann' }), {
        greeting: 'Hello Ann',
      })
      const bad = await rejection(caller.client.call('greeter', 'Greeter.hello', { name: '' }))
      assert.deepEqual(bad, { name: 'BadRequestError', code: 'bad_request', status: 400 })
      const missing = await rejection(caller.client.call('greeter', 'Greeter.nope', {}))
      assert.equal(missing.code, 'handler_not_found')
      const noService = await rejection(caller.client.call('nobody', 'X.y', {}, { retries: 0 }))
      assert.equal(noService.status, 503)
    })
  })

  test('client - a failure before any handler is retried on another node (retries, backoff)', async () => {
    await withServices(async (s) => {
      const { def, runs } = counting('Work')
      await s.started({ name: 'work' }, (w) => w.handle(def))
      const caller = await s.started({ name: 'caller' })
      await ghost(s, 'work')
      const waits: number[] = []
      const reply = await caller.client.call(
        'work',
        'Work.run',
        {},
        { selectOptions: { strategy: ghostFirst }, backoff: (n) => (waits.push(n), 1) },
      )
      assert.equal(reply, 'ok')
      assert.deepEqual(runs, ['Work/'])
      assert.deepEqual(waits, [1], 'one backoff before the retry')
      // without retries the same failure is final
      const refused = await rejection(
        caller.client.call('work', 'Work.run', {}, { retries: 0, selectOptions: { strategy: ghostFirst } }),
      )
      assert.equal(refused.code, 'kind_not_found')
    })
  })

  test('client - retry never repeats a call that reached a handler, unless retryOn says so', async () => {
    await withServices(async (s) => {
      const { def, runs } = counting('Work')
      await s.started({ name: 'work' }, (w) => w.handle(def))
      await s.started({ name: 'work' }, (w) => w.handle(def))
      const caller = await s.started({ name: 'caller' })
      for (const fail of ['unavailable', 'internal'] as const) {
        runs.length = 0
        const e = await rejection(caller.client.call('work', 'Work.run', { fail }, { retries: 3 }))
        assert.equal(e.status, fail === 'unavailable' ? 503 : 500)
        assert.equal(runs.length, 1, `${fail}: the handler ran once`)
      }
      runs.length = 0
      const seen: boolean[] = []
      await rejection(
        caller.client.call(
          'work',
          'Work.run',
          { fail: 'unavailable' },
          {
            retries: 2,
            backoff: 1,
            retryOn: (err, info) => (seen.push(info.reachedHandler), err.status === 503),
          },
        ),
      )
      assert.equal(runs.length, 3, 'retryOn opted in: first try and two retries')
      assert.deepEqual(seen, [true, true])
      assert.equal(new Set(runs).size, 1, 'the kind is stateless: each node serves Work/')
    })
  })

  test("client - on worker threads too, a handler's own 503 is not retried (errors leaving a handler carry its address)", async () => {
    await withServices(async (s) => {
      // the handler runs on a worker: it counts its runs in a file the test reads
      await s.started({ name: 'work', workers: 1 }, (w) => w.handle(journaled))
      await s.started({ name: 'work', workers: 1 }, (w) => w.handle(journaled))
      const caller = await s.started({ name: 'caller' })
      const file = join(mkdtempSync(join(tmpdir(), 'mica-runs-')), 'runs')
      try {
        for (const fail of ['unavailable', 'internal'] as const) {
          writeFileSync(file, '')
          const e = await rejection(
            caller.client.call('work', 'Journaled.run', { file, fail }, { retries: 3, backoff: 1 }),
          )
          assert.equal(e.status, fail === 'unavailable' ? 503 : 500)
          assert.equal(readFileSync(file, 'utf8').length, 1, `${fail}: the handler ran once`)
        }
      } finally {
        rmSync(dirname(file), { recursive: true, force: true })
      }
    })
  })

  for (const workers of [0, 1]) {
    /** Fills the one-slot mailbox of `Bounded/` on `svc`: one `hold` running, one queued. */
    const fill = async (svc: Service, ms: number): Promise<Promise<unknown>[]> => {
      const ref = svc.kernel.ref(`Bounded/@${svc.kernel.nodeId}`)
      const held = [ref.ask('hold', ms), ref.ask('hold', ms)]
      await sleep(30) // the first runs, the second waits in the mailbox (on a worker: delivered there)
      return held
    }
    const served = async (svc: Service) => (await svc.kernel.stats()).handlers['Bounded.where']?.count ?? 0

    test(`client - a full mailbox proves no handler ran: retried on another node (workers: ${workers})`, async () => {
      await withServices(async (s) => {
        const a = await s.started({ name: 'bounded', workers }, (w) => w.handle(bounded))
        const b = await s.started({ name: 'bounded', workers }, (w) => w.handle(bounded))
        const caller = await s.started({ name: 'caller' })
        const aFirst = (nodes: readonly RegistryNode[]) =>
          nodes.find((n) => n.id === a.kernel.nodeId) ?? nodes[0]
        const held = await fill(a, 300)
        const refused = await rejection(
          caller.client.call('bounded', 'Bounded.where', undefined, {
            retries: 0,
            selectOptions: { strategy: aFirst },
          }),
        )
        assert.deepEqual([refused.status, refused.code], [429, 'mailbox_full'])
        const seen: boolean[] = []
        const reply = await caller.client.call('bounded', 'Bounded.where', undefined, {
          retries: 2,
          backoff: 1,
          selectOptions: { strategy: aFirst },
          retryOn: (err, info) => (seen.push(info.reachedHandler), !info.reachedHandler),
        })
        assert.equal(reply, 'Bounded/')
        assert.deepEqual(seen, [false], 'the full mailbox counted as not reached')
        assert.deepEqual([await served(a), await served(b)], [0, 1], 'served by the other node')
        assert.deepEqual(await Promise.all(held), ['held', 'held'])
      })
    })

    test(`client - a full mailbox on the only node: retried after the backoff (workers: ${workers})`, async () => {
      await withServices(async (s) => {
        const a = await s.started({ name: 'bounded', workers }, (w) => w.handle(bounded))
        const caller = await s.started({ name: 'caller' })
        const held = await fill(a, 150)
        const reply = await caller.client.call('bounded', 'Bounded.where', undefined, {
          retries: 1,
          backoff: 400,
        })
        assert.equal(reply, 'Bounded/')
        assert.equal(await served(a), 1)
        await Promise.all(held)
      })
    })

    test(`client - a handler's own 429 or 503, or a full mailbox it rethrew, is not retried (workers: ${workers})`, async () => {
      const file = join(mkdtempSync(join(tmpdir(), 'mica-refuse-')), 'runs')
      try {
        await withServices(async (s) => {
          await s.started({ name: 'bounded', workers }, (w) => w.handle(bounded))
          await s.started({ name: 'bounded', workers }, (w) => w.handle(bounded))
          const caller = await s.started({ name: 'caller' })
          // the service's handler wrappers stamp it with the service's name where they run (workers: 0)
          const stampedAs = workers === 0 ? 'bounded' : 'Bounded.refuse'
          for (const [as, status, code] of [
            ['busy', 429, 'mailbox_full'],
            ['down', 503, 'unavailable'],
            ['relayed', 429, 'mailbox_full'],
          ] as const) {
            writeFileSync(file, '')
            let error: unknown
            await caller.client
              .call('bounded', 'Bounded.refuse', { file, as }, { retries: 3, backoff: 1 })
              .catch((e) => (error = e))
            const e = error as MicaError
            assert.deepEqual([e.status, e.code, e.id], [status, code, stampedAs], as)
            assert.equal(reachedNoHandler(e), false, as)
            assert.equal(e.retryable, false, as)
            assert.equal(readFileSync(file, 'utf8').length, 1, `${as}: the handler ran once`)
          }
        })
      } finally {
        rmSync(dirname(file), { recursive: true, force: true })
      }
    })
  }

  test('client - a call whose handler was cut off by its node stopping (drain timeout) is not repeated', async () => {
    await withServices(async (s) => {
      const { def, runs } = counting('Work')
      const a = await s.started({ name: 'work', kernel: { drainTimeoutMs: 50 } }, (w) => w.handle(def))
      await s.started({ name: 'work' }, (w) => w.handle(def))
      const caller = await s.started({ name: 'caller' })
      const aFirst = (nodes: readonly RegistryNode[]) => nodes.find((n) => n.id === a.kernel.nodeId)
      const call = caller.client.call('work', 'Work.slow', 300, {
        retries: 3,
        backoff: 1,
        selectOptions: { strategy: aFirst },
      })
      await sleep(30)
      const stopping = a.stop()
      const e = await rejection(call)
      await stopping
      assert.deepEqual([e.status, e.code], [503, 'kernel_stopped'])
      assert.deepEqual(runs, ['slow'], 'not run again on the other node')
    })
  })

  test('client - a call lost in flight (connection dropped) is not repeated', async () => {
    await withServices(async (s) => {
      const { def, runs } = counting('Work')
      const a = await s.started({ name: 'work' }, (w) => w.handle(def))
      await s.started({ name: 'work' }, (w) => w.handle(def))
      const caller = await s.started({ name: 'caller' })
      const aFirst = (nodes: readonly RegistryNode[]) => nodes.find((n) => n.id === a.kernel.nodeId)
      const call = caller.client.call('work', 'Work.slow', 200, {
        retries: 3,
        selectOptions: { strategy: aFirst },
      })
      await sleep(30)
      await a.kernel.options.network!.transport.stop()
      const e = await rejection(call)
      assert.equal(e.status, 503)
      assert.deepEqual(runs, ['slow'])
    })
  })

  test("client - a call in flight when the caller's own node stops may have run: connection_lost, not retried", async () => {
    await withServices(async (s) => {
      const { def, runs } = counting('Work')
      await s.started({ name: 'work' }, (w) => w.handle(def))
      await s.started({ name: 'work' }, (w) => w.handle(def))
      const caller = await s.started({ name: 'caller' })
      const call = caller.client.call('work', 'Work.slow', 300, { retries: 3, backoff: 1 })
      call.catch(() => undefined)
      await sleep(30)
      await caller.stop()
      let error: unknown
      await call.catch((e) => (error = e))
      const e = error as MicaError
      assert.equal(e.code, 'connection_lost')
      assert.deepEqual([e.retryable, reachedNoHandler(e)], [false, false])
      await sleep(300)
      assert.deepEqual(runs, ['slow'], 'not run again')
    })
  })

  test('client - timeout bounds the whole call; signal aborts it', async () => {
    await withServices(async (s) => {
      const { def } = counting('Work')
      await s.started({ name: 'work' }, (w) => w.handle(def))
      const caller = await s.started({ name: 'caller' })
      const t0 = Date.now()
      const late = await rejection(caller.client.call('work', 'Work.slow', 500, { timeout: 50 }))
      assert.equal(late.code, 'timeout')
      assert.ok(Date.now() - t0 < 400, 'the timeout ended the call')
      const ac = new AbortController()
      const p = caller.client.call('work', 'Work.slow', 300, { signal: ac.signal })
      setTimeout(() => ac.abort(), 20)
      assert.equal((await rejection(p)).code, 'aborted')
    })
  })

  test('client - a call from inside a handler inherits the remaining deadline', async () => {
    await withServices(async (s) => {
      await s.started({ name: 'greeter' }, (g) => g.handle(greeter))
      const front = s.make({ name: 'front' })
      const frontDef = defineActor({
        kind: 'Front',
        handlers: {
          relay: async (_: void, ctx) => {
            const inner = await front.client.call<{ deadline: number }>('greeter', 'Greeter.whoami')
            return { mine: ctx.deadline, inner: inner.deadline }
          },
        },
      })
      await front.handle(frontDef)
      await front.start()
      const caller = await s.started({ name: 'caller' })
      const before = Date.now()
      const r = await caller.client.call<{ mine: number; inner: number }>('front', 'Front.relay', undefined, {
        timeout: 1_234,
      })
      assert.equal(r.inner, r.mine, 'same absolute deadline one hop further')
      assert.ok(r.mine >= before + 1_234 && r.mine <= Date.now() + 1_234, 'the deadline of the timeout')
    })
  })

  test('client - metadata reaches the handler (with Micro-From-Service) and comes back; too large is a 400', async () => {
    await withServices(async (s) => {
      await s.started({ name: 'greeter' }, (g) => g.handle(greeter))
      const caller = await s.started({ name: 'caller' })
      const r = await caller.client.call<{ metadata: Record<string, string> }>(
        'greeter',
        'Greeter.whoami',
        undefined,
        { metadata: { 'Micro-Tenant': 'acme' } },
      )
      assert.deepEqual(r.metadata, { 'Micro-Tenant': 'acme', 'Micro-From-Service': 'caller' })
      const back: Record<string, string>[] = []
      const tagged = await caller.client.call('greeter', 'Greeter.tagged', 0, {
        metadata: { 'Micro-Tenant': 'acme' },
        onReplyMetadata: (md) => void back.push(md),
      })
      assert.equal(tagged, 'tagged')
      assert.deepEqual(back, [{ 'Micro-Tenant': 'acme', 'Micro-Served-By': 'Greeter/' }])
      const typedBack: Record<string, string>[] = []
      await caller.client
        .typed(greeter, 'greeter')
        .tagged(0, { onReplyMetadata: (md) => void typedBack.push(md) })
      assert.equal(typedBack[0]!['Micro-Tenant'], 'none')
      assert.throws(() => replyMetadata({ a: 'b' }), { code: 'bad_request' }, 'outside a handler')
      const bigReply = await rejection(caller.client.call('greeter', 'Greeter.tagged', 9_000))
      assert.equal(bigReply.status, 400, 'reply metadata has the same limits')
      const big = await rejection(
        caller.client.call('greeter', 'Greeter.whoami', undefined, { metadata: { k: 'x'.repeat(9_000) } }),
      )
      assert.deepEqual(big, { name: 'BadRequestError', code: 'bad_request', status: 400 })
      const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']))
      const wide = await rejection(
        caller.client.call('greeter', 'Greeter.whoami', undefined, { metadata: many }),
      )
      assert.deepEqual([wide.status, wide.code], [400, 'bad_request'], 'at most 64 entries')
      const fits = Object.fromEntries(Array.from({ length: 63 }, (_, i) => [`k${i}`, 'v']))
      const ok = await caller.client.call<{ metadata: Record<string, string> }>(
        'greeter',
        'Greeter.whoami',
        undefined,
        { metadata: fits },
      )
      assert.equal(Object.keys(ok.metadata).length, 64, '63 and Micro-From-Service')
    })
  })

  test('client - selectOptions filters by version; id routes to a keyed actor', async () => {
    await withServices(async (s) => {
      const tally = defineActor({
        kind: 'Tally',
        initial: () => ({ n: 0 }),
        handlers: { add: (by: number, ctx) => ((ctx.state.n += by), { n: ctx.state.n, at: ctx.self }) },
      })
      await s.started({ name: 'tally', version: '1.0.0' }, (t) => t.handle(tally))
      await s.started({ name: 'tally', version: '2.0.0' }, (t) => t.handle(tally))
      const caller = await s.started({ name: 'caller' })
      const add = (by: number, id: string, version: string) =>
        caller.client.call<{ n: number; at: string }>('tally', 'Tally.add', by, {
          id,
          selectOptions: { filters: [byVersion(version)] },
        })
      for (let i = 0; i < 6; i++) {
        const r = await add(1, 'a', '1.0.0')
        assert.deepEqual(r, { n: i + 1, at: 'Tally/a' }, 'the same actor on the same node every time')
      }
      assert.deepEqual(await add(10, 'b', '1.0.0'), { n: 10, at: 'Tally/b' }, 'another id, another actor')
      assert.deepEqual(await add(1, 'a', '2.0.0'), { n: 1, at: 'Tally/a' }, 'the other version: another node')
      const none = await rejection(
        caller.client.call('tally', 'Tally.add', 1, {
          retries: 0,
          selectOptions: { filters: [byVersion('9')] },
        }),
      )
      assert.equal(none.status, 503)
    })
  })

  test('client - contentType sends the call with that codec', async () => {
    await withServices(async (s) => {
      const seen = defineActor({
        kind: 'Echo',
        handlers: { echo: (m: unknown) => m },
      })
      await s.started({ name: 'echo' }, (e) => e.handle(seen))
      const caller = await s.started({ name: 'caller' })
      assert.deepEqual(
        await caller.client.call('echo', 'Echo.echo', { a: [1, 2] }, { contentType: JSON_CONTENT_TYPE }),
        { a: [1, 2] },
      )
      const unknown = await rejection(
        caller.client.call('echo', 'Echo.echo', 1, { contentType: 'application/x-nope', retries: 0 }),
      )
      assert.equal(unknown.code, 'unknown_content_type')
    })
  })

  test('client - typed client: one method per handler, typed from the definition', async () => {
    await withServices(async (s) => {
      await s.started({ name: 'greeter' }, (g) => g.handle(greeter))
      const caller = await s.started({ name: 'caller' })
      const typed = caller.client.typed(greeter, 'greeter')
      const reply: { greeting: string } = await typed.hello({ name: 'Bo' })
      assert.equal(reply.greeting, 'Hello Bo')
      // @ts-expect-error the request type comes from the handler (checked by the typecheck, never run)
      const wrong = () => typed.hello({ nom: 1 })
      assert.equal(typeof wrong, 'function')
      // the kind's own records serve a typed client without a service name
      assert.equal((await caller.client.typed(greeter).hello({ name: 'Cy' })).greeting, 'Hello Cy')
    })
  })

  test('client - stream to a streaming endpoint; publish to a subscriber', async () => {
    await withServices(async (s) => {
      const shout = defineActor({
        kind: 'Shout',
        handlers: {
          shout: async (stream: Stream<string, string>) => {
            for await (const line of stream) await stream.send(line.toUpperCase())
          },
        },
      })
      const got: unknown[] = []
      await s.started({ name: 'shout' }, async (sv) => {
        await sv.handle(shout)
        await sv.subscribe('news', (m) => void got.push(m))
      })
      const caller = await s.started({ name: 'caller' })
      const stream = await caller.client.stream<string, string>('shout', 'Shout.shout')
      await stream.send('a')
      await stream.send('b')
      stream.end()
      const out: string[] = []
      for await (const line of stream) out.push(line)
      assert.deepEqual(out, ['A', 'B'])
      await caller.client.publish('news', { hot: true })
      for (let i = 0; i < 100 && got.length === 0; i++) await sleep(5)
      assert.deepEqual(got, [{ hot: true }])
    })
  })

  test('client - before start() a call, a stream and a publish fail at once (503), never wait', async () => {
    await withServices(async (s) => {
      await s.started({ name: 'greeter' }, (g) => g.handle(greeter))
      const early = s.make({ name: 'early' })
      const t0 = Date.now()
      const refusals = await Promise.all([
        rejection(early.client.call('greeter', 'Greeter.hello', { name: 'x' })),
        rejection(early.client.stream('greeter', 'Greeter.hello')),
        rejection(early.client.publish('news', 1)),
      ])
      for (const e of refusals) assert.deepEqual([e.status, e.code], [503, 'kernel_stopped'])
      assert.ok(Date.now() - t0 < 100, 'refused at once')
      await early.start()
      assert.deepEqual(await early.client.call('greeter', 'Greeter.hello', { name: 'x' }), {
        greeting: 'Hello x',
      })
    })
  })

  test('client - bad options are a 400 invalid_options', async () => {
    await withServices(async (s) => {
      const caller = await s.started({ name: 'caller' })
      for (const bad of [{ timeout: -1 }, { retries: 1.5 }, { backoff: -3 }, { retryOn: 'x' }]) {
        const e = await rejection(caller.client.call('x', 'A.b', {}, bad as never))
        assert.equal(e.code, 'invalid_options', JSON.stringify(bad))
      }
      const e = await rejection(caller.client.call('x', 'nodot'))
      assert.equal(e.code, 'bad_request')
    })
  })

  test('client - cacheTtlMs: records are looked up once per TTL (0: every call)', async () => {
    await withServices(async (s) => {
      await s.started({ name: 'greeter' }, (g) => g.handle(greeter))
      let lookups = 0
      const spy = new (class extends RegistryView {
        override getService(name: string) {
          if (name === 'greeter') lookups++
          return super.getService(name)
        }
      })(s.registry)
      const cached = await s.started({ name: 'cached', registry: spy })
      for (let i = 0; i < 5; i++) await cached.client.call('greeter', 'Greeter.hello', { name: 'x' })
      assert.equal(lookups, 1)
      lookups = 0
      const uncached = await s.started({ name: 'uncached', registry: spy, client: { cacheTtlMs: 0 } })
      for (let i = 0; i < 5; i++) await uncached.client.call('greeter', 'Greeter.hello', { name: 'x' })
      assert.equal(lookups, 5)
    })
  })

  test('client - client options retries, backoff and retryOn are the defaults of every call', async () => {
    await withServices(async (s) => {
      const { def, runs } = counting('Work')
      await s.started({ name: 'work' }, (w) => w.handle(def))
      const eager = await s.started({
        name: 'eager',
        client: { retries: 2, backoff: 1, retryOn: (e) => e.status === 503 },
      })
      await rejection(eager.client.call('work', 'Work.run', { fail: 'unavailable' }))
      assert.equal(runs.length, 3, 'the client-wide retryOn opted in: first try and two retries')
      await ghost(s, 'work')
      const strategy = { selectOptions: { strategy: ghostFirst } }
      const noRetry = await s.started({ name: 'no-retry', client: { retries: 0 } })
      const refused = await rejection(noRetry.client.call('work', 'Work.run', {}, strategy))
      assert.equal(refused.code, 'kind_not_found')
      const waits: number[] = []
      const patient = await s.started({ name: 'patient', client: { backoff: (n) => (waits.push(n), 1) } })
      assert.equal(await patient.client.call('work', 'Work.run', {}, strategy), 'ok')
      assert.deepEqual(waits, [1])
    })
  })

  test("client - a backoff wait ends at once on the call's signal (aborted) and on the service's stop", async () => {
    await withServices(async (s) => {
      const { def } = counting('Work')
      await s.started({ name: 'work' }, (w) => w.handle(def))
      await ghost(s, 'work')
      const caller = await s.started({ name: 'caller' })
      const long = { backoff: 10_000, timeout: 30_000, selectOptions: { strategy: ghostFirst } }
      const ac = new AbortController()
      const t0 = Date.now()
      const aborted = caller.client.call('work', 'Work.run', {}, { ...long, signal: ac.signal })
      setTimeout(() => ac.abort(), 30)
      assert.equal((await rejection(aborted)).code, 'aborted')
      const waiting = caller.client.call('work', 'Work.run', {}, long)
      await sleep(30)
      await caller.stop()
      assert.deepEqual(await rejection(waiting), {
        name: 'UnavailableError',
        code: 'kernel_stopped',
        status: 503,
      })
      assert.ok(Date.now() - t0 < 2_000, 'neither waited out its 10 s backoff')
    })
  })

  test('client - backoff: a number doubles from there, a function is used as it is', () => {
    assert.deepEqual([1, 2, 3, 4].map(backoffFn(undefined)), [10, 20, 40, 80])
    assert.deepEqual([1, 2, 3].map(backoffFn(5)), [5, 10, 20])
    assert.deepEqual([1, 2, 3].map(backoffFn((n) => n * 7)), [7, 14, 21])
  })

  test("client - stream: selectOptions pick the node, id the keyed actor, a handler's deadline is inherited", async () => {
    await withServices(async (s) => {
      const pipe = (tag: string) =>
        defineActor({
          kind: 'Pipe',
          handlers: {
            open: async (stream: Stream<string, string>, ctx) => {
              await stream.send(`${tag} ${ctx.self} ${ctx.deadline}`)
              for await (const _ of stream) void _
            },
          },
        })
      await s.started({ name: 'pipe', version: '1' }, (p) => p.handle(pipe('v1')))
      await s.started({ name: 'pipe', version: '2' }, (p) => p.handle(pipe('v2')))
      const first = async (stream: Stream<string, string>) => {
        stream.end()
        for await (const line of stream) return line
        return ''
      }
      const caller = s.make({ name: 'caller' })
      await caller.handle(
        defineActor({
          kind: 'Front',
          handlers: {
            relay: async (_: void, ctx) => {
              const stream = await caller.client.stream<string, string>('pipe', 'Pipe.open')
              return { mine: ctx.deadline, line: await first(stream) }
            },
          },
        }),
      )
      await caller.start()
      for (const version of ['1', '2', '1', '2', '1', '2']) {
        const stream = await caller.client.stream<string, string>('pipe', 'Pipe.open', {
          id: 'x',
          selectOptions: { filters: [byVersion(version)] },
        })
        assert.match(await first(stream), new RegExp(`^v${version} Pipe/x `))
      }
      const r = await caller.client.call<{ mine: number; line: string }>('caller', 'Front.relay', undefined, {
        timeout: 1_234,
      })
      assert.equal(r.line.split(' ')[2], String(r.mine), 'the stream carries the deadline of the request')
    })
  })

  test('client - client options are the defaults of every call (timeout here)', async () => {
    await withServices(async (s) => {
      const { def } = counting('Work')
      await s.started({ name: 'work' }, (w) => w.handle(def))
      const caller = await s.started({ name: 'caller', client: { timeout: 40 } })
      const t0 = Date.now()
      assert.equal((await rejection(caller.client.call('work', 'Work.slow', 300))).code, 'timeout')
      assert.ok(Date.now() - t0 < 250, "the client's timeout ended the call")
      assert.equal(await caller.client.call('work', 'Work.slow', 300, { timeout: 1_000 }), 'slow ok')
    })
  })
})
