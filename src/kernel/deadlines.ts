/**
 * DeadlineWheel: one timer for all pending asks instead of one `setTimeout` each (a timer per ask
 * costs more than the ask itself). Deadlines fall into buckets of `resolutionMs`; entries settled
 * before their bucket fires are skipped, so settling needs no removal.
 */
import type { Clock, TimerHandle } from '../clock.ts'
import type { MicaError } from '../errors.ts'

export interface Expirable {
  readonly settled: boolean
  /** The deadline passed. */
  expire(): void
  /** The owner is stopping: fail with `error`. */
  abandon(error: MicaError): void
}

export const DEADLINE_RESOLUTION_MS = 5

export class DeadlineWheel {
  readonly #clock: Clock
  readonly #resolution: number
  readonly #buckets = new Map<number, Expirable[]>()
  /** Bucket keys ascending; new keys are almost always the largest, so insertion is near O(1). */
  readonly #keys: number[] = []
  #timer: TimerHandle | undefined
  #armedFor = Infinity

  constructor(clock: Clock, resolutionMs = DEADLINE_RESOLUTION_MS) {
    this.#clock = clock
    this.#resolution = resolutionMs
  }

  /** Entries still pending (a walk over the buckets: for stats, not hot paths). */
  get size(): number {
    let n = 0
    for (const b of this.#buckets.values()) for (const e of b) if (!e.settled) n++
    return n
  }

  add(entry: Expirable, deadline: number): void {
    const key = Math.ceil(deadline / this.#resolution)
    const bucket = this.#buckets.get(key)
    if (bucket !== undefined) {
      bucket.push(entry)
      return
    }
    this.#buckets.set(key, [entry])
    let i = this.#keys.length
    while (i > 0 && this.#keys[i - 1]! > key) i--
    this.#keys.splice(i, 0, key)
    if (i === 0) this.#arm()
  }

  /** Fails everything still pending with `error` (the owner stops) and cancels the timer. */
  abandonAll(error: MicaError): void {
    this.#timer?.cancel()
    this.#timer = undefined
    this.#armedFor = Infinity
    const buckets = [...this.#buckets.values()]
    this.#buckets.clear()
    this.#keys.length = 0
    for (const bucket of buckets) for (const e of bucket) if (!e.settled) e.abandon(error)
  }

  #arm(): void {
    const first = this.#keys[0]
    if (first === undefined) return
    if (first >= this.#armedFor && this.#timer !== undefined) return
    this.#timer?.cancel()
    this.#armedFor = first
    const delay = Math.max(0, first * this.#resolution - this.#clock.now())
    this.#timer = this.#clock.setTimeout(this.#fire, delay)
  }

  readonly #fire = (): void => {
    this.#timer = undefined
    this.#armedFor = Infinity
    const nowKey = Math.floor(this.#clock.now() / this.#resolution)
    while (this.#keys.length > 0 && this.#keys[0]! <= nowKey) {
      const key = this.#keys.shift()!
      const bucket = this.#buckets.get(key)!
      this.#buckets.delete(key)
      for (const e of bucket) if (!e.settled) e.expire()
    }
    this.#arm()
  }
}
