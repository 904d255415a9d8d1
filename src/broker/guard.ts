/**
 * What every broker implementation shares: its lifecycle (new, started, stopped; stopped is final)
 * and the guard that runs handlers, so one failing handler is reported and counted the same way
 * everywhere and never ends its subscription.
 */
import { ErrorCode, UnavailableError } from '../errors.ts'
import type { BrokerErrorHandler, BrokerHandler, BrokerMessage } from './broker.ts'

const warn: BrokerErrorHandler = (error, message) => {
  console.warn(`mica broker: a handler for "${message.topic}" failed:`, error)
}

export class BrokerGuard {
  #state: 'new' | 'starting' | 'started' | 'stopped' = 'new'
  #errors = 0
  readonly #onError: BrokerErrorHandler

  constructor(
    readonly broker: string,
    onError: BrokerErrorHandler | undefined,
  ) {
    this.#onError = onError ?? warn
  }

  get errors(): number {
    return this.#errors
  }

  get live(): boolean {
    return this.#state === 'started'
  }

  /** Throws unless the broker is new; the caller connects, then calls `started()` or `failed()`. */
  beginStart(): void {
    if (this.#state !== 'new') this.#unavailable(this.#state === 'stopped' ? 'stopped' : 'already started')
    this.#state = 'starting'
  }

  /** A start that could not connect may be tried again (unless stop came meanwhile). */
  failed(): void {
    if (this.#state === 'starting') this.#state = 'new'
  }

  /** Usable from now on; false when stop came first (the caller then releases what it opened). */
  started(): boolean {
    if (this.#state === 'stopped') return false
    this.#state = 'started'
    return true
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

  /** Runs `handler`; a throw or a rejection is reported and counted, never rethrown. */
  run(handler: BrokerHandler, message: BrokerMessage): void {
    try {
      const result = handler(message)
      if (result instanceof Promise) result.catch((error: unknown) => this.#fail(error, message))
    } catch (error) {
      this.#fail(error, message)
    }
  }

  #fail(error: unknown, message: BrokerMessage): void {
    this.#errors++
    try {
      this.#onError(error, message)
    } catch {
      // A failing error hook must not take the delivery loop down with it; the count still holds.
    }
  }

  #unavailable(why: string): never {
    throw new UnavailableError(ErrorCode.UNAVAILABLE, `broker ${this.broker} is ${why}`, 'broker')
  }
}
