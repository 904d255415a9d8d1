// The caching registry: the contract (around a memory registry on a manual clock), then what only a
// cache does: serving within its TTL, stale-on-error, one shared refresh, watch-driven freshness.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { setImmediate as tick } from 'node:timers/promises'
import { ErrorCode, UnavailableError } from '../../src/errors.ts'
import { CachedRegistry, patch } from '../../src/registry/cache.ts'
import { MemoryRegistry } from '../../src/registry/memory.ts'
import type {
  LinkHandler,
  RegisterOptions,
  Registry,
  Service,
  WatchOptions,
  Watcher,
} from '../../src/registry/registry.ts'
import { ManualClock } from '../helpers/manual-clock.ts'
import { manualClockHarness, record, registryContract } from './contract.ts'

registryContract(
  'cache',
  manualClockHarness((clock) => new CachedRegistry(new MemoryRegistry({ clock }), { clock, ttlMs: 5000 })),
)

/** A memory registry whose lookups can be made to fail or to wait, counting them. */
class Flaky implements Registry {
  readonly name = 'flaky'
  readonly inner: MemoryRegistry
  failing = false
  lookups = 0
  #gate: Promise<void> | undefined
  #open: (() => void) | undefined

  constructor(clock: ManualClock) {
    this.inner = new MemoryRegistry({ clock })
  }

  /** Lookups wait until the returned function is called. */
  hold(): () => void {
    this.#gate = new Promise((resolve) => (this.#open = resolve))
    return () => {
      this.#gate = undefined
      this.#open?.()
    }
  }

  start = (): Promise<void> => this.inner.start()
  stop = (): Promise<void> => this.inner.stop()
  register = (s: Service, o?: RegisterOptions): Promise<void> => this.inner.register(s, o)
  deregister = (s: Service): Promise<void> => this.inner.deregister(s)
  listServices = (): Promise<Service[]> => this.inner.listServices()
  watch = (o?: WatchOptions): Watcher => this.inner.watch(o)

  async getService(name: string): Promise<Service[]> {
    this.lookups++
    await this.#gate
    if (this.failing) throw new Error('registry backend down')
    return this.inner.getService(name)
  }
}

async function setup(ttlMs = 1000): Promise<{ clock: ManualClock; flaky: Flaky; cache: CachedRegistry }> {
  const clock = new ManualClock(1_000_000)
  const flaky = new Flaky(clock)
  const cache = new CachedRegistry(flaky, { clock, ttlMs })
  await cache.start()
  return { clock, flaky, cache }
}

describe('cache', () => {
  test('cache - within the TTL lookups are served without asking the inner registry', async () => {
    const { clock, flaky, cache } = await setup()
    await flaky.inner.register(record('greeter', 'n1'))
    await cache.getService('greeter')
    clock.advance(999)
    await cache.getService('greeter')
    await cache.getService('greeter')
    assert.equal(flaky.lookups, 1)
    clock.advance(2)
    await cache.getService('greeter') // stale: served, refreshed in the background
    await tick()
    assert.equal(flaky.lookups, 2)
    await cache.stop()
  })

  test('cache - a stale result is served while the inner registry fails', async () => {
    const { clock, flaky, cache } = await setup()
    const greeter = record('greeter', 'n1')
    await flaky.inner.register(greeter)
    assert.deepEqual(await cache.getService('greeter'), [greeter])
    flaky.failing = true
    clock.advance(5000)
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(await cache.getService('greeter'), [greeter])
      await tick()
    }
    assert.ok(flaky.lookups >= 2, 'the cache kept trying to refresh')
    flaky.failing = false
    await cache.getService('greeter') // the refresh this starts succeeds
    await tick()
    clock.advance(10)
    const before = flaky.lookups
    await cache.getService('greeter')
    assert.equal(flaky.lookups, before, 'fresh again: served from the cache')
    await cache.stop()
  })

  test('cache - with nothing cached and the inner registry failing, getService is unavailable', async () => {
    const { flaky, cache } = await setup()
    flaky.failing = true
    await assert.rejects(cache.getService('greeter'), (error: unknown) => {
      assert.ok(error instanceof UnavailableError)
      assert.equal(error.code, ErrorCode.UNAVAILABLE)
      assert.equal(error.retryable, true)
      assert.match(error.message, /flaky failed and nothing is cached for greeter/)
      assert.equal((error.cause as Error).message, 'registry backend down')
      return true
    })
    await cache.stop()
  })

  test('cache - concurrent lookups of a stale name share one background refresh', async () => {
    const { clock, flaky, cache } = await setup()
    await flaky.inner.register(record('greeter', 'n1'))
    await cache.getService('greeter')
    clock.advance(2000)
    const open = flaky.hold()
    const results = await Promise.all(Array.from({ length: 10 }, () => cache.getService('greeter')))
    assert.ok(
      results.every((r) => r.length === 1),
      'every caller got the stale result at once',
    )
    open()
    await tick()
    assert.equal(flaky.lookups, 2)
    await cache.stop()
  })

  test('cache - watch events from the inner registry refresh the cached result', async () => {
    const { clock, flaky, cache } = await setup(60_000)
    await flaky.inner.register(record('greeter', 'n1'))
    assert.equal((await cache.getService('greeter')).length, 1)
    await flaky.inner.register(record('greeter', 'n2'))
    await tick()
    assert.deepEqual(
      (await cache.getService('greeter'))[0]!.nodes.map((n) => n.id),
      ['n1', 'n2'],
    )
    await flaky.inner.register(record('greeter', 'n1', { version: '2' }), { ttlMs: 500 })
    await tick()
    assert.equal((await cache.getService('greeter')).length, 2)
    clock.advance(500) // the inner registry expires v2
    await tick()
    assert.deepEqual(
      (await cache.getService('greeter')).map((s) => s.version),
      ['1.0.0'],
    )
    assert.equal(flaky.lookups, 1, 'all of it came from events, not lookups')
    await cache.stop()
  })

  test('cache - an event during the first lookup makes it ask again', async () => {
    const { flaky, cache } = await setup()
    await flaky.inner.register(record('greeter', 'n1'))
    const open = flaky.hold()
    const pending = cache.getService('greeter')
    await tick()
    await flaky.inner.register(record('greeter', 'n2'))
    await tick()
    open()
    assert.equal((await pending)[0]!.nodes.length, 2)
    assert.equal(flaky.lookups, 2)
    await cache.stop()
  })

  test('cache - patch adds, replaces and removes nodes per version', () => {
    const v1 = record('greeter', 'n1')
    const n2 = record('greeter', 'n2', { metadata: { newer: 'yes' } })
    const merged = patch([v1], { action: 'create', service: n2 })
    assert.deepEqual(merged.length, 1)
    assert.deepEqual(merged[0]!.metadata, { newer: 'yes' })
    assert.deepEqual(
      merged[0]!.nodes.map((n) => n.id),
      ['n1', 'n2'],
    )
    const moved = { ...v1, nodes: [{ ...v1.nodes[0]!, address: '10.0.0.9:1' }] }
    assert.equal(patch(merged, { action: 'update', service: moved })[0]!.nodes[0]!.address, '10.0.0.9:1')
    const v2 = record('greeter', 'n3', { version: '2' })
    assert.deepEqual(
      patch(merged, { action: 'create', service: v2 }).map((s) => s.version),
      ['1.0.0', '2'],
    )
    assert.deepEqual(patch([v1], { action: 'delete', service: v1 }), [])
    assert.deepEqual(patch([v1], { action: 'delete', service: v2 }), [v1])
  })

  test("cache - onLinkChange is the inner registry's (a no-op for one without a link)", async () => {
    const { flaky, cache } = await setup()
    const handlers = new Set<LinkHandler>()
    const linked = Object.assign(flaky, {
      onLinkChange: (h: LinkHandler) => {
        handlers.add(h)
        return () => void handlers.delete(h)
      },
    })
    const events: string[] = []
    const off = new CachedRegistry(linked).onLinkChange((e) => events.push(e.state))
    for (const h of handlers) h({ state: 'lost', detail: 'test' })
    assert.deepEqual(events, ['lost'])
    off()
    assert.equal(handlers.size, 0, 'unsubscribed from the inner registry')
    const offMemory = new CachedRegistry(new MemoryRegistry()).onLinkChange(() => {})
    offMemory() // nothing to unsubscribe from
    await cache.stop()
  })
})
