/**
 * Options of the NATS transport (the connection's, from src/nats/connection.ts, the shared transport
 * ones, and its own), and its addresses: `nats:<token>`, token `[A-Za-z0-9_-]{1,64}`, the node's
 * inbox subject being `<subjectPrefix>.<token>`.
 */
import { randomBytes } from 'node:crypto'
import { BadRequestError, ErrorCode } from '../errors.ts'
import type { NatsConnectionOptions } from '../nats/connection.ts'
import { positiveOption, resolveCommonOptions, type CommonTransportOptions } from './options.ts'
import type { NatsPeerOptions } from './nats-peer.ts'

export const DEFAULT_SUBJECT_PREFIX = 'mica.node'
export const DEFAULT_NATS_HEARTBEAT_MS = 5_000
/** A peer silent for this long is down (default 3 heartbeats). */
export const DEFAULT_NATS_HEARTBEAT_TIMEOUT_FACTOR = 3
export const DEFAULT_HELLO_TIMEOUT_MS = 2_000

/**
 * The connection's options (servers, credentials, an adopted `connection`, ...) beside the shared
 * transport ones. `reconnect` is the peers' backoff (CommonTransportOptions): the NATS connection
 * itself always reconnects, so its boolean `reconnect` is not offered here.
 */
export interface NatsTransportOptions
  extends Omit<NatsConnectionOptions, 'reconnect'>, CommonTransportOptions {
  /** Subjects of node inboxes are `<subjectPrefix>.<token>` (default `mica.node`). */
  subjectPrefix?: string
  /** Ping period (default 5 s): a peer quiet for half of it is pinged. */
  heartbeatMs?: number
  /** A peer silent this long is down (default 3 x heartbeatMs). */
  heartbeatTimeoutMs?: number
  /** How long a dial's hello request waits for the listener's answer (default 2 s). */
  helloTimeoutMs?: number
}

export interface ResolvedNatsOptions extends NatsPeerOptions {
  subjectPrefix: string
  helloTimeoutMs: number
}

const TOKEN = /^[A-Za-z0-9_-]{1,64}$/
const PREFIX = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/

export function resolveNatsOptions(options: NatsTransportOptions): ResolvedNatsOptions {
  if (options.connection === undefined && options.servers === undefined) {
    throw new BadRequestError(
      ErrorCode.INVALID_OPTIONS,
      'nats transport options: servers or connection is required',
    )
  }
  const prefix = options.subjectPrefix ?? DEFAULT_SUBJECT_PREFIX
  if (!PREFIX.test(prefix) || prefix.length > 128) {
    throw new BadRequestError(
      ErrorCode.INVALID_OPTIONS,
      `nats transport options: subjectPrefix must be dot-separated [A-Za-z0-9_-] tokens (no wildcards), got ${prefix}`,
    )
  }
  const positive = positiveOption('nats')
  const heartbeatMs = positive('heartbeatMs', options.heartbeatMs, DEFAULT_NATS_HEARTBEAT_MS)
  const heartbeatTimeoutMs = positive(
    'heartbeatTimeoutMs',
    options.heartbeatTimeoutMs,
    DEFAULT_NATS_HEARTBEAT_TIMEOUT_FACTOR * heartbeatMs,
  )
  if (heartbeatTimeoutMs <= heartbeatMs) {
    throw new BadRequestError(
      ErrorCode.INVALID_OPTIONS,
      `nats transport options: heartbeatTimeoutMs (${heartbeatTimeoutMs}) must exceed heartbeatMs (${heartbeatMs})`,
    )
  }
  return {
    ...resolveCommonOptions('nats', options),
    subjectPrefix: prefix,
    heartbeatMs,
    heartbeatTimeoutMs,
    helloTimeoutMs: positive('helloTimeoutMs', options.helloTimeoutMs, DEFAULT_HELLO_TIMEOUT_MS),
  }
}

/** The token of `nats:<token>` (`0` asks listen for a fresh one). */
export function parseNatsAddress(address: string): string {
  const token = address.startsWith('nats:') ? address.slice(5) : ''
  if (!TOKEN.test(token)) {
    throw new BadRequestError(
      ErrorCode.INVALID_ADDRESS,
      `nats transport address must be nats:<token>, token [A-Za-z0-9_-]{1,64}, got ${address}`,
    )
  }
  return token
}

/** A token nobody else picks: 16 random base64url characters. */
export function randomToken(): string {
  return randomBytes(12).toString('base64url')
}

/** The token of a subject `<prefix>.<token>`, or undefined for any other subject. */
export function subjectToken(prefix: string, subject: string): string | undefined {
  if (subject.length <= prefix.length + 1 || !subject.startsWith(prefix) || subject[prefix.length] !== '.')
    return undefined
  const token = subject.slice(prefix.length + 1)
  return TOKEN.test(token) ? token : undefined
}
