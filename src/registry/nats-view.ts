/**
 * The nats registry's local view of its bucket: every node record the KV watcher delivered, kept in
 * a ServiceTable (merging, copies, create/update/delete events) so lookups never leave the process.
 *
 * Expiry is local, since the server (2.9) neither expires keys nor says when one should be gone: a
 * record with a TTL expires `ttlMs` after it was last heard. A record heard live ages from the moment
 * it arrived (so clocks that disagree do not matter). One first found while loading the bucket (at
 * start) ages from the heartbeat stamped in it (or from now, if that lies in the future); if that
 * makes it stale, it is not shown, and is deleted when nobody refreshes it within one more TTL (its
 * registry may be alive but not reconnected yet after an outage). While the connection is down, and
 * while the bucket is loaded again after it, the view is frozen (nobody could refresh a record
 * meanwhile); a reload gives every record it already showed a full TTL again.
 * Expired records are dropped by a sweep (the registry's timer) and before every read, each with one
 * `delete` event; the registry may then delete the stale key from the bucket.
 *
 * Bounded: at most `maxRecords` records; a new key beyond that is ignored (with one warning until
 * the view has room again).
 */
import type { Clock } from '../clock.ts'
import { decodeValue, keyOfRecord } from './nats-records.ts'
import type { Service, WatchEvent } from './registry.ts'
import { ServiceTable } from './table.ts'

interface Held {
  readonly service: Service
  readonly revision: number
  readonly expiresAt: number | undefined
  /** Found stale at load: held (to clean it up later) but not shown. */
  readonly hidden: boolean
}

export interface NatsViewOptions {
  clock: Clock
  maxRecords: number
  onEvent(event: WatchEvent): void
  onWarning(error: Error): void
  /** A record expired here: `revision` is the last one heard of `key`. */
  onExpire(key: string, revision: number): void
}

export class NatsView {
  readonly #options: NatsViewOptions
  readonly #table: ServiceTable
  readonly #held = new Map<string, Held>()
  /** No record expires before this (a lower bound: refreshes only move expiries later). */
  #nextExpiry = Infinity
  #warnedFull = false
  /** While frozen nothing expires: the connection is down, or the bucket is being loaded again. */
  frozen = false

  constructor(options: NatsViewOptions) {
    this.#options = options
    // no TTLs in the table itself: expiry is decided here, from heartbeats
    this.#table = new ServiceTable({ clock: options.clock, onEvent: options.onEvent })
  }

  get size(): number {
    return this.#held.size
  }

  /** A value put under `key`; `loading`: found while loading the bucket rather than heard live. */
  put(key: string, revision: number, value: Uint8Array, loading: boolean): void {
    let stored
    try {
      stored = decodeValue(value)
      if (keyOfRecord(stored.service) !== key) throw new Error('the record does not match its key')
    } catch (error) {
      this.#options.onWarning(new Error(`registry: nats: ignoring key ${key}: ${message(error)}`))
      return this.delete(key)
    }
    const old = this.#held.get(key)
    if (old === undefined && this.#held.size >= this.#options.maxRecords) {
      if (!this.#warnedFull) {
        this.#warnedFull = true
        const max = this.#options.maxRecords
        this.#options.onWarning(new Error(`registry: nats: view full (${max} records), ignoring key ${key}`))
      }
      return
    }
    const now = this.#options.clock.now()
    let expiresAt: number | undefined
    let hidden = false
    if (stored.ttlMs !== undefined) {
      // only a record we never showed ages from its heartbeat: one we showed gets a full TTL again
      const shown = old !== undefined && !old.hidden
      expiresAt = (loading && !shown ? Math.min(now, stored.heartbeat) : now) + stored.ttlMs
      if (expiresAt <= now) {
        // stale when found: not shown, and one TTL of grace before it is deleted from the bucket
        hidden = true
        expiresAt = old?.hidden ? old.expiresAt! : now + stored.ttlMs
      }
      this.#nextExpiry = Math.min(this.#nextExpiry, expiresAt)
    }
    this.#held.set(key, { service: stored.service, revision, expiresAt, hidden })
    if (!hidden) this.#table.put(stored.service, undefined)
  }

  /** The key was deleted (or must be forgotten); a key not held is ignored. */
  delete(key: string): void {
    const held = this.#held.get(key)
    if (held === undefined) return
    this.#held.delete(key)
    if (this.#held.size < this.#options.maxRecords) this.#warnedFull = false
    if (!held.hidden) this.#table.remove(held.service)
  }

  /** After a full load of the bucket: forgets (with delete events) every key it did not hold. */
  retainOnly(keys: ReadonlySet<string>): void {
    for (const key of [...this.#held.keys()]) if (!keys.has(key)) this.delete(key)
  }

  /** Drops every record whose time is up, each with a delete event. */
  sweep(): void {
    const now = this.#options.clock.now()
    if (this.frozen || now < this.#nextExpiry) return
    let next = Infinity
    for (const [key, held] of [...this.#held]) {
      if (held.expiresAt === undefined) continue
      if (held.expiresAt <= now) {
        this.delete(key)
        this.#options.onExpire(key, held.revision)
      } else next = Math.min(next, held.expiresAt)
    }
    this.#nextExpiry = next
  }

  get(name: string): Service[] {
    this.sweep()
    return this.#table.get(name)
  }

  list(): Service[] {
    this.sweep()
    return this.#table.names().flatMap((name) => this.#table.get(name))
  }

  /** Forgets everything without events (the registry is stopping). */
  clear(): void {
    this.#held.clear()
    this.#table.clear()
    this.#nextExpiry = Infinity
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
