/**
 * The backoff waits between a client's attempts. Each belongs to the client: `stop()` ends them
 * at once (the call fails with `kernel_stopped`, and no timer outlives the service), and a call's
 * `AbortSignal` ends its own wait (the call fails with `aborted` then, not after the backoff).
 */
import { AbortedError, ErrorCode, UnavailableError } from '../errors.ts'
import type { Clock, TimerHandle } from '../clock.ts'

interface Wait {
  readonly timer: TimerHandle
  end(error: Error): void
}

export class Waits {
  readonly #clock: Clock
  readonly #pending = new Set<Wait>()
  #stopped = false

  constructor(clock: Clock) {
    this.#clock = clock
  }

  get size(): number {
    return this.#pending.size
  }

  /** Resolves after `ms`; rejects when the client stops or `signal` aborts first. */
  wait(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.#stopped) return Promise.reject(stoppedError())
    if (signal?.aborted === true) return Promise.reject(abortedError())
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => wait.end(abortedError())
      const settle = (): void => {
        this.#pending.delete(wait)
        signal?.removeEventListener('abort', onAbort)
      }
      const wait: Wait = {
        timer: this.#clock.setTimeout(() => {
          settle()
          resolve()
        }, ms),
        end: (error) => {
          wait.timer.cancel()
          settle()
          reject(error)
        },
      }
      this.#pending.add(wait)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  /** Ends every wait (their calls fail with `kernel_stopped`); later waits fail at once. Idempotent. */
  stop(): void {
    this.#stopped = true
    for (const w of [...this.#pending]) w.end(stoppedError())
  }
}

function stoppedError(): UnavailableError {
  return new UnavailableError(ErrorCode.KERNEL_STOPPED, 'the client stopped during a backoff', 'client')
}

function abortedError(): AbortedError {
  return new AbortedError(ErrorCode.ABORTED, 'call aborted during a backoff', 'client')
}
