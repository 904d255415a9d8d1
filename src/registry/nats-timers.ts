/**
 * The nats registry's timers (heartbeats, the sweep, waits), all cancelled at once at stop. On the
 * system clock they are unref'd, so a registry's own upkeep never keeps a process alive; on another
 * clock (a test's manual clock) they are that clock's.
 */
import { systemClock, type Clock, type TimerHandle } from '../clock.ts'

export class Timers {
  readonly #clock: Clock
  readonly #live = new Set<TimerHandle>()

  constructor(clock: Clock) {
    this.#clock = clock
  }

  after(ms: number, fn: () => void): TimerHandle {
    let inner: TimerHandle
    const tracked: TimerHandle = {
      cancel: () => {
        inner.cancel()
        this.#live.delete(tracked)
      },
    }
    const run = (): void => {
      this.#live.delete(tracked)
      fn()
    }
    if (this.#clock === systemClock) {
      const timer = setTimeout(run, ms)
      timer.unref()
      inner = { cancel: () => clearTimeout(timer) }
    } else inner = this.#clock.setTimeout(run, ms)
    this.#live.add(tracked)
    return tracked
  }

  /** `fn` every `ms` until cancelAll. */
  every(ms: number, fn: () => void): void {
    this.after(ms, () => {
      fn()
      this.every(ms, fn)
    })
  }

  cancelAll(): void {
    for (const timer of [...this.#live]) timer.cancel()
  }
}
