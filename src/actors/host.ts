/**
 * ActorHost: the live actors of one thread (the main thread in inline mode, or one worker). It owns
 * the kinds it can run and the cells keyed by address; a message to an address without a live cell
 * activates one (virtual actors: every id of a hosted kind is addressable). It knows when everything
 * is idle, which is how a kernel drains before it stops.
 */
import { ErrorCode, NotFoundError, UnavailableError, type MicaError } from '../errors.ts'
import type { DeadLetterReason } from '../mailbox/dead-letters.ts'
import type { TimerHandle } from '../clock.ts'
import { ActorCell, type CellOwner } from './cell.ts'
import type { Delivery } from './delivery.ts'
import type { ActorEnvironment } from './environment.ts'
import { KindEntry } from './kind.ts'
import type { ActorDefinition } from './types.ts'

export class ActorHost implements CellOwner {
  readonly env: ActorEnvironment
  readonly #kinds = new Map<string, KindEntry>()
  readonly #cells = new Map<string, ActorCell>()
  #busy = 0
  #idleWaiters: (() => void)[] = []
  #closed = false

  constructor(env: ActorEnvironment) {
    this.env = env
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
    const fresh = new ActorCell(this, entry, id, address)
    this.#cells.set(address, fresh)
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
    const cell = this.#cells.get(address) ?? this.activate(kind, id, address)
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
    if (this.#cells.get(cell.address) === cell) this.#cells.delete(cell.address)
  }

  lose(cell: ActorCell, d: Delivery, reason: DeadLetterReason, error: MicaError | undefined): void {
    this.#lose(cell.address, d, reason, error)
  }

  #lose(address: string, d: Delivery, reason: DeadLetterReason, error: MicaError | undefined): void {
    if (d.reply !== undefined && error !== undefined && !d.reply.settled) d.reply.fail(error)
    this.env.deadLetter(address, d, reason, error)
  }
}
