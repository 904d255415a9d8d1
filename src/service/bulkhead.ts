/**
 * A bulkhead per service (client side): at most `maxInFlight` calls to one service at a time; a call
 * over the limit is refused at once with a 429 (`bulkhead_full`), so one slow service cannot take
 * every caller's capacity with it. Nothing queues: the caller decides whether to try again.
 */
import { ErrorCode, TooManyRequestsError } from '../errors.ts'

export interface BulkheadOptions {
  /** Calls in flight to one service at most. */
  maxInFlight: number
}

export class Bulkheads {
  readonly #max: number
  readonly #inFlight = new Map<string, number>()

  constructor(options: BulkheadOptions) {
    this.#max = options.maxInFlight
  }

  inFlight(service: string): number {
    return this.#inFlight.get(service) ?? 0
  }

  /** Takes a slot (or throws 429); the returned function gives it back, once. */
  acquire(service: string): () => void {
    const n = this.inFlight(service)
    if (n >= this.#max) {
      throw new TooManyRequestsError(
        ErrorCode.BULKHEAD_FULL,
        `${service}: ${n} calls in flight, the bulkhead allows ${this.#max}`,
        'client',
      )
    }
    this.#inFlight.set(service, n + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      const left = this.inFlight(service) - 1
      if (left <= 0) this.#inFlight.delete(service)
      else this.#inFlight.set(service, left)
    }
  }
}
