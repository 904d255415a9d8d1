/**
 * Client options: per-call options (Go Micro's `client.CallOption`s) and the client's defaults, with
 * the retry policy's building blocks. By default a call is retried only when it provably reached no
 * handler (the node could not be reached, was stopping, or refused it at the door): a handler's
 * outcome, a timeout or a connection lost mid-call is final unless `retryOn` says otherwise.
 */
import { BadRequestError, ErrorCode, noHandlerRan, type MicaError } from '../errors.ts'
import type { Metadata } from '../actors/types.ts'
import type { Filter, Strategy } from '../registry/selector.ts'
import type { CircuitBreakerOptions } from './breaker.ts'
import type { BulkheadOptions } from './bulkhead.ts'

/** What `retryOn` is told about a failed attempt. */
export interface RetryInfo {
  /** 0 for the first attempt. */
  readonly attempt: number
  /** False only when the error proves no handler ran (see `reachedNoHandler`). */
  readonly reachedHandler: boolean
}

export type RetryOn = (error: MicaError, info: RetryInfo) => boolean
/** ms to wait before retry `attempt` (1 for the first retry). */
export type Backoff = (attempt: number) => number

export interface SelectCallOptions {
  /** Applied in order to the service's records (e.g. `byVersion('1.2.0')`). */
  filters?: readonly Filter[]
  /** Picks among the nodes left, instead of the selector's strategy. */
  strategy?: Strategy
}

export interface CallOptions {
  /** ms for the whole call, retries included (default: the remaining deadline in a handler, else 5 s). */
  timeout?: number
  /** Further attempts after the first (default 1, as Go Micro). */
  retries?: number
  /** ms before each retry: a number (doubling from there) or a function of the retry number. */
  backoff?: number | Backoff
  retryOn?: RetryOn
  selectOptions?: SelectCallOptions
  contentType?: string
  metadata?: Metadata
  signal?: AbortSignal
  /** A keyed actor's id: the call goes to `Kind/id` on the node the key maps to. */
  id?: string
  /** Receives the metadata the handler sent back with its reply (`replyMetadata`), if any. */
  onReplyMetadata?: (metadata: Metadata) => void
}

export interface ClientOptions {
  /** Defaults of every call (each call's own options win). */
  timeout?: number
  retries?: number
  backoff?: number | Backoff
  retryOn?: RetryOn
  /** How long a service's nodes, once looked up, are reused (default 1,000 ms). */
  cacheTtlMs?: number
  /** A circuit breaker per node (off unless given). */
  breaker?: CircuitBreakerOptions
  /** At most this many calls in flight per service (off unless given). */
  bulkhead?: BulkheadOptions
}

export const DEFAULT_CALL_RETRIES = 1
export const DEFAULT_CALL_BACKOFF_MS = 10
export const DEFAULT_CACHE_TTL_MS = 1_000

/**
 * True when the error proves no handler ran (errors.ts `noHandlerRan`, the same rule as
 * `MicaError.retryable` with two codes more): `unavailable`, `kernel_stopped`, `mailbox_full`,
 * `actor_stopped`, `kind_not_found` or `circuit_open`, raised by the runtime — `id` `mica`, a plugin
 * family, the client's machinery, or an actor address (its mailbox was full, it had stopped). No
 * error that left a handler keeps such an id: the actor cell stamps it with its endpoint
 * `Kind.handler` (a service's handler wrappers, where they run, with the service's name), so a
 * handler's own `errors.unavailable(...)`, a refusal it rethrew, or a turn cut off by its node
 * stopping, counts as reached on whatever thread it ran. An ask whose connection dropped while it
 * was in flight, or that a stopping kernel took from a worker that had not answered, is
 * `connection_lost` (it may have run): reached; one that never left (the node could not be
 * dialled) is `unavailable`: not reached.
 */
export function reachedNoHandler(error: MicaError): boolean {
  return noHandlerRan(error)
}

export const defaultRetryOn: RetryOn = (_error, info) => !info.reachedHandler

export function backoffFn(backoff: number | Backoff | undefined): Backoff {
  if (typeof backoff === 'function') return backoff
  const base = backoff ?? DEFAULT_CALL_BACKOFF_MS
  return (attempt) => base * 2 ** (attempt - 1)
}

export function checkClientOptions(o: ClientOptions & CallOptions, what: string): void {
  const fail = (detail: string): never => {
    throw new BadRequestError(ErrorCode.INVALID_OPTIONS, `${what}: ${detail}`, 'client')
  }
  if (o.timeout !== undefined && !(Number.isFinite(o.timeout) && o.timeout > 0))
    fail('timeout must be a positive number of ms')
  if (o.retries !== undefined && !(Number.isInteger(o.retries) && o.retries >= 0))
    fail('retries must be an integer >= 0')
  if (o.backoff !== undefined && typeof o.backoff !== 'function' && !(o.backoff >= 0))
    fail('backoff must be a number of ms >= 0 or a function')
  if (o.retryOn !== undefined && typeof o.retryOn !== 'function') fail('retryOn must be a function')
  if (o.cacheTtlMs !== undefined && !(Number.isFinite(o.cacheTtlMs) && o.cacheTtlMs >= 0))
    fail('cacheTtlMs must be a number of ms >= 0')
  const b = o.breaker
  if (b !== undefined) {
    if (b.failures !== undefined && !(Number.isInteger(b.failures) && b.failures > 0))
      fail('breaker.failures must be a positive integer')
    if (b.coolDownMs !== undefined && !(Number.isFinite(b.coolDownMs) && b.coolDownMs > 0))
      fail('breaker.coolDownMs must be a positive number of ms')
  }
  if (o.bulkhead !== undefined && !(Number.isInteger(o.bulkhead.maxInFlight) && o.bulkhead.maxInFlight > 0))
    fail('bulkhead.maxInFlight must be a positive integer')
  if (o.id !== undefined && typeof o.id !== 'string') fail('id must be a string')
  if (o.onReplyMetadata !== undefined && typeof o.onReplyMetadata !== 'function')
    fail('onReplyMetadata must be a function')
}
