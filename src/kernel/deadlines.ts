/**
 * DeadlineWheel: one timer for all pending asks instead of one `setTimeout` each (a timer per ask
 * costs more than the ask itself). Deadlines fall into buckets of `resolutionMs`; each bucket is an
 * intrusive doubly linked list, so an entry that settles unlinks itself in O(1) and becomes garbage
 * at once (holding settled asks until their bucket fires made the old generation grow and GC dominate).
 */
import type { Clock, TimerHandle } from '../clock.ts'
import type { MicaError } from '../errors.ts'

export const DEADLINE_RESOLUTION_MS = 5

interface Bucket {
  head: DeadlineEntry | undefined
}

/** Something with a deadline: extend it, call `unlink()` when settled. */
export abstract class DeadlineEntry {
  /** @internal */ wheelPrev: DeadlineEntry | undefined = undefined
  /** @internal */ wheelNext: DeadlineEntry | undefined = undefined
  /** @internal */ wheelBucket: Bucket | undefined = undefined

  abstract readonly settled: boolean
  /** The deadline passed. */
  abstract expire(): void
  /** The owner is stopping: fail with `error`. */
  abstract abandon(error: MicaError): void

  /** Leaves the wheel (call when settled). */
  unlink(): void {
    const bucket = this.wheelBucket
    if (bucket === undefined) return
    if (this.wheelPrev !== undefined) this.wheelPrev.wheelNext = this.wheelNext
    else bucket.head = this.wheelNext
    if (this.wheelNext !== undefined) this.wheelNext.wheelPrev = this.wheelPrev
    this.wheelPrev = this.wheelNext = this.wheelBucket = undefined
  }
}

export class DeadlineWheel {
  readonly #clock: Clock
  readonly #resolution: number
  readonly #buckets = new Map<number, Bucket>()
  /** Bucket keys ascending; new keys are almost always the largest, so insertion is near O(1). */
  readonly #keys: number[] = []
  #timer: TimerHandle | undefined
  #armedFor = Infinity

  constructor(clock: Clock, resolutionMs = DEADLINE_RESOLUTION_MS) {
    this.#clock = clock
    this.#resolution = resolutionMs
  }

  /** Entries still pending (a walk: for stats, not hot paths). */
  get size(): number {
    let n = 0
    for (const b of this.#buckets.values()) for (let e = b.head; e !== undefined; e = e.wheelNext) n++
    return n
  }

  add(entry: DeadlineEntry, deadline: number): void {
    const key = Math.ceil(deadline / this.#resolution)
    let bucket = this.#buckets.get(key)
    if (bucket === undefined) {
      bucket = { head: undefined }
      this.#buckets.set(key, bucket)
      let i = this.#keys.length
      while (i > 0 && this.#keys[i - 1]! > key) i--
      this.#keys.splice(i, 0, key)
      if (i === 0) this.#arm()
    }
    entry.wheelBucket = bucket
    entry.wheelNext = bucket.head
    if (bucket.head !== undefined) bucket.head.wheelPrev = entry
    bucket.head = entry
  }

  /** Fails everything still pending with `error` (the owner stops) and cancels the timer. */
  abandonAll(error: MicaError): void {
    this.#timer?.cancel()
    this.#timer = undefined
    this.#armedFor = Infinity
    const buckets = [...this.#buckets.values()]
    this.#buckets.clear()
    this.#keys.length = 0
    for (const bucket of buckets) for (const e of take(bucket)) if (!e.settled) e.abandon(error)
  }

  #arm(): void {
    const first = this.#keys[0]
    if (first === undefined) return
    if (first >= this.#armedFor && this.#timer !== undefined) return
    this.#timer?.cancel()
    this.#armedFor = first
    const delay = Math.max(0, first * this.#resolution - this.#clock.now())
    this.#timer = this.#clock.setTimeout(() => this.#fire(), delay)
  }

  #fire(): void {
    this.#timer = undefined
    this.#armedFor = Infinity
    const nowKey = Math.floor(this.#clock.now() / this.#resolution)
    while (this.#keys.length > 0 && this.#keys[0]! <= nowKey) {
      const key = this.#keys.shift()!
      const bucket = this.#buckets.get(key)!
      this.#buckets.delete(key)
      for (const e of take(bucket)) if (!e.settled) e.expire()
    }
    this.#arm()
  }
}

/** Detaches every entry of a bucket (so expiring one cannot disturb the walk). */
function take(bucket: Bucket): DeadlineEntry[] {
  const out: DeadlineEntry[] = []
  for (let e = bucket.head; e !== undefined;) {
    const next = e.wheelNext
    e.wheelPrev = e.wheelNext = e.wheelBucket = undefined
    out.push(e)
    e = next
  }
  bucket.head = undefined
  return out
}
