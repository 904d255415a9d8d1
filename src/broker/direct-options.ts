/**
 * The direct broker's options, their defaults (named constants, a fresh object per call) and their
 * validation. The caller's object is never written to.
 */
import { randomUUID } from 'node:crypto'
import { systemClock, type Clock } from '../clock.ts'
import { BadRequestError, ErrorCode } from '../errors.ts'
import type { Registry } from '../registry/registry.ts'
import type { Transport, TransportLogger } from '../transport/transport.ts'
import type { BrokerBaseOptions, BrokerMessage } from './broker.ts'

export interface DirectBrokerOptions extends BrokerBaseOptions {
  /** Where subscriptions are recorded and found; started by its owner before `start`, stopped after `stop`. */
  registry: Registry
  /** This broker's own transport: it listens in `start` and is stopped by `stop`. */
  transport: Transport
  /** Address to listen on. Default `127.0.0.1:0` (loopback, any free port); `mem:0` for a memory transport. */
  listen?: string
  /** Address published in the registry. Default: the bound address. */
  advertise?: string
  /** This node's id in the registry, `[A-Za-z0-9_.:-]`. Default: `direct-<uuid>`. */
  nodeId?: string
  /** Registry service holding one node per direct broker. Default `mica.broker`. */
  service?: string
  /** Most messages kept for retry; when full the oldest is dropped (counted in `dropped`). Default 10,000. */
  backlog?: number
  /** First retry delay; doubles per attempt up to `retryMaxMs`. Default 100 ms. */
  retryMs?: number
  /** Ceiling of the retry delay. Default 5,000 ms. */
  retryMaxMs?: number
  /** Sends of one message to one target before it is dropped (1 = no retry). Default 5. */
  maxAttempts?: number
  /** A message older than this is dropped instead of retried. Default 30,000 ms. */
  maxAgeMs?: number
  /** A send not acknowledged within this is retried. Default 5,000 ms. */
  ackTimeoutMs?: number
  /** TTL of this node's registry record. Default 15,000 ms (as the kernel). */
  registerTtlMs?: number
  /** Re-registration period, shorter than the TTL. Default 5,000 ms. */
  registerIntervalMs?: number
  /** Called for each dropped message (backlog full, retries exhausted, refused by the receiver). Default: a warning through `logger`. */
  onDrop?: (message: BrokerMessage, reason: string) => void
  /** Warnings: bad frames received, failed registrations, drops. Default: `console.warn`. */
  logger?: TransportLogger
  /** Drives retries, ack timeouts and re-registration. Default: the system clock. */
  clock?: Clock
}

export const DEFAULT_DIRECT_SERVICE = 'mica.broker'
export const DEFAULT_DIRECT_LISTEN = '127.0.0.1:0'
export const DEFAULT_DIRECT_BACKLOG = 10_000
export const DEFAULT_DIRECT_RETRY_MS = 100
export const DEFAULT_DIRECT_RETRY_MAX_MS = 5_000
export const DEFAULT_DIRECT_MAX_ATTEMPTS = 5
export const DEFAULT_DIRECT_MAX_AGE_MS = 30_000
export const DEFAULT_DIRECT_ACK_TIMEOUT_MS = 5_000
export const DEFAULT_DIRECT_REGISTER_TTL_MS = 15_000
export const DEFAULT_DIRECT_REGISTER_INTERVAL_MS = 5_000

export type ResolvedDirectOptions = Required<Omit<DirectBrokerOptions, 'advertise' | 'onError'>> &
  Pick<DirectBrokerOptions, 'advertise' | 'onError'>

const NODE_ID = /^[A-Za-z0-9_.:-]{1,128}$/

function bad(detail: string): never {
  throw new BadRequestError(ErrorCode.INVALID_OPTIONS, `direct broker options: ${detail}`, 'broker')
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value <= 0) bad(`${name} must be a positive integer, got ${value}`)
  return value
}

export function resolveDirectOptions(o: DirectBrokerOptions): ResolvedDirectOptions {
  if (typeof o !== 'object' || o === null || !o.registry || !o.transport) {
    bad('registry and transport are required')
  }
  const logger = o.logger ?? { warn: (message: string) => console.warn(`[mica] ${message}`) }
  const nodeId = o.nodeId ?? `direct-${randomUUID()}`
  if (!NODE_ID.test(nodeId)) bad(`nodeId must match [A-Za-z0-9_.:-]{1,128}, got ${JSON.stringify(nodeId)}`)
  const resolved: ResolvedDirectOptions = {
    registry: o.registry,
    transport: o.transport,
    listen: o.listen ?? DEFAULT_DIRECT_LISTEN,
    nodeId,
    service: o.service ?? DEFAULT_DIRECT_SERVICE,
    backlog: positive('backlog', o.backlog, DEFAULT_DIRECT_BACKLOG),
    retryMs: positive('retryMs', o.retryMs, DEFAULT_DIRECT_RETRY_MS),
    retryMaxMs: positive('retryMaxMs', o.retryMaxMs, DEFAULT_DIRECT_RETRY_MAX_MS),
    maxAttempts: positive('maxAttempts', o.maxAttempts, DEFAULT_DIRECT_MAX_ATTEMPTS),
    maxAgeMs: positive('maxAgeMs', o.maxAgeMs, DEFAULT_DIRECT_MAX_AGE_MS),
    ackTimeoutMs: positive('ackTimeoutMs', o.ackTimeoutMs, DEFAULT_DIRECT_ACK_TIMEOUT_MS),
    registerTtlMs: positive('registerTtlMs', o.registerTtlMs, DEFAULT_DIRECT_REGISTER_TTL_MS),
    registerIntervalMs: positive(
      'registerIntervalMs',
      o.registerIntervalMs,
      DEFAULT_DIRECT_REGISTER_INTERVAL_MS,
    ),
    onDrop:
      o.onDrop ?? ((m, reason) => logger.warn(`broker direct: dropped a message to "${m.topic}": ${reason}`)),
    logger,
    clock: o.clock ?? systemClock,
  }
  if (resolved.registerIntervalMs >= resolved.registerTtlMs) {
    bad('registerIntervalMs must be shorter than registerTtlMs')
  }
  if (o.advertise !== undefined) resolved.advertise = o.advertise
  if (o.onError !== undefined) resolved.onError = o.onError
  return resolved
}
