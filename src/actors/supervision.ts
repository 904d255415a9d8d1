/**
 * Supervision per kind: what a fault (a handler that throws a non-client error, or a turn that
 * outlives `turnTimeoutMs`) does to the actor. `resume` keeps the state, `restart` rebuilds it
 * (after a backoff; the mailbox waits), `stop` ends the activation and dead-letters its mailbox.
 * Restarts beyond the budget (`maxRestarts` within `withinMs`) become a stop. A MicaError with a
 * status below 500 thrown by a handler is a business answer, not a fault: it is replied and nothing else.
 */
export type Directive = 'resume' | 'restart' | 'stop'
export type Decider = (error: unknown) => Directive

export interface BackoffOptions {
  initialMs?: number
  maxMs?: number
  factor?: number
}

export interface SupervisionOptions {
  directive?: Directive | Decider
  maxRestarts?: number
  withinMs?: number
  backoff?: BackoffOptions
}

export const DEFAULT_DIRECTIVE: Directive = 'restart'
export const DEFAULT_MAX_RESTARTS = 10
export const DEFAULT_RESTART_WINDOW_MS = 60_000
export const DEFAULT_BACKOFF_INITIAL_MS = 10
export const DEFAULT_BACKOFF_MAX_MS = 2_000
export const DEFAULT_BACKOFF_FACTOR = 2

/** The resolved policy of one kind. */
export class Supervisor {
  readonly #decide: Decider
  readonly #maxRestarts: number
  readonly #withinMs: number
  readonly #initialMs: number
  readonly #maxMs: number
  readonly #factor: number

  constructor(options: SupervisionOptions = {}) {
    const d = options.directive ?? DEFAULT_DIRECTIVE
    this.#decide = typeof d === 'function' ? d : () => d
    this.#maxRestarts = options.maxRestarts ?? DEFAULT_MAX_RESTARTS
    this.#withinMs = options.withinMs ?? DEFAULT_RESTART_WINDOW_MS
    this.#initialMs = options.backoff?.initialMs ?? DEFAULT_BACKOFF_INITIAL_MS
    this.#maxMs = options.backoff?.maxMs ?? DEFAULT_BACKOFF_MAX_MS
    this.#factor = options.backoff?.factor ?? DEFAULT_BACKOFF_FACTOR
  }

  /** The directive for `error`; a decider that throws or answers nonsense means `stop`. */
  decide(error: unknown): Directive {
    try {
      const directive = this.#decide(error)
      return directive === 'resume' || directive === 'restart' || directive === 'stop' ? directive : 'stop'
    } catch {
      return 'stop'
    }
  }

  /**
   * Records a restart at `now` in `history` (timestamps of recent restarts, mutated) and returns the
   * backoff delay before it, or -1 when the budget is spent (the actor must stop instead).
   */
  nextRestart(history: number[], now: number): number {
    while (history.length > 0 && now - history[0]! > this.#withinMs) history.shift()
    if (history.length >= this.#maxRestarts) return -1
    const delay = Math.min(this.#maxMs, this.#initialMs * this.#factor ** history.length)
    history.push(now)
    return delay
  }
}
