/**
 * PendingAsk: the caller's side of one ask — a promise settled exactly once by the reply, the
 * deadline wheel (timeout), the caller's AbortSignal, or the kernel (worker crash, stop).
 */
import { AbortedError, ErrorCode, TimeoutError, type MicaError } from '../errors.ts'
import type { Reply } from '../actors/delivery.ts'
import { DeadlineEntry } from './deadlines.ts'

export class PendingAsk extends DeadlineEntry implements Reply {
  settled = false
  readonly promise: Promise<unknown>
  readonly #target: string
  #resolve!: (value: unknown) => void
  #reject!: (error: MicaError) => void
  #signal: AbortSignal | undefined
  #onAbort: (() => void) | undefined

  constructor(target: string, signal?: AbortSignal) {
    super()
    this.#target = target
    this.promise = new Promise<unknown>((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
    })
    if (signal !== undefined) {
      this.#signal = signal
      this.#onAbort = () => this.fail(new AbortedError(ErrorCode.ABORTED, `ask to ${this.#target} aborted`))
      signal.addEventListener('abort', this.#onAbort, { once: true })
    }
  }

  ok(value: unknown): void {
    if (this.settled) return
    this.#settle()
    this.#resolve(value)
  }

  fail(error: MicaError): void {
    if (this.settled) return
    this.#settle()
    this.#reject(error)
  }

  abandon(error: MicaError): void {
    this.fail(error)
  }

  expire(): void {
    this.fail(new TimeoutError(ErrorCode.TIMEOUT, `ask to ${this.#target} timed out`))
  }

  /** Subclasses forget their correlation id here. */
  protected settling(): void {}

  #settle(): void {
    this.settled = true
    this.unlink()
    if (this.#signal !== undefined) this.#signal.removeEventListener('abort', this.#onAbort!)
    this.settling()
  }
}
