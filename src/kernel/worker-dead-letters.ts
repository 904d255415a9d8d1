/**
 * WorkerDeadLetters: how the main thread reports the messages of worker-hosted actors that reached
 * no handler: dead frames a worker sends (its mailbox refused or dropped one), an actor's own send
 * whose target could not be resolved, and sends refused because a worker's backlog was full. Bodies
 * stay bytes until someone listens: they are decoded only when the dead-letter stream is observed.
 */
import { ErrorCode, MicaError, TooManyRequestsError } from '../errors.ts'
import type { CodecTable } from '../codec/table.ts'
import { deadLetterOf, type DeadLetterReason, type DeadLetters } from '../mailbox/dead-letters.ts'
import type { DeadFrame } from './frames.ts'

export class WorkerDeadLetters {
  readonly #letters: DeadLetters
  readonly #codecs: CodecTable

  constructor(letters: DeadLetters, codecs: CodecTable) {
    this.#letters = letters
    this.#codecs = codecs
  }

  /** A dead frame from a worker. */
  fromFrame(f: DeadFrame): void {
    const [, to, h, reason, ask, e, ct, b] = f
    const error = e === null ? undefined : MicaError.fromWire(e)
    this.#publish(to, h, reason as DeadLetterReason, ask, error, ct, b)
  }

  /** An actor's send that could not be routed (`error` says why: no such kind, handler, or a stop). */
  unrouted(to: string, handler: string, error: MicaError, ct: string | null, bytes: Uint8Array | null): void {
    this.#publish(to, handler, reasonOf(error), false, error, ct, bytes)
  }

  /** A send refused because the worker's backlog is full. */
  overloaded(to: string, handler: string, msg: unknown): void {
    const error = new TooManyRequestsError(ErrorCode.MAILBOX_FULL, 'worker backlog full')
    this.#letters.publish(deadLetterOf(to, handler, 'worker-overloaded', false, msg, error.toWire()))
  }

  #publish(
    to: string,
    handler: string,
    reason: DeadLetterReason,
    ask: boolean,
    error: MicaError | undefined,
    ct: string | null,
    bytes: Uint8Array | null,
  ): void {
    let message: unknown
    if (this.#letters.observed && bytes !== null) {
      try {
        message = this.#codecs.get(ct ?? undefined).decode(bytes)
      } catch {
        message = undefined
      }
    }
    this.#letters.publish(deadLetterOf(to, handler, reason, ask, message, error?.toWire()))
  }
}

function reasonOf(error: MicaError): DeadLetterReason {
  if (error.code === ErrorCode.HANDLER_NOT_FOUND) return 'handler-not-found'
  if (error.code === ErrorCode.KERNEL_STOPPED) return 'kernel-stopped'
  return 'kind-not-found'
}
