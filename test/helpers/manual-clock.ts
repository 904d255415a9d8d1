/**
 * A Clock driven by hand: time moves only through `advance(ms)`, which fires every due timer in time
 * order (ties in the order they were set) with `now()` equal to the timer's due time while it runs.
 * Timers set while advancing fire in the same advance when they fall due within it.
 */
import type { Clock, TimerHandle } from '../../src/clock.ts'

interface Timer {
  readonly at: number
  readonly seq: number
  readonly fn: () => void
}

export class ManualClock implements Clock {
  #now: number
  #seq = 0
  readonly #timers = new Set<Timer>()

  constructor(start = 0) {
    this.#now = start
  }

  now(): number {
    return this.#now
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: Timer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn }
    this.#timers.add(timer)
    return { cancel: () => this.#timers.delete(timer) }
  }

  /** Timers set and neither fired nor cancelled. */
  get pending(): number {
    return this.#timers.size
  }

  /** Moves time forward by `ms`, firing due timers earliest first. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`advance needs a non-negative duration, got ${ms}`)
    const until = this.#now + ms
    for (let timer = this.#next(until); timer !== undefined; timer = this.#next(until)) {
      this.#timers.delete(timer)
      this.#now = timer.at
      timer.fn()
    }
    this.#now = until
  }

  #next(until: number): Timer | undefined {
    let best: Timer | undefined
    for (const t of this.#timers) {
      if (t.at > until) continue
      if (best === undefined || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t
    }
    return best
  }
}
