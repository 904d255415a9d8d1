/**
 * AskRetries: what becomes of a remote ask's failed attempt (./remote.ts). A failure that proves no
 * handler ran is retried after a backoff (doubling), up to `retries` times within the deadline:
 * placed again, so on another node when the node itself was the problem (it is marked down), or
 * here when this node hosts the kind now. The ask keeps its one promise, its deadline (the wheel)
 * and its signal across attempts; everything else is final.
 */
import type { Clock } from '../clock.ts'
import { ErrorCode, MicaError } from '../errors.ts'
import type { Address } from './address.ts'
import type { EncodedMessage } from './local.ts'
import type { Where } from './placement.ts'
import type { AskRetrier, RemoteAsk } from './remote-wire.ts'

export interface RetryHost {
  readonly clock: Clock
  readonly retries: number
  readonly backoffMs: number
  markDown(nodeId: string): void
  /** Drops an attempt's correlation id: a late answer to it finds nothing. */
  forget(id: number): void
  place(to: Address): Where | Promise<Where>
  askHere(to: Address, msg: EncodedMessage, deadline: number): Promise<unknown>
  /** Sends the ask's current attempt. */
  launch(ask: RemoteAsk): void
}

export class AskRetries implements AskRetrier {
  readonly #h: RetryHost

  constructor(host: RetryHost) {
    this.#h = host
  }

  /** Takes a failed attempt over when it may be retried: true when it did. */
  retry(ask: RemoteAsk, error: MicaError): boolean {
    const h = this.#h
    const backoff = h.backoffMs * 2 ** ask.retried
    if (
      !error.retryable ||
      ask.retried >= h.retries ||
      ask.signal?.aborted ||
      h.clock.now() + backoff >= ask.deadline
    ) {
      return false
    }
    if (error.code === ErrorCode.UNAVAILABLE || error.code === ErrorCode.KERNEL_STOPPED) {
      h.markDown(ask.node.id)
    }
    h.forget(ask.id)
    ask.retried++
    h.clock.setTimeout(() => this.#again(ask), backoff)
    return true
  }

  #again(ask: RemoteAsk): void {
    if (ask.settled) return
    let next: Where | Promise<Where>
    try {
      next = this.#h.place(ask.to)
    } catch (err) {
      this.#giveUp(ask, err)
      return
    }
    if (next instanceof Promise) {
      next.then(
        (where) => this.#resume(ask, where),
        (err: unknown) => this.#giveUp(ask, err),
      )
    } else {
      this.#resume(ask, next)
    }
  }

  #resume(ask: RemoteAsk, where: Where): void {
    if (ask.settled) return
    if (where === 'local') {
      ask.final()
      this.#h.askHere(ask.to, ask.msg, ask.deadline).then(
        (value) => ask.ok(value),
        (err: unknown) => ask.fail(MicaError.from(err)),
      )
      return
    }
    ask.node = where
    ask.peer = where.address
    this.#h.launch(ask)
  }

  #giveUp(ask: RemoteAsk, err: unknown): void {
    ask.final()
    ask.fail(MicaError.from(err))
  }
}
