/**
 * What the direct broker has sent and not yet seen acknowledged (in flight: by envelope id, whose
 * order is send order and deadline order), and what waits for a retry (the backlog: a map in
 * insertion order, so its first entry is the oldest, the one dropped when the bound is reached).
 */
import type { BrokerMessage } from './broker.ts'
import { IdTable } from '../kernel/id-table.ts'

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

/**
 * Sent and not yet acknowledged, by envelope id. An IdTable, not a Map (see kernel/id-table.ts: a
 * Map under this churn keeps every settled entry alive until a full GC). Ids are handed out in
 * order and every entry has the same ack timeout, so id order is send order and deadline order:
 * expiry walks up from the oldest id still possibly here and stops at the first one not yet due.
 */
export class InFlight {
  readonly #items = new IdTable<{ pending: Pending; deadline: number }>()
  /** Every id below has left; the largest id added. */
  #low = 0
  #high = -1

  get size(): number {
    return this.#items.size
  }

  add(id: number, pending: Pending, deadline: number): void {
    this.#items.set(id, { pending, deadline })
    if (id > this.#high) this.#high = id
  }

  take(id: number): Pending | undefined {
    const item = this.#items.get(id)
    if (item === undefined) return undefined
    this.#items.delete(id)
    return item.pending
  }

  /** Removes and returns the entries whose ack is overdue at `now`, oldest first. */
  takeExpired(now: number): Pending[] {
    const expired: Pending[] = []
    for (; this.#low <= this.#high; this.#low++) {
      const item = this.#items.get(this.#low)
      if (item === undefined) continue // acknowledged (or taken) already
      if (item.deadline > now) break
      this.#items.delete(this.#low)
      expired.push(item.pending)
    }
    return expired
  }

  /** Removes and returns every entry bound for one of `nodes`, oldest first. */
  takeNodes(nodes: ReadonlySet<string>): Pending[] {
    return this.#items.takeWhere((item) => nodes.has(item.pending.node)).map(([, item]) => item.pending)
  }

  clear(): void {
    this.#items.clear()
    this.#low = this.#high + 1
  }
}
