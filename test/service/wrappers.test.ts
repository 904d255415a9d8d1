import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { defineActor } from '../../src/actors/define.ts'
import type { ActorContext } from '../../src/actors/types.ts'
import { loggingWrapper } from '../../src/service/wrappers/logging.ts'
import { metricsWrapper } from '../../src/service/wrappers/metrics.ts'
import { parseTraceparent, traceContext } from '../../src/service/wrappers/trace.ts'
import { validationWrapper } from '../../src/service/wrappers/validation.ts'
import { schemaViolation } from '../../src/service/schema.ts'
import type { WrapperSet } from '../../src/service/wrappers.ts'
import { createService } from '../../src/service/service.ts'
import { rejection, sleep } from '../helpers/kernels.ts'
import { withServices } from './kit.ts'
import { describedGreeter, greeter } from './greeter.ts'

/** A wrapper set that records when each place runs. */
function tracer(name: string, log: string[]): WrapperSet {
  return {
    client: (next) => async (req) => (log.push(`${name}:client`), next(req)),
    call: (next) => async (req) => (log.push(`${name}:call#${req.attempt}`), next(req)),
    handler: (next) => async (req) => (log.push(`${name}:handler ${req.endpoint}`), next(req)),
    subscriber: (next) => async (msg) => (log.push(`${name}:subscriber ${msg.topic}`), next(msg)),
  }
}

describe('service wrappers', () => {
  test('wrappers - order: client (once) -> call (per attempt) on the caller; handler and subscriber on the server', async () => {
    await withServices(async (s) => {
      const log: string[] = []
      await s.started({ name: 'greeter', wrappers: [tracer('a', log), tracer('b', log)] }, async (g) => {
        await g.handle(greeter)
        await g.subscribe('t', () => void log.push('subscriber ran'))
      })
      const caller = await s.started({ name: 'caller', wrappers: [tracer('a', log), tracer('b', log)] })
      await caller.client.call('greeter', 'Greeter.hello', { name: 'x' })
      assert.deepEqual(log, [
        'a:client',
        'b:client',
        'a:call#0',
        'b:call#0',
        'a:handler Greeter.hello',
        'b:handler Greeter.hello',
      ])
      log.length = 0
      await caller.client.publish('t', 1)
      for (let i = 0; i < 100 && log.length < 3; i++) await sleep(5)
      assert.deepEqual(log, ['a:subscriber t', 'b:subscriber t', 'subscriber ran'])
    })
  })

  test('wrappers - a client wrapper can short-circuit or change the call', async () => {
    await withServices(async (s) => {
      await s.started({ name: 'greeter' }, (g) => g.handle(greeter))
      const caller = await s.started({
        name: 'caller',
        wrappers: [
          {
            client: (next) => (req) =>
              req.endpoint === 'Greeter.cached' ? Promise.resolve('from cache') : next(req),
          },
        ],
      })
      assert.equal(await caller.client.call('greeter', 'Greeter.cached'), 'from cache')
    })
  })

  test('wrappers - logging logs each call and request with its outcome', async () => {
    await withServices(async (s) => {
      const lines: string[] = []
      const logging = loggingWrapper({ info: (m) => void lines.push(m) })
      await s.started({ name: 'greeter', wrappers: [logging] }, async (g) => {
        await g.handle(greeter)
        await g.subscribe('news', () => undefined)
      })
      const caller = await s.started({ name: 'caller', wrappers: [logging] })
      await caller.client.call('greeter', 'Greeter.hello', { name: 'x' })
      await rejection(caller.client.call('greeter', 'Greeter.hello', { name: '' }))
      await caller.client.publish('news', 1)
      for (let i = 0; i < 100 && !lines.some((l) => l.startsWith('message')); i++) await sleep(5)
      assert.ok(
        lines.some((l) => /^message news ok in \d+ ms$/.test(l)),
        lines.join('\n'),
      )
      assert.ok(
        lines.some((l) => /^call greeter Greeter.hello ok in \d+ ms$/.test(l)),
        lines.join('\n'),
      )
      assert.ok(
        lines.some((l) => /^handle Greeter.hello ok in \d+ ms$/.test(l)),
        lines.join('\n'),
      )
      assert.ok(
        lines.some((l) => /^handle Greeter.hello failed in \d+ ms: 400 bad_request name is empty$/.test(l)),
      )
    })
  })

  test('wrappers - trace context: traceparent per hop, same trace id, new span id', async () => {
    await withServices(async (s) => {
      const trace = traceContext()
      await s.started({ name: 'greeter', wrappers: [trace] }, (g) => g.handle(greeter))
      const front = s.make({ name: 'front', wrappers: [trace] })
      await front.handle(
        defineActor({
          kind: 'Front',
          handlers: {
            relay: async (_: void, ctx: ActorContext<undefined>) => {
              const inner = await front.client.call<{ metadata: Record<string, string> }>(
                'greeter',
                'Greeter.whoami',
              )
              return {
                mine: ctx.metadata.traceparent,
                inner: inner.metadata.traceparent,
                innerState: inner.metadata.tracestate,
              }
            },
          },
        }),
      )
      await front.start()
      const caller = await s.started({ name: 'caller', wrappers: [trace] })
      const r = await caller.client.call<{ mine: string; inner: string }>('front', 'Front.relay')
      const mine = parseTraceparent(r.mine)!
      const inner = parseTraceparent(r.inner)!
      assert.ok(mine !== undefined && inner !== undefined, JSON.stringify(r))
      assert.equal(inner.traceId, mine.traceId)
      assert.notEqual(inner.spanId, mine.spanId)
      const other = await caller.client.call<{ mine: string }>('front', 'Front.relay')
      assert.notEqual(
        parseTraceparent(other.mine)!.traceId,
        mine.traceId,
        'a call from outside starts a trace',
      )
      // a caller that is already in a trace (its own traceparent, tracestate) continues it
      const incoming = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'
      const continued = await caller.client.call<{ metadata: Record<string, string> }>(
        'greeter',
        'Greeter.whoami',
        undefined,
        { metadata: { traceparent: incoming, tracestate: 'vendor=1' } },
      )
      const hop = parseTraceparent(continued.metadata.traceparent)!
      assert.equal(hop.traceId, '0af7651916cd43dd8448eb211c80319c')
      assert.notEqual(hop.spanId, 'b7ad6b7169203331', 'a new span for the hop')
      assert.equal(continued.metadata.tracestate, 'vendor=1')
      const relayed = await caller.client.call<{ inner: string; innerState: string }>(
        'front',
        'Front.relay',
        undefined,
        { metadata: { traceparent: incoming, tracestate: 'vendor=2' } },
      )
      assert.equal(parseTraceparent(relayed.inner)!.traceId, '0af7651916cd43dd8448eb211c80319c')
      assert.equal(relayed.innerState, 'vendor=2', 'tracestate travels on, one hop further')
    })
  })

  test('wrappers - metrics: count, errors and a latency histogram per endpoint', async () => {
    await withServices(async (s) => {
      const server = metricsWrapper()
      const client = metricsWrapper({ buckets: [1_000] })
      await s.started({ name: 'greeter', wrappers: [server] }, (g) => g.handle(greeter))
      const caller = await s.started({ name: 'caller', wrappers: [client] })
      await caller.client.call('greeter', 'Greeter.hello', { name: 'x' })
      await caller.client.call('greeter', 'Greeter.hello', { name: 'y' })
      await rejection(caller.client.call('greeter', 'Greeter.hello', { name: '' }))
      const h = server.snapshot().handler['Greeter.hello']!
      assert.equal(h.count, 3)
      assert.equal(h.errors, 1)
      assert.equal(
        h.latency.reduce((a, b) => a + b, 0),
        3,
      )
      assert.equal(h.latency.length, h.buckets.length + 1)
      const c = client.snapshot().client['greeter Greeter.hello']!
      assert.deepEqual([c.count, c.errors, c.latency], [3, 1, [3, 0]])
    })
  })

  test("wrappers - validation: the definition's own schemas are listed and checked; handle's win", async () => {
    await withServices(async (s) => {
      const bye = { request: { type: 'object' as const, required: ['name'] } }
      await s.started({ name: 'described', wrappers: [validationWrapper()] }, (g) =>
        g.handle(describedGreeter, { schemas: { bye } }),
      )
      const caller = await s.started({ name: 'caller' })
      const refused = (endpoint: string, body: unknown) =>
        caller.client.call('described', endpoint, body).then(
          () => assert.fail(`${endpoint} took ${JSON.stringify(body)}`),
          (err: unknown) => err as { status: number; detail: string },
        )
      const long = await refused('Described.hello', { name: 'x'.repeat(9) })
      assert.equal(long.status, 400)
      assert.match(long.detail, /field name must be at most 8 characters/)
      assert.match((await refused('Described.bye', {})).detail, /field name is required/)
      assert.equal(await caller.client.call('described', 'Described.bye', { name: 'y' }), 'Bye y')
      const [record] = await s.registry.getService('described')
      const meta = (name: string) => record!.endpoints.find((e) => e.name === name)!.metadata
      assert.deepEqual(JSON.parse(meta('Described.hello').request!), describedGreeter.schemas!.hello!.request)
      assert.deepEqual(JSON.parse(meta('Described.bye').request!), bye.request)
    })
  })

  test('wrappers - validation: a request that breaks the schema is a 400 naming the field', async () => {
    await withServices(async (s) => {
      const schemas = {
        hello: {
          request: {
            type: 'object' as const,
            required: ['name'],
            properties: { name: { type: 'string' as const, maxLength: 8 } },
          },
          response: { type: 'object' as const, properties: { greeting: { type: 'string' as const } } },
        },
      }
      await s.started({ name: 'greeter', wrappers: [validationWrapper()] }, (g) =>
        g.handle(greeter, { schemas }),
      )
      const caller = await s.started({ name: 'caller' })
      const bad = async (body: unknown) => {
        try {
          await caller.client.call('greeter', 'Greeter.hello', body)
        } catch (err) {
          return err as { status: number; detail: string }
        }
        throw new Error('expected a 400')
      }
      const missing = await bad({})
      assert.equal(missing.status, 400)
      assert.match(missing.detail, /request field name is required/)
      assert.match((await bad({ name: 7 })).detail, /field name must be a string/)
      assert.match((await bad({ name: 'x'.repeat(9) })).detail, /field name must be at most 8 characters/)
      assert.match((await bad('nope')).detail, /field \(root\) must be an object/)
      assert.equal(
        (await caller.client.call<{ greeting: string }>('greeter', 'Greeter.hello', { name: 'ok' })).greeting,
        'Hello ok',
      )
      const [record] = await s.registry.getService('greeter')
      const ep = record!.endpoints.find((e) => e.name === 'Greeter.hello')!
      assert.deepEqual(JSON.parse(ep.metadata.request!), schemas.hello.request)
      assert.deepEqual(JSON.parse(ep.metadata.response!), schemas.hello.response)
    })
  })

  test('schema - nested fields, arrays, enums, integers; odd input never crashes', () => {
    const schema = {
      type: 'object' as const,
      properties: {
        items: {
          type: 'array' as const,
          items: {
            type: 'object' as const,
            required: ['id'],
            properties: { id: { type: 'integer' as const, minimum: 1 } },
          },
        },
        mode: { enum: ['a', 'b'] },
      },
      additionalProperties: false,
    }
    assert.equal(schemaViolation(schema, { items: [{ id: 1 }], mode: 'a' }), undefined)
    assert.deepEqual(schemaViolation(schema, { items: [{ id: 1 }, { id: 0 }] }), {
      field: 'items[1].id',
      problem: 'must be >= 1',
    })
    assert.deepEqual(schemaViolation(schema, { items: [{}] }), {
      field: 'items[0].id',
      problem: 'is required',
    })
    assert.deepEqual(schemaViolation(schema, { mode: 'c' }), {
      field: 'mode',
      problem: 'must be one of "a", "b"',
    })
    assert.deepEqual(schemaViolation(schema, { extra: 1 }), { field: 'extra', problem: 'is not allowed' })
    for (const odd of [null, undefined, 1, 'x', [], Object.create(null)]) schemaViolation(schema, odd)
  })

  test('wrappers - handler wrappers need workers: 0 (they run on the handler thread)', () => {
    const options = { name: 'x', handleSignal: false, workers: 2 }
    assert.throws(() => createService({ ...options, wrappers: [{ handler: (n) => n }] }), {
      code: 'invalid_options',
    })
    assert.throws(() => createService({ ...options, wrappers: [{ client: 'no' as never }] }), {
      code: 'invalid_options',
    })
  })
})

// compile-time only: schemas are keyed by the definition's handler names
export const typedSchemas = (svc: ReturnType<typeof createService>) =>
  // @ts-expect-error `nope` is not a handler of Greeter
  svc.handle(greeter, { schemas: { nope: {} } })
