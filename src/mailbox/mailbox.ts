/**
 * Mailbox: the bounded FIFO in front of one actor. Two lanes: system messages (lifecycle, stop) are
 * served before user messages and are never dropped; the user lane is bounded by `capacity` and applies
 * the kind's overflow policy. The mailbox only queues: who runs the messages is the actor cell.
 */
import { Ring } from './ring.ts'

/**
 * What happens to a message that does not fit:
 * - `reject`: the new message is refused (an ask rejects with 429 MAILBOX_FULL, a send is dead-lettered);
 * - `drop-newest`: the new message is dropped to dead letters (an ask still rejects, so none hangs);
 * - `drop-oldest`: the oldest queued message is dropped to dead letters and the new one is queued.
 */
export type OverflowPolicy = 'reject' | 'drop-newest' | 'drop-oldest'

export interface MailboxOptions {
  /** User messages that may wait (default 10,000). */
  capacity?: number
  overflow?: OverflowPolicy
}

export const DEFAULT_MAILBOX_CAPACITY = 10_000
export const DEFAULT_OVERFLOW: OverflowPolicy = 'reject'

/** The outcome of a push that did not simply queue: which message lost, and why. */
export interface Overflowed<T> {
  readonly lost: T
  readonly reason: 'rejected' | 'dropped-newest' | 'dropped-oldest'
}

export class Mailbox<T> {
  readonly #user = new Ring<T>()
  #system: Ring<T> | undefined
  readonly capacity: number
  readonly overflow: OverflowPolicy

  constructor(capacity: number, overflow: OverflowPolicy) {
    this.capacity = capacity
    this.overflow = overflow
  }

  get size(): number {
    return this.#user.size + (this.#system?.size ?? 0)
  }

  /** Queues a user message; returns the message that lost when the mailbox was full. */
  push(item: T): Overflowed<T> | undefined {
    if (this.#user.size < this.capacity) {
      this.#user.push(item)
      return undefined
    }
    switch (this.overflow) {
      case 'drop-oldest': {
        const lost = this.#user.shift() as T
        this.#user.push(item)
        return { lost, reason: 'dropped-oldest' }
      }
      case 'drop-newest':
        return { lost: item, reason: 'dropped-newest' }
      default:
        return { lost: item, reason: 'rejected' }
    }
  }

  pushSystem(item: T): void {
    ;(this.#system ??= new Ring<T>()).push(item)
  }

  /** The next message: system lane first (its ring goes once empty: system messages are rare). */
  shift(): T | undefined {
    const system = this.#system
    if (system !== undefined) {
      const item = system.shift()
      if (system.size === 0) this.#system = undefined
      if (item !== undefined) return item
    }
    return this.#user.shift()
  }

  /** Empties both lanes (system first), e.g. when the actor stops. */
  drain(): T[] {
    const system = this.#system?.drain() ?? []
    return system.concat(this.#user.drain())
  }
}
