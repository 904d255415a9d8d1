/**
 * ActorHost: the live actors of one thread (the main thread in inline mode, or one worker). It owns
 * the kinds it can run and the cells keyed by address; a message to an address without a live cell
 * activates one (virtual actors: every id of a hosted kind is addressable). It knows when everything
 * is idle, which is how a kernel drains before it stops.
 *
 * Its epoch says when its persistent actors last had reason to trust what they hold: `catchUp()`
 * (the kernel found this node may have been routed around, src/kernel/catch-up.ts) moves it, and a
 * message delivered to a persistent cell that read its journal at an older epoch queues that cell's
 * catch-up turn first. So the cost is an integer compare per delivery and nothing until a message
 * comes, however many actors are live; cells with messages already waiting are caught up at once.
 */
import { LRUCache } from 'lru-cache'
import { ErrorCode, NotFoundError, UnavailableError, type MicaError } from '../errors.ts'
import type { DeadLetterReason } from '../mailbox/dead-letters.ts'
import type { TimerHandle } from '../clock.ts'
import { ActorCell, type CellOwner } from './cell.ts'
import { PersistentCell } from './persistent-cell.ts'
import type { Delivery } from './delivery.ts'
import type { ActorEnvironment } from './environment.ts'
import { KindEntry, type HandlerCount } from './kind.ts'
import type { ActorDefinition } from './types.ts'

/** When idle persistent actors leave memory (they come back from their journal on their next message). */
export interface PassivationOptions {
  /** Live persistent keyed actors per host (thread) before the least recently used one leaves. */
  maxActors: number
  /** An actor without a message for this long leaves (checked every quarter of it, at least 1 s). */
  idleMs: number
}

export const DEFAULT_PASSIVATION: PassivationOptions = { maxActors: 100_000, idleMs: 600_000 }

export class ActorHost implements CellOwner {
  readonly env: ActorEnvironment
  readonly #kinds = new Map<string, KindEntry>()
  readonly #cells = new Map<string, ActorCell>()
  /**
   * Live persistent keyed actors in use order: the LRU that passivates them. Made on the first
   * persistent keyed activation: most hosts never need it, and it preallocates `maxActors` slots.
   */
  #passivation: LRUCache<string, ActorCell> | undefined
  #sweep: NodeJS.Timeout | undefined
  readonly #passivationOptions: PassivationOptions | false
  #busy = 0
  #epoch = 0
  #idleWaiters: (() => void)[] = []
  #closed = false

  constructor(env: ActorEnvironment, passivation: PassivationOptions | false = DEFAULT_PASSIVATION) {
    this.env = env
    this.#passivationOptions = passivation
  }

  /** The LRU of live persistent keyed actors (created on first use; undefined when turned off). */
  #tracker(): LRUCache<string, ActorCell> | undefined {
    if (this.#passivation !== undefined || this.#passivationOptions === false || this.#closed)
      return this.#passivation
    const options = this.#passivationOptions
    const cache = new LRUCache<string, ActorCell>({
      max: options.maxActors,
      ttl: options.idleMs,
      updateAgeOnGet: true,
      dispose: (cell, _address, reason) => {
        // not from inside the cache's own bookkeeping: passivating may remove the cell from it
        if (reason === 'evict' || reason === 'expire') queueMicrotask(() => cell.passivate())
      },
    })
    this.#passivation = cache
    this.#sweep = setInterval(() => cache.purgeStale(), Math.max(1000, options.idleMs / 4))
    this.#sweep.unref()
    return cache
  }

  get epoch(): number {
    return this.#epoch
  }

  /**
   * Another activation may have written this host's persistent actors' journals (this node was
   * routed around): each reads its journal again before its next message. Lazy: a cell learns of
   * it when a message is delivered to it; one with messages already queued (they were delivered
   * before this call, they run after it) catches up now, ahead of them.
   */
  catchUp(): void {
    const epoch = ++this.#epoch
    if (this.#busy === 0) return // nothing is queued anywhere
    for (const cell of this.#cells.values())
      if (cell.holdsEffects && cell.depth > 0) (cell as PersistentCell).catchUp(epoch)
  }

  /** Persistent keyed actors tracked for passivation. */
  get passivationCount(): number {
    return this.#passivation?.size ?? 0
  }

  /** Turns and failed turns per `Kind.handler` on this thread. */
  handlerCounts(): Record<string, HandlerCount> {
    const out: Record<string, HandlerCount> = {}
    for (const kind of this.#kinds.values())
      for (const [name, c] of kind.counts) out[`${kind.name}.${name}`] = { count: c.count, errors: c.errors }
    return out
  }

  get liveCount(): number {
    return this.#cells.size
  }

  addKind(definition: ActorDefinition): KindEntry {
    const existing = this.#kinds.get(definition.kind)
    if (existing !== undefined) return existing
    const entry = new KindEntry(definition)
    this.#kinds.set(entry.name, entry)
    return entry
  }

  kind(name: string): KindEntry | undefined {
    return this.#kinds.get(name)
  }

  /** The live cell at `address`, activating it when needed; undefined when the kind is unknown. */
  activate(kind: string, id: string, address: string): ActorCell | undefined {
    const cell = this.#cells.get(address)
    if (cell !== undefined) return cell
    const entry = this.#kinds.get(kind)
    if (entry === undefined) return undefined
    const fresh =
      entry.persistent === undefined
        ? new ActorCell(this, entry, id, address)
        : new PersistentCell(this, entry, id, address)
    this.#cells.set(address, fresh)
    if (entry.persistent !== undefined && id !== '') this.#tracker()?.set(address, fresh)
    return fresh
  }

  deliver(kind: string, id: string, address: string, d: Delivery): void {
    if (this.#closed) {
      this.#lose(
        address,
        d,
        'kernel-stopped',
        new UnavailableError(ErrorCode.KERNEL_STOPPED, 'kernel stopped'),
      )
      return
    }
    let cell = this.#cells.get(address)
    if (cell === undefined) cell = this.activate(kind, id, address)
    else if (cell.holdsEffects) {
      if (id !== '') this.#passivation?.get(address) // marks it recently used
      const persistent = cell as PersistentCell
      if (persistent.epoch !== this.#epoch) persistent.catchUp(this.#epoch)
    }
    if (cell === undefined) {
      this.#lose(address, d, 'kind-not-found', new NotFoundError(ErrorCode.KIND_NOT_FOUND, `no kind ${kind}`))
      return
    }
    if (!cell.runNow(d)) cell.enqueue(d)
  }

  /** Mailbox depths of the live actors with something queued, deepest first (at most `limit`). */
  depths(limit = 10): { address: string; depth: number }[] {
    const out: { address: string; depth: number }[] = []
    for (const cell of this.#cells.values())
      if (cell.depth > 0) out.push({ address: cell.address, depth: cell.depth })
    return out.sort((a, b) => b.depth - a.depth).slice(0, limit)
  }

  /** Resolves when no actor has anything queued or running. */
  idle(): Promise<void> {
    if (this.#busy === 0) return Promise.resolve()
    return new Promise((resolve) => this.#idleWaiters.push(resolve))
  }

  /**
   * Refuses new messages and stops every actor (stopped hooks run); activations still busy at
   * `until` (a turn that never settles) are aborted.
   */
  async stopAll(until: number): Promise<void> {
    this.#closed = true
    clearInterval(this.#sweep)
    this.#passivation?.clear()
    const stopping: ActorCell[] = []
    for (const cell of this.#cells.values()) if (!cell.stopIdle()) stopping.push(cell)
    this.#cells.clear() // idle actors without a stopped hook are done; the rest finish below
    for (const cell of stopping) {
      this.#cells.set(cell.address, cell)
      cell.requestStop()
    }
    let timer: TimerHandle | undefined
    const late = new Promise<void>((resolve) => {
      timer = this.env.clock.setTimeout(resolve, Math.max(0, until - this.env.clock.now()))
    })
    await Promise.race([this.idle(), late])
    timer?.cancel()
    for (const cell of [...this.#cells.values()]) cell.abort()
  }

  busy(delta: 1 | -1): void {
    this.#busy += delta
    if (this.#busy === 0 && this.#idleWaiters.length > 0) {
      const waiters = this.#idleWaiters
      this.#idleWaiters = []
      for (const w of waiters) w()
    }
  }

  removed(cell: ActorCell): void {
    if (this.#cells.get(cell.address) !== cell) return
    this.#cells.delete(cell.address)
    if (this.#passivation?.peek(cell.address) === cell) this.#passivation.delete(cell.address)
  }

  retrack(cell: ActorCell): void {
    if (this.#cells.get(cell.address) === cell) this.#tracker()?.set(cell.address, cell)
  }

  lose(cell: ActorCell, d: Delivery, reason: DeadLetterReason, error: MicaError | undefined): void {
    this.#lose(cell.address, d, reason, error)
  }

  #lose(address: string, d: Delivery, reason: DeadLetterReason, error: MicaError | undefined): void {
    if (d.reply !== undefined && error !== undefined && !d.reply.settled) d.reply.fail(error)
    this.env.deadLetter(address, d, reason, error)
  }
}
