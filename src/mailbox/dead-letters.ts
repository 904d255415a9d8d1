/**
 * Dead letters: messages that could not be delivered or were dropped. Observable per kernel; a
 * listener that throws is isolated (it never breaks delivery of the next dead letter).
 */
import type { WireError } from '../errors.ts'

export type DeadLetterReason =
  | 'rejected'
  | 'dropped-newest'
  | 'dropped-oldest'
  | 'actor-stopped'
  | 'kind-not-found'
  | 'handler-not-found'
  | 'handler-error'
  | 'decode-failed'
  | 'expired'
  | 'kernel-stopped'
  | 'worker-overloaded'

export interface DeadLetter {
  /** Target address `kind/id`. */
  readonly to: string
  readonly handler: string
  readonly reason: DeadLetterReason
  /** The message, decoded when it was available as a value (undefined when it could not be decoded). */
  readonly message: unknown
  /** Whether it was an ask (whose caller was answered with `error`). */
  readonly ask: boolean
  readonly error?: WireError
}

export type DeadLetterListener = (letter: DeadLetter) => void

export class DeadLetters {
  readonly #listeners = new Set<DeadLetterListener>()
  #count = 0

  get count(): number {
    return this.#count
  }

  get observed(): boolean {
    return this.#listeners.size > 0
  }

  subscribe(listener: DeadLetterListener): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  publish(letter: DeadLetter): void {
    this.#count++
    for (const listener of this.#listeners) {
      try {
        listener(letter)
      } catch {
        // a faulty listener must not stop delivery to the others
      }
    }
  }
}

/** Builds the user-facing letter; `decode` turns encoded bodies into values (undefined on failure). */
export function deadLetterOf(
  to: string,
  handler: string,
  reason: DeadLetterReason,
  ask: boolean,
  message: unknown,
  error: WireError | undefined,
): DeadLetter {
  return error === undefined
    ? { to, handler, reason, message, ask }
    : { to, handler, reason, message, ask, error }
}
