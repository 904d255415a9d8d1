/**
 * Options every transport shares (limits, reconnect backoff, time, logging), their defaults and
 * their validation. Defaults come from a function returning a fresh object; the caller's object is
 * never written to.
 */
import { BadRequestError, ErrorCode } from '../errors.ts'
import { systemClock, type Clock } from '../clock.ts'
import type { TransportLogger } from './transport.ts'

export const DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024
/** Four maximal frames: a burst can wait out a slow reader without refusing the next frame. */
export const DEFAULT_MAX_QUEUED_BYTES = 16 * 1024 * 1024
export const DEFAULT_RECONNECT_INITIAL_MS = 100
export const DEFAULT_RECONNECT_MAX_MS = 5_000

export interface ReconnectOptions {
  /** First delay after a connection drops (ms); doubles per failed attempt. */
  initialMs?: number
  /** Ceiling of the delay (ms). */
  maxMs?: number
}

export interface CommonTransportOptions {
  /** Largest encoded envelope, sent or received (default 4 MiB). */
  maxFrameBytes?: number
  /** Per-peer bound of bytes waiting to be written (default 16 MiB); beyond it `send` returns false. */
  maxQueuedBytes?: number
  reconnect?: ReconnectOptions
  logger?: TransportLogger
  clock?: Clock
  /** Jitter source for the backoff, in [0, 1) (default Math.random). */
  random?: () => number
}

export interface ResolvedCommonOptions {
  maxFrameBytes: number
  maxQueuedBytes: number
  reconnectInitialMs: number
  reconnectMaxMs: number
  logger: TransportLogger
  clock: Clock
  random: () => number
}

export function consoleLogger(): TransportLogger {
  return { warn: (message) => console.warn(`[mica] ${message}`) }
}

export type OptionCheck = (name: string, value: number | undefined, fallback: number) => number

/** A checker of positive integer options that names the transport in its messages. */
export function positiveOption(transport: string): OptionCheck {
  return (name, value, fallback) => {
    if (value === undefined) return fallback
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new BadRequestError(
        ErrorCode.INVALID_OPTIONS,
        `${transport} transport options: ${name} must be a positive integer, got ${String(value)}`,
      )
    }
    return value
  }
}

export function resolveCommonOptions(
  transport: string,
  options: CommonTransportOptions,
): ResolvedCommonOptions {
  const positive = positiveOption(transport)
  const resolved: ResolvedCommonOptions = {
    maxFrameBytes: positive('maxFrameBytes', options.maxFrameBytes, DEFAULT_MAX_FRAME_BYTES),
    maxQueuedBytes: positive('maxQueuedBytes', options.maxQueuedBytes, DEFAULT_MAX_QUEUED_BYTES),
    reconnectInitialMs: positive(
      'reconnect.initialMs',
      options.reconnect?.initialMs,
      DEFAULT_RECONNECT_INITIAL_MS,
    ),
    reconnectMaxMs: positive('reconnect.maxMs', options.reconnect?.maxMs, DEFAULT_RECONNECT_MAX_MS),
    logger: options.logger ?? consoleLogger(),
    clock: options.clock ?? systemClock,
    random: options.random ?? Math.random,
  }
  // a frame that can never fit in the queue could never be sent
  if (resolved.maxQueuedBytes < resolved.maxFrameBytes + 4) {
    throw new BadRequestError(
      ErrorCode.INVALID_OPTIONS,
      `${transport} transport options: maxQueuedBytes (${resolved.maxQueuedBytes}) must hold one frame of maxFrameBytes (${resolved.maxFrameBytes}) + 4`,
    )
  }
  return resolved
}

/**
 * Delay before reconnect attempt `attempt` (0 = first): exponential and capped, with jitter in
 * [50%, 100%] so the peers of a restarted node do not all dial it in the same instant.
 */
export function backoffDelay(options: ResolvedCommonOptions, attempt: number): number {
  const ceiling = Math.min(options.reconnectMaxMs, options.reconnectInitialMs * 2 ** Math.min(attempt, 30))
  return Math.max(1, Math.round(ceiling * (0.5 + options.random() / 2)))
}

/** Drops a closed peer from its transport's tables (an inbound one, or the dialed one for its address). */
export function forgetPeer<P extends { readonly inbound: boolean; readonly address: string }>(
  inbound: Set<P>,
  dialed: Map<string, P>,
  peer: P,
): void {
  if (peer.inbound) inbound.delete(peer)
  else if (dialed.get(peer.address) === peer) dialed.delete(peer.address)
}
