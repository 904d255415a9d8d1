/**
 * The lifecycle plugins share: new, (starting,) started, stopped. Stopped is final (make a new
 * instance to reopen), and using one that is not running is refused with the same retryable
 * UnavailableError everywhere (`<family> <name> is stopped`), so callers handle "not yet" and
 * "no longer" alike.
 */
import { ErrorCode, UnavailableError } from './errors.ts'

export class Lifecycle {
  #state: 'new' | 'starting' | 'started' | 'stopped' = 'new'
  readonly #family: string
  readonly #name: string
  readonly #startOnce: boolean

  /** `startOnce`: a second `start()` is refused (a journal owns storage); else it is a no-op. */
  constructor(family: string, name: string, startOnce = false) {
    this.#family = family
    this.#name = name
    this.#startOnce = startOnce
  }

  get stopped(): boolean {
    return this.#state === 'stopped'
  }

  /** A start that takes time has begun (not usable yet); throws if already stopped. */
  begin(): void {
    if (this.#state === 'stopped') this.#unavailable('stopped')
    this.#state = 'starting'
  }

  /** Usable from now on; throws if stopped meanwhile (or, with `startOnce`, if started before). */
  start(): void {
    if (this.#state === 'stopped') this.#unavailable('stopped')
    if (this.#startOnce && this.#state === 'started') this.#unavailable('already started')
    this.#state = 'started'
  }

  /** True the first time only: the caller tears down once. */
  stop(): boolean {
    if (this.#state === 'stopped') return false
    this.#state = 'stopped'
    return true
  }

  assertLive(): void {
    if (this.#state !== 'started') this.#unavailable(this.#state === 'stopped' ? 'stopped' : 'not started')
  }

  #unavailable(why: string): never {
    throw new UnavailableError(ErrorCode.UNAVAILABLE, `${this.#family} ${this.#name} is ${why}`, this.#family)
  }
}
