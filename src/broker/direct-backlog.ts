/**
 * What the direct broker has sent and not yet seen acknowledged (in flight), and what waits for a
 * retry (the backlog). Both are maps in insertion order: in flight that is deadline order (one ack
 * timeout for all), so expiry stops at the first entry not yet due; in the backlog the first entry
 * is the oldest, the one dropped when the bound is reached.
 */
import type { BrokerMessage } from './broker.ts'

/** One message bound for one node: its plain subscriptions and/or the queue groups it was picked for. */
export interface Pending {
  readonly message: BrokerMessage
  readonly node: string
  readonly broadcast: boolean
  readonly queues: readonly string[]
  /** Sends so far (1 after the first). */
  readonly attempt: number
  /** When it was first published (clock ms), for the age bound. */
  readonly firstAt: number
}

/** Delay before retry number `attempt` (1 = first retry): doubles, capped. */
export function retryDelay(attempt: number, initialMs: number, maxMs: number): number {
  return Math.min(maxMs, initialMs * 2 ** Math.min(attempt - 1, 30))
}

export class Backlog {
  readonly #max: number
  readonly #onDrop: (p: Pending, reason: string) => void
  readonly #items = new Map<number, { pending: Pending; dueAt: number }>()
  #seq = 0

  constructor(max: number, onDrop: (p: Pending, reason: string) => void) {
    this.#max = max
    this.#onDrop = onDrop
  }

  get size(): number {
    return this.#items.size
  }

  /** Keeps `pending` until `dueAt`; when full, the oldest entry makes room and is dropped. */
  add(pending: Pending, dueAt: number): void {
    this.#items.set(this.#seq++, { pending, dueAt })
    if (this.#items.size <= this.#max) return
    const [oldest, item] = this.#items.entries().next().value!
    this.#items.delete(oldest)
    this.#onDrop(item.pending, `backlog full (${this.#max} messages)`)
  }

  /** Removes and returns every entry due at `now`, oldest first. */
  takeDue(now: number): Pending[] {
    const due: Pending[] = []
    for (const [key, item] of this.#items) {
      if (item.dueAt > now) continue
      this.#items.delete(key)
      due.push(item.pending)
    }
    return due
  }

  clear(): void {
    this.#items.clear()
  }
}

export class InFlight {
  readonly #items = new Map<number, { pending: Pending; deadline: number }>()

  get size(): number {
    return this.#items.size
  }

  add(id: number, pending: Pending, deadline: number): void {
    this.#items.set(id, { pending, deadline })
  }

  take(id: number): Pending | undefined {
    const item = this.#items.get(id)
    this.#items.delete(id)
    return item?.pending
  }

  /** Removes and returns the entries whose ack is overdue at `now`. */
  takeExpired(now: number): Pending[] {
    const expired: Pending[] = []
    for (const [id, item] of this.#items) {
      if (item.deadline > now) break
      this.#items.delete(id)
      expired.push(item.pending)
    }
    return expired
  }

  /** Removes and returns every entry bound for one of `nodes`. */
  takeNodes(nodes: ReadonlySet<string>): Pending[] {
    const out: Pending[] = []
    for (const [id, item] of this.#items) {
      if (!nodes.has(item.pending.node)) continue
      this.#items.delete(id)
      out.push(item.pending)
    }
    return out
  }

  clear(): void {
    this.#items.clear()
  }
}
