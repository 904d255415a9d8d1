/**
 * A caching registry around any other (Go Micro's `registry/cache`): lookups are served from an LRU
 * of `getService` results that the inner registry's watch events keep current, so the hot path of a
 * call never waits on the network, and a registry that goes down does not take discovery with it.
 *
 * - Within `ttlMs` a cached result is served as is. After it, the stale result is still served at
 *   once while one background refresh per name (shared by every caller) asks the inner registry.
 * - If that refresh fails, the stale result stays and keeps being served (stale-on-error): routing
 *   to nodes that were there a moment ago beats failing every call while the registry is away.
 * - With nothing cached and the inner registry failing, getService rejects with UnavailableError
 *   (`unavailable`, retryable) whose `cause` is the inner failure.
 * - Every watch event (and every register/deregister made through this wrapper) patches the cached
 *   result for its name and restarts its TTL. An event that lands while the first lookup of a name is
 *   in flight makes that lookup ask again, so a result fetched before the event is never cached.
 * - listServices, watch and onLinkChange pass through: they are not on the hot path.
 *
 * The wrapper owns the inner registry: start and stop start and stop it.
 */
import { LRUCache } from 'lru-cache'
import { systemClock, type Clock } from '../clock.ts'
import { ErrorCode, UnavailableError } from '../errors.ts'
import { Lifecycle } from './lifecycle.ts'
import type {
  LinkHandler,
  RegisterOptions,
  Registry,
  Service,
  WatchEvent,
  WatchOptions,
  Watcher,
} from './registry.ts'
import { checkName, checkService } from './validate.ts'
import { copyService } from './watchers.ts'

/** Go Micro's cache default. */
export const DEFAULT_CACHE_TTL_MS = 60_000
export const DEFAULT_CACHE_MAX_NAMES = 1024
/** Lookups a name gets while events keep landing during them, before the last result is kept anyway. */
const MAX_FETCH_ATTEMPTS = 3

export interface CachedRegistryOptions {
  ttlMs?: number
  /** Names kept; the least recently used go first. */
  maxNames?: number
  /** Drives the TTL. Default: the system clock. */
  clock?: Clock
}

export class CachedRegistry implements Registry {
  readonly name = 'cache'
  readonly #inner: Registry
  readonly #lifecycle = new Lifecycle('cache')
  readonly #cache: LRUCache<string, Service[]>
  /** Names whose lookup is in flight -> one counter of events seen meanwhile per running lookup. */
  readonly #inflight = new Map<string, Set<{ events: number }>>()
  #watcher: Watcher | undefined
  #pump: Promise<void> | undefined
  #starting: Promise<void> | undefined

  constructor(inner: Registry, options: CachedRegistryOptions = {}) {
    this.#inner = inner
    const clock = options.clock ?? systemClock
    this.#cache = new LRUCache<string, Service[]>({
      max: options.maxNames ?? DEFAULT_CACHE_MAX_NAMES,
      ttl: options.ttlMs ?? DEFAULT_CACHE_TTL_MS,
      // lru-cache reads a start time of 0 as "no TTL", so time starts at 1 for a clock that starts at 0;
      // ttlResolution 0 because its caching of now() sets a timer per read
      perf: { now: () => clock.now() + 1 },
      ttlResolution: 0,
      allowStale: true,
      allowStaleOnFetchRejection: true,
      noDeleteOnFetchRejection: true,
      fetchMethod: (name) => this.#lookup(name),
    })
  }

  start(): Promise<void> {
    this.#starting ??= this.#start()
    return this.#starting
  }

  async #start(): Promise<void> {
    this.#lifecycle.begin()
    await this.#inner.start()
    const watcher = this.#inner.watch()
    this.#watcher = watcher
    this.#pump = (async () => {
      for await (const event of watcher) this.#apply(event)
    })()
    this.#lifecycle.start()
  }

  async stop(): Promise<void> {
    if (!this.#lifecycle.stop()) return
    await this.#starting?.catch(() => {})
    this.#watcher?.stop()
    await this.#pump
    this.#cache.clear()
    await this.#inner.stop()
  }

  async register(service: Service, options?: RegisterOptions): Promise<void> {
    this.#lifecycle.assertLive()
    await this.#inner.register(service, options)
    this.#apply({ action: 'update', service: checkService(service) })
  }

  async deregister(service: Service): Promise<void> {
    this.#lifecycle.assertLive()
    await this.#inner.deregister(service)
    this.#apply({ action: 'delete', service: checkService(service) })
  }

  async getService(name: string): Promise<Service[]> {
    this.#lifecycle.assertLive()
    checkName(name)
    const status: LRUCache.Status<string, Service[]> = {}
    let failure: unknown
    // a fetch rejects only when lru-cache itself gives up (the entry was evicted under it)
    const fetched = await this.#cache
      .fetch(name, { status })
      .catch((error: unknown) => void (failure = error))
    // undefined also when a watch event replaced the entry under a running fetch: take its value
    const services = fetched ?? this.#cache.peek(name, { allowStale: true })
    if (services === undefined) {
      throw new UnavailableError(
        ErrorCode.UNAVAILABLE,
        `registry ${this.#inner.name} failed and nothing is cached for ${name}`,
        'registry',
        { cause: status.fetchError ?? failure },
      )
    }
    return services.map(copyService)
  }

  async listServices(): Promise<Service[]> {
    this.#lifecycle.assertLive()
    return await this.#inner.listServices()
  }

  watch(options?: WatchOptions): Watcher {
    return this.#inner.watch(options)
  }

  /** The inner registry's link (none when it has no shared backend). */
  onLinkChange(handler: LinkHandler): () => void {
    return this.#inner.onLinkChange?.(handler) ?? (() => {})
  }

  async #lookup(name: string): Promise<Service[]> {
    const mark = { events: 0 }
    let marks = this.#inflight.get(name)
    if (marks === undefined) this.#inflight.set(name, (marks = new Set()))
    marks.add(mark)
    try {
      for (let attempt = 1; ; attempt++) {
        mark.events = 0
        const services = await this.#inner.getService(name)
        if (mark.events === 0 || attempt === MAX_FETCH_ATTEMPTS) return services
      }
    } finally {
      marks.delete(mark)
      if (marks.size === 0) this.#inflight.delete(name)
    }
  }

  #apply(event: WatchEvent): void {
    const name = event.service.name
    for (const mark of this.#inflight.get(name) ?? []) mark.events++
    const cached = this.#cache.peek(name, { allowStale: true })
    if (cached !== undefined) this.#cache.set(name, patch(cached, event))
  }
}

/** `services` (one record per version) with the event's nodes added, replaced or removed. */
export function patch(services: readonly Service[], event: WatchEvent): Service[] {
  const changed = copyService(event.service)
  const ids = new Set(changed.nodes.map((n) => n.id))
  const out: Service[] = []
  let found = false
  for (const service of services) {
    if (service.version !== changed.version) {
      out.push(service)
      continue
    }
    found = true
    if (event.action === 'delete') {
      const nodes = service.nodes.filter((n) => !ids.has(n.id))
      if (nodes.length > 0) out.push({ ...service, nodes })
      continue
    }
    const nodes = service.nodes.map((n) => changed.nodes.find((c) => c.id === n.id) ?? n)
    for (const node of changed.nodes) if (!service.nodes.some((n) => n.id === node.id)) nodes.push(node)
    // the newest registration gives the service-level fields, as in the registries' own merge
    out.push({ ...changed, nodes })
  }
  if (!found && event.action !== 'delete') out.push(changed)
  return out
}
