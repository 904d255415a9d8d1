// The registry contract: one suite that every Registry implementation runs (memory, mdns, the cache
// around memory). A harness gives a writer and a reader (the same registry, or two that must find each
// other over the network) and a way to move time (a manual clock, or real sleeps).
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { BadRequestError, ErrorCode, UnavailableError } from '../../src/errors.ts'
import type { Registry, Service, WatchEvent, Watcher } from '../../src/registry/registry.ts'
import { setImmediate as tick } from 'node:timers/promises'
import { ManualClock } from '../helpers/manual-clock.ts'

export interface Harness {
  writer: Registry
  reader: Registry
  /** Moves time forward: the manual clock, or a real sleep. */
  advance(ms: number): Promise<void>
  /** A TTL for expiry tests. */
  ttlMs: number
  /** Timers still set on the manual clock, where there is one. */
  pendingTimers?(): number
  stop(): Promise<void>
}

export type HarnessFactory = () => Promise<Harness>

/** A harness on a manual clock for a registry built on that clock (one registry writes and reads). */
export function manualClockHarness(make: (clock: ManualClock) => Registry): HarnessFactory {
  return async () => {
    const clock = new ManualClock(1_000_000)
    const registry = make(clock)
    await registry.start()
    return {
      writer: registry,
      reader: registry,
      ttlMs: 1000,
      advance: async (ms) => {
        clock.advance(ms)
        await tick()
      },
      pendingTimers: () => clock.pending,
      stop: () => registry.stop(),
    }
  }
}

/** A record with one node; the address's port follows from the node id, so a node keeps one address. */
export function record(name: string, node: string, overrides: Partial<Service> = {}): Service {
  return {
    name,
    version: '1.0.0',
    metadata: { team: 'core' },
    endpoints: [{ name: 'hello', metadata: { request: 'HelloRequest' } }],
    nodes: [{ id: node, address: `127.0.0.1:${portOf(node)}`, metadata: { zone: 'a' } }],
    ...overrides,
  }
}

function portOf(node: string): number {
  return 9000 + ([...node].reduce((sum, c) => sum * 31 + c.charCodeAt(0), 7) % 1000)
}

/** Polls `read` until `check` holds (or fails with the last value after `timeoutMs`). */
export async function eventually<T>(
  read: () => Promise<T>,
  check: (value: T) => boolean,
  timeoutMs = 3000,
): Promise<T> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const value = await read()
    if (check(value)) return value
    if (Date.now() > until)
      assert.fail(`condition not met in ${timeoutMs} ms; last value: ${JSON.stringify(value)}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** The next event of `watcher`, or a failure after `timeoutMs`. */
export async function nextEvent(iterator: AsyncIterator<WatchEvent>, timeoutMs = 3000): Promise<WatchEvent> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no watch event in ${timeoutMs} ms`)), timeoutMs)
  })
  try {
    const result = await Promise.race([iterator.next(), timeout])
    assert.equal(result.done, false, 'the watcher ended')
    return result.value as WatchEvent
  } finally {
    clearTimeout(timer)
  }
}

const nodeIds = (services: Service[]): string[] => services.flatMap((s) => s.nodes.map((n) => n.id)).sort()

function isBadRequest(error: unknown): boolean {
  return error instanceof BadRequestError && error.code === ErrorCode.BAD_REQUEST && error.status === 400
}

export function registryContract(label: string, factory: HarnessFactory): void {
  const run = (name: string, body: (h: Harness) => Promise<void>): void => {
    test(`${label} - ${name}`, async () => {
      const h = await factory()
      try {
        await body(h)
      } finally {
        await h.stop()
      }
    })
  }

  describe(`${label} registry contract`, () => {
    run('register makes a service visible to getService and listServices', async (h) => {
      const greeter = record('greeter', 'n1')
      await h.writer.register(greeter)
      for (const registry of new Set([h.writer, h.reader])) {
        const found = await eventually(
          () => registry.getService('greeter'),
          (s) => s.length === 1,
        )
        assert.deepEqual(found, [greeter])
        const all = await registry.listServices()
        assert.deepEqual(
          all.filter((s) => s.name === 'greeter'),
          [greeter],
        )
      }
      assert.deepEqual(await h.reader.getService('nobody-serves-this'), [])
    })

    run('deregister removes the node', async (h) => {
      const a = record('greeter', 'n1')
      const b = record('greeter', 'n2')
      await h.writer.register(a)
      await h.writer.register(b)
      await eventually(
        () => h.reader.getService('greeter'),
        (s) => nodeIds(s).length === 2,
      )
      await h.writer.deregister(a)
      const left = await eventually(
        () => h.reader.getService('greeter'),
        (s) => nodeIds(s).length === 1,
      )
      assert.deepEqual(nodeIds(left), ['n2'])
      await h.writer.deregister(b)
      await eventually(
        () => h.reader.getService('greeter'),
        (s) => s.length === 0,
      )
    })

    run('versions are kept apart, nodes of one version are merged', async (h) => {
      await h.writer.register(record('greeter', 'n1'))
      await h.writer.register(record('greeter', 'n2'))
      await h.writer.register(record('greeter', 'n3', { version: '2.0.0', metadata: { next: 'yes' } }))
      const found = await eventually(
        () => h.reader.getService('greeter'),
        (s) => nodeIds(s).length === 3,
      )
      const byVersion = new Map(found.map((s) => [s.version, s]))
      assert.deepEqual([...byVersion.keys()].sort(), ['1.0.0', '2.0.0'])
      assert.deepEqual(nodeIds([byVersion.get('1.0.0')!]), ['n1', 'n2'])
      assert.deepEqual(nodeIds([byVersion.get('2.0.0')!]), ['n3'])
      assert.deepEqual(byVersion.get('2.0.0')!.metadata, { next: 'yes' })
    })

    run('watch sees create, update and delete of the service it watches', async (h) => {
      const watcher = h.reader.watch({ service: 'greeter' })
      const events = watcher[Symbol.asyncIterator]()
      try {
        await h.writer.register(record('other', 'n9'))
        const greeter = record('greeter', 'n1')
        await h.writer.register(greeter)
        const created = await nextEvent(events)
        assert.equal(created.action, 'create')
        assert.deepEqual(created.service, greeter)
        await h.writer.register(greeter) // identical: a TTL refresh, no event
        const changed = { ...greeter, metadata: { team: 'edge' } }
        await h.writer.register(changed)
        const updated = await nextEvent(events)
        assert.equal(updated.action, 'update')
        assert.deepEqual(updated.service, changed)
        await h.writer.deregister(changed)
        const deleted = await nextEvent(events)
        assert.equal(deleted.action, 'delete')
        assert.equal(deleted.service.name, 'greeter')
        assert.deepEqual(nodeIds([deleted.service]), ['n1'])
      } finally {
        watcher.stop()
      }
      assert.deepEqual(await events.next(), { value: undefined, done: true })
    })

    run('a node not registered again within its TTL expires, and watchers see it go', async (h) => {
      const watcher = h.reader.watch({ service: 'greeter' })
      const events = watcher[Symbol.asyncIterator]()
      try {
        await h.writer.register(record('greeter', 'n1'), { ttlMs: h.ttlMs })
        await h.writer.register(record('greeter', 'n2'))
        await eventually(
          () => h.reader.getService('greeter'),
          (s) => nodeIds(s).length === 2,
        )
        assert.equal((await nextEvent(events)).action, 'create')
        assert.equal((await nextEvent(events)).action, 'create')
        await h.advance(h.ttlMs + 1)
        const left = await eventually(
          () => h.reader.getService('greeter'),
          (s) => nodeIds(s).length === 1,
        )
        assert.deepEqual(nodeIds(left), ['n2'], 'the node without a TTL stays')
        const expired = await nextEvent(events)
        assert.equal(expired.action, 'delete')
        assert.deepEqual(nodeIds([expired.service]), ['n1'])
      } finally {
        watcher.stop()
      }
    })

    run('registering again within the TTL keeps a node alive', async (h) => {
      const greeter = record('greeter', 'n1')
      await h.writer.register(greeter, { ttlMs: h.ttlMs })
      for (let i = 0; i < 4; i++) {
        await h.advance(h.ttlMs / 2)
        await h.writer.register(greeter, { ttlMs: h.ttlMs })
      }
      assert.deepEqual(await h.reader.getService('greeter'), [greeter])
      await h.advance(h.ttlMs + 1)
      await eventually(
        () => h.reader.getService('greeter'),
        (s) => s.length === 0,
      )
    })

    run('bad records, names and TTLs are refused with BadRequestError', async (h) => {
      const good = record('greeter', 'n1')
      const node = good.nodes[0]!
      const bad: unknown[] = [
        null,
        'greeter',
        { ...good, name: '' },
        { ...good, name: 'has space' },
        { ...good, name: 'x'.repeat(129) },
        { ...good, version: 'v@1' },
        { ...good, version: 'v'.repeat(65) },
        { ...good, nodes: [] },
        { ...good, nodes: 'n1' },
        { ...good, nodes: [{ ...node, id: '' }] },
        { ...good, nodes: [{ ...node, id: 'a/b' }] },
        { ...good, nodes: [node, node] },
        { ...good, nodes: [{ ...node, address: 'no-port' }] },
        { ...good, nodes: [{ ...node, address: 'host:99999' }] },
        { ...good, nodes: [{ ...node, metadata: { n: 1 } }] },
        { ...good, metadata: ['a'] },
        { ...good, metadata: { a: 1 } },
        { ...good, metadata: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])) },
        { ...good, metadata: { big: 'x'.repeat(4097) } },
        { ...good, endpoints: 'hello' },
        { ...good, endpoints: [{ metadata: {} }] },
        {
          ...good,
          endpoints: Array.from({ length: 8 }, (_, i) => ({
            name: `e${i}`,
            metadata: { d: 'x'.repeat(900) },
          })),
        },
      ]
      for (const value of bad) {
        await assert.rejects(
          h.writer.register(value as Service),
          isBadRequest,
          JSON.stringify(value)?.slice(0, 80),
        )
        await assert.rejects(h.writer.deregister(value as Service), isBadRequest)
      }
      for (const ttlMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
        await assert.rejects(h.writer.register(good, { ttlMs }), isBadRequest, String(ttlMs))
      }
      for (const name of ['', 'a b', 'x'.repeat(129)]) {
        await assert.rejects(h.reader.getService(name), isBadRequest)
        assert.throws(() => h.reader.watch({ service: name }), isBadRequest)
      }
      assert.deepEqual(await h.reader.getService('greeter'), [], 'nothing half-registered')
    })

    run('results are copies: editing one changes nothing in the registry', async (h) => {
      const greeter = record('greeter', 'n1')
      await h.writer.register(greeter)
      greeter.metadata.team = 'edited'
      greeter.nodes[0]!.address = '10.0.0.1:1'
      const [found] = await eventually(
        () => h.reader.getService('greeter'),
        (s) => s.length === 1,
      )
      assert.equal(found!.metadata.team, 'core')
      found!.nodes.length = 0
      assert.equal((await h.reader.getService('greeter'))[0]!.nodes.length, 1)
    })

    test(`${label} - stop is idempotent, ends watchers, refuses later calls and leaves no handle open`, async () => {
      const before = process.getActiveResourcesInfo().sort()
      const h = await factory()
      await h.writer.register(record('greeter', 'n1'), { ttlMs: h.ttlMs * 10 })
      const watcher: Watcher = h.reader.watch()
      const ended = (async () => {
        for await (const _ of watcher) {
          // drain until the registry stops
        }
      })()
      await h.stop()
      await h.stop()
      await Promise.all([h.writer.stop(), h.reader.stop()])
      await ended
      const unavailable = (e: unknown): boolean =>
        e instanceof UnavailableError && e.code === ErrorCode.UNAVAILABLE && e.retryable
      await assert.rejects(h.writer.register(record('greeter', 'n2')), unavailable)
      await assert.rejects(h.reader.getService('greeter'), unavailable)
      await assert.rejects(h.reader.listServices(), unavailable)
      assert.deepEqual(process.getActiveResourcesInfo().sort(), before)
      if (h.pendingTimers) assert.equal(h.pendingTimers(), 0, 'every timer was cancelled')
    })
  })
}
