/**
 * The nats registry: node records in a JetStream KV bucket (`mica_registry`), one key per (service
 * name, version, node id) holding that node's record, its TTL, a heartbeat time and the random token
 * of the registry instance that put it (layout: ./nats-records.ts). Every instance watches the whole
 * bucket and keeps it in memory (./nats-view.ts), so lookups never leave the process and `watch()`
 * sees the creates, updates and deletes the watcher delivers. `start()` resolves once the bucket's
 * content is loaded.
 *
 * TTL: the server here (2.9) neither expires keys nor reports expiry, so both halves are ours. The
 * registry puts every node it registered with a TTL again every TTL/3 (`heartbeat: false` leaves that
 * to the caller), and every reader drops a record not heard of for its TTL (sweep timer and reads),
 * with one delete event, then deletes the stale key (at the revision it saw, so a refresh that
 * raced it wins). A record without a TTL lives until deregistered. Registering identical content
 * again refreshes without an event.
 *
 * Races: writes are compare-and-set (./nats-writes.ts). The newest registration of a node id wins:
 * a first `register` takes over a key another live instance holds (with a warning), so a process
 * restarted under a fixed node id is registered at once; the instance it replaced gets ConflictError
 * (409) naming the node at its next refresh and stays fenced off that key (further registers are
 * refused the same way) until it deregisters it. A deregister (and stop) deletes a key only while it
 * is still ours.
 *
 * Connection: opened or adopted with openNatsLink (an adopted one stays open at stop). While it is
 * down every call but `watch` rejects with UnavailableError (503) and nothing expires (nobody could
 * refresh). After a reconnect the registry opens the bucket again (a server that lost a memory-stored
 * bucket gets a new one), puts its own nodes again and reloads the bucket from scratch, giving every
 * node it already knew one full TTL to be refreshed by its own registry. The connection's losses and
 * returns go to `onLinkChange` (src/link.ts): while it is down nobody refreshes our records, so
 * other readers may expire them and route around this node.
 */
import { randomBytes } from 'node:crypto'
import type { KV } from '@nats-io/kv'
import type { TimerHandle } from '../clock.ts'
import { BadRequestError, ConflictError, ErrorCode } from '../errors.ts'
import { openNatsLink, type NatsLink } from '../nats/connection.ts'
import { Lifecycle } from './lifecycle.ts'
import { openBucket, registryError, text, unavailable, watchBucket, type BucketWatch } from './nats-bucket.ts'
import { resolveNatsRegistryOptions, type NatsRegistryOptions } from './nats-options.ts'
import type { ResolvedNatsRegistryOptions } from './nats-options.ts'
import { keyOfRecord } from './nats-records.ts'
import { Timers } from './nats-timers.ts'
import { NatsView } from './nats-view.ts'
import { deleteExpired, deleteNode, putNode } from './nats-writes.ts'
import type { LinkHandler, RegisterOptions, Registry, Service, WatchOptions, Watcher } from './registry.ts'
import { checkName, checkRegisterOptions, checkService } from './validate.ts'
import { WatchHub } from './watchers.ts'

export {
  DEFAULT_NATS_REGISTRY_BUCKET,
  DEFAULT_NATS_REGISTRY_MAX_RECORDS,
  DEFAULT_NATS_REGISTRY_REQUEST_TIMEOUT_MS,
  DEFAULT_NATS_REGISTRY_SWEEP_INTERVAL_MS,
  type NatsRegistryOptions,
} from './nats-options.ts'

/** A node this instance registered. */
interface Own {
  service: Service
  ttlMs: number | undefined
  /** The last revision we wrote (undefined: not written yet). */
  revision: number | undefined
  heartbeat: TimerHandle | undefined
  /** Writes of one key run one after another. */
  chain: Promise<unknown>
}

/** Longest pause between attempts to recover after a reconnect. */
const MAX_RECOVER_PAUSE_MS = 5000
/** Heartbeats are never closer than this, whatever the TTL (a tiny TTL must not flood the server). */
const MIN_HEARTBEAT_MS = 50
/** Pause before loading the bucket again when its watcher ended by itself. */
const RELOAD_PAUSE_MS = 100

export class NatsRegistry implements Registry {
  readonly name = 'nats'
  readonly #lifecycle = new Lifecycle('nats')
  readonly #hub = new WatchHub()
  readonly #onLinkChange = new Set<LinkHandler>()
  readonly #options: ResolvedNatsRegistryOptions
  /** Marks our values in the bucket: whose a key is decides who may refresh or delete it. */
  readonly #token = randomBytes(12).toString('base64url')
  readonly #own = new Map<string, Own>()
  /** Keys another instance took from us: registering them again is refused until we deregister them. */
  readonly #lost = new Set<string>()
  readonly #view: NatsView
  readonly #timers: Timers
  #link: NatsLink | undefined
  #kv: KV | undefined
  #watch: BucketWatch | undefined
  #stopStatus: (() => void) | undefined
  #connected = false
  #starting: Promise<void> | undefined
  #recovering: Promise<void> | undefined
  #again = false
  /** The highest revision our watcher delivered, and who waits for one. */
  #heard = 0
  readonly #waiters = new Set<{ revision: number; done(): void }>()
  /** Ends the recovery's pause between attempts (stop). */
  #wake: (() => void) | undefined

  constructor(options: NatsRegistryOptions) {
    this.#options = resolveNatsRegistryOptions(options)
    this.#timers = new Timers(this.#options.clock)
    this.#view = new NatsView({
      clock: this.#options.clock,
      maxRecords: this.#options.maxRecords,
      onEvent: (event) => this.#hub.emit(event),
      onWarning: this.#options.onWarning,
      onExpire: (key, revision) => this.#expired(key, revision),
    })
  }

  start(): Promise<void> {
    this.#starting ??= this.#start()
    return this.#starting
  }

  async #start(): Promise<void> {
    this.#lifecycle.begin()
    try {
      this.#link = await openNatsLink(this.#options.connection, 'registry')
      this.#connected = true
      this.#link.onChange((event) => {
        for (const handler of this.#onLinkChange) {
          try {
            handler(event)
          } catch (error) {
            this.#warn(`a link handler threw: ${text(error)}`)
          }
        }
      })
      this.#follow(this.#link)
      this.#kv = await this.#openBucket()
      await this.#load()
    } catch (error) {
      if (!this.#lifecycle.stopped) await this.#teardown()
      throw registryError(error, 'cannot start')
    }
    this.#lifecycle.start() // throws when stop() came first; stop() then tears down
    this.#timers.every(this.#options.sweepIntervalMs, () => this.#view.sweep())
  }

  async stop(): Promise<void> {
    if (!this.#lifecycle.stop()) return
    await this.#starting?.catch(() => undefined)
    for (const own of this.#own.values()) own.heartbeat?.cancel()
    const kv = this.#kv
    if (kv !== undefined && this.#usable()) {
      const deletes = [...this.#own].map(([key, own]) =>
        own.chain.then(() => deleteNode(kv, key, this.#token, own.revision)),
      )
      for (const result of await Promise.allSettled(deletes)) {
        if (result.status === 'rejected') this.#warn(`could not deregister at stop: ${text(result.reason)}`)
      }
    }
    this.#wake?.()
    await this.#recovering
    await this.#teardown()
  }

  async register(service: Service, options?: RegisterOptions): Promise<void> {
    this.#lifecycle.assertLive()
    const record = checkService(service)
    const ttlMs = checkRegisterOptions(options)
    const nodes = record.nodes.map((node) => ({ ...record, nodes: [node] }))
    const fresh = nodes.filter((one) => !this.#own.has(keyOfRecord(one))).length
    if (this.#own.size + fresh > this.#options.maxRecords) {
      throw new BadRequestError(
        ErrorCode.BAD_REQUEST,
        `registry: nats: this registry holds ${this.#own.size} nodes; at most ${this.#options.maxRecords} (maxRecords)`,
        'registry',
      )
    }
    const kv = this.#kvLive()
    await Promise.all(nodes.map((one) => this.#register(kv, one, ttlMs)))
  }

  async #register(kv: KV, service: Service, ttlMs: number | undefined): Promise<void> {
    const key = keyOfRecord(service)
    let own = this.#own.get(key)
    const isNew = own === undefined
    if (own === undefined) {
      own = { service, ttlMs, revision: undefined, heartbeat: undefined, chain: Promise.resolve() }
      this.#own.set(key, own)
    }
    own.service = service
    own.ttlMs = ttlMs
    own.heartbeat?.cancel()
    own.heartbeat = undefined
    try {
      await this.#put(kv, key, own)
    } catch (error) {
      // refused: a new node stays unregistered; one taken over by another instance is no longer ours
      if ((isNew || error instanceof ConflictError) && this.#own.get(key) === own) this.#own.delete(key)
      if (error instanceof ConflictError && !isNew) this.#lost.add(key)
      throw error
    }
    this.#scheduleHeartbeat(key, own)
    await this.#heardAt(own.revision!) // our own lookups see what we registered once this resolves
  }

  #heardUpTo(revision: number): void {
    if (revision <= this.#heard) return
    this.#heard = revision
    for (const waiter of this.#waiters) if (waiter.revision <= revision) waiter.done()
  }

  /** Resolves when our watcher delivered `revision` (or after requestTimeoutMs, or at stop). */
  #heardAt(revision: number): Promise<void> {
    if (revision <= this.#heard || this.#lifecycle.stopped) return Promise.resolve()
    return new Promise((resolve) => {
      const waiter = {
        revision,
        done: () => {
          timer.cancel()
          this.#waiters.delete(waiter)
          resolve()
        },
      }
      const timer = this.#timers.after(this.#options.requestTimeoutMs, waiter.done)
      this.#waiters.add(waiter)
    })
  }

  async deregister(service: Service): Promise<void> {
    this.#lifecycle.assertLive()
    const record = checkService(service)
    const kv = this.#kvLive()
    await Promise.all(
      record.nodes.map(async (node) => {
        const key = keyOfRecord({ ...record, nodes: [node] })
        const own = this.#own.get(key)
        if (this.#lost.delete(key)) return // another instance holds it now: theirs to deregister
        if (own === undefined) return deleteNode(kv, key, undefined, undefined) // whoever put it
        this.#own.delete(key)
        own.heartbeat?.cancel()
        await (own.chain = own.chain.then(() => deleteNode(kv, key, this.#token, own.revision)))
      }),
    )
  }

  async getService(name: string): Promise<Service[]> {
    this.#lifecycle.assertLive()
    checkName(name)
    this.#kvLive()
    return this.#view.get(name)
  }

  async listServices(): Promise<Service[]> {
    this.#lifecycle.assertLive()
    this.#kvLive()
    return this.#view.list()
  }

  watch(options: WatchOptions = {}): Watcher {
    if (options.service !== undefined) checkName(options.service)
    return this.#hub.watch(options)
  }

  onLinkChange(handler: LinkHandler): () => void {
    this.#onLinkChange.add(handler)
    return () => void this.#onLinkChange.delete(handler)
  }

  #usable(): boolean {
    return this.#connected && this.#link?.nc.isClosed() === false
  }

  /** The bucket, or UnavailableError while the connection is down. */
  #kvLive(): KV {
    if (!this.#usable() || this.#kv === undefined) throw unavailable('not connected to the server')
    return this.#kv
  }

  /** One write of our record for `key`, after the writes queued before it. */
  #put(kv: KV, key: string, own: Own): Promise<void> {
    const write = own.chain.then(async () => {
      const stored = {
        service: own.service,
        owner: this.#token,
        ttlMs: own.ttlMs,
        heartbeat: this.#options.clock.now(),
      }
      const takeOver = own.revision === undefined && !this.#lost.has(key)
      const put = await putNode(kv, key, stored, own.revision, takeOver)
      own.revision = put.revision
      if (put.replaced) {
        const node = own.service.nodes[0]!
        this.#warn(
          `node ${node.id} of ${own.service.name} was registered by another instance: replaced by ${node.address}`,
        )
      }
    })
    own.chain = write.catch(() => undefined)
    return write
  }

  #scheduleHeartbeat(key: string, own: Own): void {
    if (!this.#options.heartbeat || own.ttlMs === undefined || this.#lifecycle.stopped) return
    own.heartbeat = this.#timers.after(Math.max(MIN_HEARTBEAT_MS, Math.floor(own.ttlMs / 3)), () => {
      own.heartbeat = undefined
      if (this.#own.get(key) !== own || this.#lifecycle.stopped) return
      if (!this.#connected || this.#kv === undefined) return this.#scheduleHeartbeat(key, own) // recovery re-puts
      this.#put(this.#kv, key, own).then(
        () => this.#scheduleHeartbeat(key, own),
        (error: unknown) => {
          if (error instanceof ConflictError) {
            if (this.#own.get(key) === own) this.#own.delete(key)
            this.#lost.add(key)
            this.#warn(`stopped refreshing a node: ${error.message}`)
          } else {
            this.#warn(`heartbeat failed: ${text(error)}`)
            this.#scheduleHeartbeat(key, own)
          }
        },
      )
    })
  }

  /** Our view dropped an expired record: take the stale key out of the bucket too. */
  #expired(key: string, revision: number): void {
    const own = this.#own.get(key)
    // a node of ours that nobody refreshes (heartbeat off) is forgotten like anyone else's
    if (own !== undefined && !this.#options.heartbeat) this.#own.delete(key)
    if (own !== undefined && this.#options.heartbeat) return // our heartbeat puts it back
    const kv = this.#kv
    if (kv === undefined || !this.#connected) return
    deleteExpired(kv, key, revision).catch((error: unknown) =>
      this.#warn(`could not delete expired ${key}: ${text(error)}`),
    )
  }

  #openBucket(): Promise<KV> {
    const { bucket, replicas, storage, requestTimeoutMs } = this.#options
    return openBucket(this.#link!.nc, { bucket, replicas, storage, timeoutMs: requestTimeoutMs })
  }

  /** (Re)loads the whole bucket into the view with a fresh watcher, then follows its changes. */
  async #load(): Promise<void> {
    await this.#watch?.stop()
    this.#watch = undefined
    this.#heard = 0 // a bucket made again starts its revisions again
    const watch = await watchBucket(this.#kv!, this.#options.requestTimeoutMs, {
      put: (key, revision, value, loading) => {
        this.#view.put(key, revision, value, loading)
        this.#heardUpTo(revision)
      },
      delete: (key, revision) => {
        this.#view.delete(key)
        this.#heardUpTo(revision)
      },
      loaded: (keys, complete) => {
        if (complete) this.#view.retainOnly(keys)
        else this.#warn('the bucket did not load in time: what was not delivered is missing for now')
      },
      // the consumer is gone (deleted, or given up on by the client): load again shortly
      ended: () => void this.#timers.after(RELOAD_PAUSE_MS, () => this.#recover()),
    })
    this.#watch = watch
    await watch.loaded
  }

  #follow(link: NatsLink): void {
    const status = link.nc.status() as AsyncIterable<{ type: string }> & { stop?: () => void }
    this.#stopStatus = () => status.stop?.()
    void (async () => {
      for await (const s of status) {
        if (s.type === 'disconnect' || s.type === 'staleConnection') {
          this.#connected = false
          this.#view.frozen = true
        } else if (s.type === 'reconnect') {
          this.#connected = true
          this.#recover()
        }
      }
    })().catch(() => undefined)
  }

  /** After a reconnect: the bucket again, our nodes again, the view reloaded; retried until done. */
  #recover(): void {
    if (this.#lifecycle.stopped) return
    if (this.#recovering !== undefined) {
      this.#again = true // things changed while recovering: once more when done
      return
    }
    this.#view.frozen = true
    this.#recovering = (async () => {
      for (let pause = 100; this.#usable() && !this.#lifecycle.stopped; pause *= 2) {
        this.#again = false
        try {
          const kv = (this.#kv = await this.#openBucket())
          const puts = [...this.#own].map(([key, own]) =>
            this.#put(kv, key, own).catch((error: unknown) => {
              if (!(error instanceof ConflictError)) throw error
              if (this.#own.get(key) === own) this.#own.delete(key)
              this.#warn(`lost a node while reconnecting: ${error.message}`)
            }),
          )
          await Promise.all(puts)
          await this.#load()
          if (this.#again) continue
          this.#view.frozen = false
          return
        } catch (error) {
          this.#warn(`recovering after a reconnect: ${text(error)}`)
          await new Promise<void>((resolve) => {
            this.#wake = resolve
            this.#timers.after(Math.min(pause, MAX_RECOVER_PAUSE_MS), resolve)
          })
        }
      }
    })().finally(() => {
      this.#recovering = undefined
    })
  }

  async #teardown(): Promise<void> {
    for (const waiter of [...this.#waiters]) waiter.done()
    this.#timers.cancelAll()
    this.#stopStatus?.()
    this.#stopStatus = undefined
    const watch = this.#watch
    this.#watch = undefined
    await watch?.stop()
    this.#own.clear()
    this.#hub.stop()
    this.#view.clear()
    this.#kv = undefined
    const link = this.#link
    this.#link = undefined
    this.#connected = false
    await link?.close()
    // a destroyed socket's handle closes in the close phase of the loop's turn, which runs after that
    // turn's immediates: stop resolves one full turn later, when no handle of ours is left
    for (let turn = 0; turn < 2; turn++) await new Promise((resolve) => setImmediate(resolve))
  }

  #warn(detail: string): void {
    this.#options.onWarning(new Error(`registry: nats: ${detail}`))
  }
}
