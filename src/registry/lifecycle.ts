/**
 * The lifecycle every registry shares: new, starting, started, stopped. Stopped is final (a registry
 * is not restarted; make a new one), and using a registry that is not running is refused with the
 * same retryable UnavailableError everywhere, so callers handle "not yet" and "no longer" alike.
 */
import { ErrorCode, UnavailableError } from '../errors.ts'

export class Lifecycle {
  #state: 'new' | 'starting' | 'started' | 'stopped' = 'new'

  constructor(readonly registry: string) {}

  get stopped(): boolean {
    return this.#state === 'stopped'
  }

  /** A start that takes time has begun (not usable yet); throws if already stopped. */
  begin(): void {
    if (this.#state === 'stopped') this.#unavailable('stopped')
    this.#state = 'starting'
  }

  /** Usable from now on; throws if stopped meanwhile. */
  start(): void {
    if (this.#state === 'stopped') this.#unavailable('stopped')
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
    throw new UnavailableError(ErrorCode.UNAVAILABLE, `registry ${this.registry} is ${why}`, 'registry')
  }
}
