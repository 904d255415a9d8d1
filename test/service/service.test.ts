import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createService } from '../../src/service/service.ts'
import { createFunction } from '../../src/service/function.ts'
import type { ServiceOptions } from '../../src/service/options.ts'
import { MemoryJournal } from '../../src/journal/memory.ts'
import { Selector } from '../../src/registry/selector.ts'
import { roundRobin } from '../../src/registry/strategy.ts'
import type { RegisterOptions, Service as RegistryRecord } from '../../src/registry/registry.ts'
import { JSON_CONTENT_TYPE } from '../../src/codec/codec.ts'
import { RegistryView } from '../helpers/cluster.ts'
import { rejection, sleep } from '../helpers/kernels.ts'
import { withServices } from './kit.ts'
import { greeter, slow, tally } from './greeter.ts'
import { wrapped, wrappedSchemas } from './wrapped.ts'

describe('service options', () => {
  test('service - options are validated with invalid_options', () => {
    const bad: [string, Partial<ServiceOptions>][] = [
      ['name', { name: 'has space' }],
      ['version', { version: 'v 1' }],
      ['metadata', { metadata: { a: 1 as never } }],
      ['beforeStart', { beforeStart: 'x' as never }],
      ['handleSignal', { handleSignal: 'yes' as never }],
      ['registerTTL', { registerTTL: -1 }],
      ['registerInterval', { registerInterval: 0 }],
      ['address', { address: '' }],
      ['codec', { codec: 5 as never }],
      ['wrappers', { wrappers: 'x' as never }],
      ['workers', { workers: -1 }],
      ['client', { client: { retries: -1 } }],
    ]
    for (const [what, options] of bad) {
      assert.throws(
        () => createService({ name: 'ok', handleSignal: false, ...options }),
        { code: 'invalid_options' },
        what,
      )
    }
  })

  test('service - subscribe arguments are validated with invalid_options', async () => {
    const svc = createService({ name: 'ok', handleSignal: false })
    const fn = (): void => {}
    for (const [what, call] of [
      ['a subscriber that is no function', () => svc.subscribe('t', 5 as never)],
      ['options that are null', () => svc.subscribe('t', fn, null as never)],
      ['an empty queue', () => svc.subscribe('t', fn, { queue: '' })],
      ['a queue that is no string', () => svc.subscribe('t', fn, { queue: 7 as never })],
    ] as const) {
      await assert.rejects(call(), { code: 'invalid_options' }, what)
    }
  })

  test('service - the record: name, version, metadata, this node, Kind.handler endpoints; gone on stop', async () => {
    await withServices(async (s) => {
      const svc = await s.started({ name: 'greeter', version: '1.2.0', metadata: { team: 'core' } }, (g) =>
        g.handle(greeter),
      )
      const [record] = await s.registry.getService('greeter')
      assert.match(svc.kernel.nodeId, /^greeter-\d+$/, 'the kernel option passes through (kit sets nodeId)')
      assert.equal(record!.version, '1.2.0')
      assert.deepEqual(record!.metadata, { team: 'core' })
      assert.deepEqual(
        record!.nodes.map((n) => [n.id, n.address]),
        [[svc.kernel.nodeId, svc.kernel.address]],
      )
      assert.deepEqual(
        record!.endpoints.map((e) => e.name),
        ['Greeter.hello', 'Greeter.whoami', 'Greeter.tagged', 'Debug.Health', 'Debug.Stats'],
      )
      // a kind handled after start joins the record
      await svc.handle(slow)
      const [again] = await s.registry.getService('greeter')
      assert.ok(
        again!.endpoints.some((e) => e.name === 'Slow.wait'),
        'Slow.wait joined the record',
      )
      await svc.stop()
      assert.deepEqual(await s.registry.getService('greeter'), [])
    })
  })

  test('service - address is the listen address; registerTTL and registerInterval keep the record alive', async () => {
    await withServices(async (s) => {
      const ttls: (number | undefined)[] = []
      const spy = new (class extends RegistryView {
        override register(service: RegistryRecord, options?: RegisterOptions): Promise<void> {
          if (service.name === 'greeter') ttls.push(options?.ttlMs)
          return super.register(service, options)
        }
      })(s.registry)
      const svc = await s.started(
        {
          name: 'greeter',
          address: 'mem:4242',
          registry: spy,
          registerTTL: 120,
          registerInterval: 30,
        },
        (g) => g.handle(greeter),
      )
      assert.equal(svc.kernel.address, 'mem:4242')
      // renewed every 30 ms: four registrations come within 150 ms, or a loaded machine's second
      const t0 = Date.now()
      while (ttls.length < 4 && Date.now() - t0 < 1_500) await sleep(10)
      assert.ok(ttls.length >= 4, `renewed every 30 ms (${ttls.length} registrations)`)
      await sleep(150) // past the 120 ms TTL since the last renewal seen
      assert.ok(
        ttls.every((t) => t === 120),
        `every registration has the TTL: ${ttls.join()}`,
      )
      assert.equal((await s.registry.getService('greeter')).length, 1, 'still registered past the TTL')
    })
  })

  test('service - hooks run in order around start and stop', async () => {
    await withServices(async (s) => {
      const log: string[] = []
      const svc = s.make({
        name: 'hooked',
        beforeStart: () => void log.push(`beforeStart:${svc.kernel.address ? 'bound' : 'unbound'}`),
        afterStart: async () => {
          const [r] = await s.registry.getService('hooked')
          log.push(`afterStart:${r === undefined ? 'unregistered' : 'registered'}`)
        },
        beforeStop: async () => {
          const [r] = await s.registry.getService('hooked')
          log.push(`beforeStop:${r === undefined ? 'unregistered' : 'registered'}`)
        },
        afterStop: () => void log.push(`afterStop:${svc.kernel.running ? 'up' : 'down'}`),
      })
      await svc.start()
      await svc.stop()
      await svc.stop()
      assert.deepEqual(log, [
        'beforeStart:unbound',
        'afterStart:registered',
        'beforeStop:registered',
        'afterStop:down',
      ])
    })
  })

  test('service - a failing beforeStart fails start and leaves nothing running', async () => {
    await withServices(async (s) => {
      const svc = s.make({ name: 'broken', beforeStart: () => Promise.reject(new Error('no config')) })
      const e = await rejection(svc.start())
      assert.equal(e.status, 500)
      assert.equal(svc.kernel.running, false)
    })
  })

  test('service - without registry and transport: a single node whose client reaches its own endpoints', async () => {
    const svc = createService({ name: 'solo', handleSignal: false })
    await svc.handle(greeter)
    await svc.start()
    try {
      assert.equal(svc.kernel.address, undefined)
      assert.deepEqual(await svc.client.call('solo', 'Greeter.hello', { name: 'me' }), {
        greeting: 'Hello me',
      })
      const e = await rejection(svc.client.call('elsewhere', 'Greeter.hello', { name: 'me' }, { retries: 0 }))
      assert.equal(e.status, 503)
    } finally {
      await svc.stop()
    }
  })

  test('service - selector: the given selector picks the nodes (round robin)', async () => {
    await withServices(async (s) => {
      const a = await s.started({ name: 'greeter' }, (g) => g.handle(greeter))
      const b = await s.started({ name: 'greeter' }, (g) => g.handle(greeter))
      const caller = await s.started({ name: 'caller', selector: new Selector({ strategy: roundRobin() }) })
      const seen: string[] = []
      for (let i = 0; i < 8; i++) {
        const r = await caller.client.call<{ node: string }>('greeter', 'Debug.Health')
        seen.push(r.node)
      }
      assert.deepEqual(new Set(seen), new Set([a.kernel.nodeId, b.kernel.nodeId]))
      const [first, second] = seen
      assert.deepEqual(seen, [first, second, first, second, first, second, first, second], 'alternating')
    })
  })

  test('service - codec sets the default content type; journal keeps a persistent kind', async () => {
    await withServices(async (s) => {
      const journal = new MemoryJournal()
      const svc = await s.started({ name: 'tally', codec: JSON_CONTENT_TYPE, journal }, (t) =>
        t.handle(tally),
      )
      assert.equal(svc.kernel.codecs.defaultContentType, JSON_CONTENT_TYPE)
      // the default content type goes unnamed on the wire: every node of a network shares it
      const caller = await s.started({ name: 'caller', codec: JSON_CONTENT_TYPE })
      assert.equal(await caller.client.call('tally', 'Tally.add', 2, { id: 'a' }), 2)
      assert.equal(await caller.client.call('tally', 'Tally.add', 3, { id: 'a' }), 5)
      assert.equal(await journal.highestSeq('Tally/a'), 2)
    })
  })

  test('service - workers: handlers run on worker threads (from their module)', async () => {
    await withServices(async (s) => {
      const svc = await s.started({ name: 'greeter', workers: 1 }, (g) => g.handle(greeter))
      assert.equal(svc.kernel.workers, 1)
      const caller = await s.started({ name: 'caller' })
      assert.deepEqual(await caller.client.call('greeter', 'Greeter.hello', { name: 'w' }), {
        greeting: 'Hello w',
      })
      // Debug runs on the main thread beside the workers; the counts come from the worker's turns
      await rejection(caller.client.call('greeter', 'Greeter.hello', { name: '' }))
      const health = await caller.client.call<{ status: string }>('greeter', 'Debug.Health')
      assert.equal(health.status, 'ok')
      const stats = await caller.client.call<{
        endpoints: Record<string, { count: number; errors: number; totalMs?: number }>
      }>('greeter', 'Debug.Stats')
      assert.deepEqual(stats.endpoints['Greeter.hello'], { count: 2, errors: 1 })
    })
  })

  test('service - wrapDefinition: handler wrappers, reply metadata and the service id on a worker thread', async () => {
    await withServices(async (s) => {
      await s.started({ name: 'wrapped', workers: 1 }, (w) => w.handle(wrapped, { schemas: wrappedSchemas }))
      const caller = await s.started({ name: 'caller' })
      const back: Record<string, string>[] = []
      const reply = await caller.client.call(
        'wrapped',
        'Wrapped.hello',
        { name: 'w' },
        {
          onReplyMetadata: (md) => void back.push(md),
        },
      )
      assert.deepEqual(reply, { greeting: 'Hello w' })
      assert.deepEqual(back, [{ 'Served-On': 'worker' }])
      const caught = async (body: unknown) => {
        try {
          await caller.client.call('wrapped', 'Wrapped.hello', body)
        } catch (err) {
          return err as { status: number; id: string; detail: string }
        }
        throw new Error('expected a rejection')
      }
      const invalid = await caught({})
      assert.deepEqual([invalid.status, invalid.id], [400, 'wrapped'])
      assert.match(invalid.detail, /request field name is required/)
      const down = await caught({ name: 'down' })
      assert.deepEqual([down.status, down.id], [503, 'wrapped'], "the handler's 503, stamped by the service")
      const stats = await caller.client.call<{ endpoints: Record<string, unknown> }>('wrapped', 'Debug.Stats')
      assert.deepEqual(stats.endpoints['Wrapped.hello'], { count: 3, errors: 2 }, 'no totalMs on workers')
    })
  })

  test('service - handleSignal false: run() returns on stop() and installs no signal handler', async () => {
    await withServices(async (s) => {
      const before = process.listenerCount('SIGTERM')
      const svc = s.make({ name: 'quiet', handleSignal: false })
      const running = svc.run()
      await sleep(20)
      assert.equal(process.listenerCount('SIGTERM'), before)
      assert.equal(svc.running, true)
      await svc.stop()
      await running
      assert.equal(svc.running, false)
    })
  })

  test('service - handleSignal (default): run() listens for SIGINT and SIGTERM while it runs', async () => {
    await withServices(async (s) => {
      const before = process.listenerCount('SIGTERM')
      const svc = s.make({ name: 'loud', handleSignal: true })
      const running = svc.run()
      await sleep(20)
      assert.equal(process.listenerCount('SIGTERM'), before + 1)
      assert.equal(process.listenerCount('SIGINT') > 0, true)
      await svc.stop()
      await running
      assert.equal(process.listenerCount('SIGTERM'), before, 'removed once run() returned')
    })
  })

  test('service - subscribe with a queue: one member of the group gets each message', async () => {
    await withServices(async (s) => {
      const got: string[] = []
      for (const name of ['a', 'b'])
        await s.started({ name: `sub-${name}` }, (svc) =>
          svc.subscribe('jobs', (m: number, info) => void got.push(`${name}:${m}:${info.topic}`), {
            queue: 'workers',
          }),
        )
      const pub = await s.started({ name: 'pub' })
      for (let i = 0; i < 4; i++) await pub.client.publish('jobs', i)
      for (let i = 0; i < 100 && got.length < 4; i++) await sleep(5)
      await sleep(20)
      assert.equal(got.length, 4, got.join())
      assert.ok(got.some((g) => g.startsWith('a:')) && got.some((g) => g.startsWith('b:')), got.join())
    })
  })

  test('service - Debug.Health and Debug.Stats through the ordinary call path', async () => {
    await withServices(async (s) => {
      const svc = await s.started({ name: 'greeter', version: '3' }, async (g) => {
        await g.handle(greeter)
        await g.handle(slow)
      })
      const caller = await s.started({ name: 'caller' })
      await caller.client.call('greeter', 'Greeter.hello', { name: 'x' })
      await rejection(caller.client.call('greeter', 'Greeter.hello', { name: '' }))
      await sleep(30)
      const health = await caller.client.call<Record<string, unknown>>('greeter', 'Debug.Health')
      assert.deepEqual(Object.keys(health).sort(), ['node', 'service', 'status', 'uptimeMs', 'version'])
      assert.equal(health.status, 'ok')
      assert.equal(health.service, 'greeter')
      assert.equal(health.version, '3')
      assert.equal(health.node, svc.kernel.nodeId)
      assert.ok((health.uptimeMs as number) >= 25, `uptime counts from start: ${String(health.uptimeMs)}`)
      // three calls to the one stateless Slow/ actor: one runs, two wait in its mailbox
      const waits = [1, 2, 3].map(() => caller.client.call('greeter', 'Slow.wait', 150))
      await sleep(20)
      const stats = await caller.client.call<{
        memory: { rss: number; heapUsed: number; heapTotal: number; external: number }
        actors: number
        pendingAsks: number
        mailboxes: { address: string; depth: number }[]
        endpoints: Record<string, { count: number; errors: number; totalMs?: number }>
      }>('greeter', 'Debug.Stats')
      const { memory } = stats
      assert.ok(memory.rss >= memory.heapTotal && memory.heapTotal >= memory.heapUsed, JSON.stringify(memory))
      assert.ok(memory.heapUsed > 0 && memory.external > 0, JSON.stringify(memory))
      assert.equal(stats.actors, 3, 'Greeter/, Slow/ and Debug/')
      assert.deepEqual(stats.mailboxes, [{ address: 'Slow/', depth: 2 }])
      assert.deepEqual(
        [stats.endpoints['Greeter.hello']!.count, stats.endpoints['Greeter.hello']!.errors],
        [2, 1],
      )
      assert.equal(typeof stats.endpoints['Greeter.hello']!.totalMs, 'number')
      assert.equal(stats.endpoints['Debug.Health'], undefined, 'Debug calls are not counted')
      assert.deepEqual(svc.metrics()['Greeter.hello']!.count, 2)
      await Promise.all(waits)
    })
  })
})

describe('function', () => {
  test('function - stops after handling one request; run() resolves', async () => {
    await withServices(async (s) => {
      const fn = createFunction({
        name: 'once',
        registry: new RegistryView(s.registry),
        transport: new (await import('../../src/transport/memory.ts')).MemoryTransport({
          network: s.network,
          logger: { warn: () => {} },
        }),
        address: 'mem:0',
        handleSignal: false,
      })
      await fn.handle(greeter)
      const running = fn.run()
      const caller = await s.started({ name: 'caller' })
      for (let i = 0; i < 100 && (await s.registry.getService('once')).length === 0; i++) await sleep(5)
      assert.deepEqual(await caller.client.call('once', 'Greeter.hello', { name: 'f' }), {
        greeting: 'Hello f',
      })
      await running
      assert.equal(fn.running, false)
      assert.deepEqual(await s.registry.getService('once'), [])
      const after = await rejection(
        caller.client.call('once', 'Greeter.hello', { name: 'g' }, { retries: 0 }),
      )
      assert.ok([404, 503].includes(after.status), `refused before any handler: ${after.code}`)
    })
  })
})
