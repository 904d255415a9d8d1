/**
 * The nats registry's options: the shared NATS connection options (src/nats/connection.ts) plus the
 * bucket and its limits. Checked once at construction (BadRequestError `invalid_options`), resolved
 * into a fresh object with every default filled in (the caller's object is never written to).
 */
import { systemClock, type Clock } from '../clock.ts'
import { BadRequestError, ErrorCode } from '../errors.ts'
import type { NatsConnectionOptions } from '../nats/connection.ts'

export const DEFAULT_NATS_REGISTRY_BUCKET = 'mica_registry'
export const DEFAULT_NATS_REGISTRY_REQUEST_TIMEOUT_MS = 5000
export const DEFAULT_NATS_REGISTRY_MAX_RECORDS = 10_000
export const DEFAULT_NATS_REGISTRY_SWEEP_INTERVAL_MS = 1000

export interface NatsRegistryOptions extends NatsConnectionOptions {
  /** The JetStream KV bucket holding one key per (service, version, node). Default `mica_registry`. */
  bucket?: string
  /** Copies the server keeps of the bucket: 1 (the default) on one server, 3 in a cluster. */
  replicas?: number
  /** Where the server keeps the bucket. Default 'file'. */
  storage?: 'file' | 'memory'
  /** Stamps heartbeats and decides expiry. Default: the system clock. */
  clock?: Clock
  /** Longest wait for a KV answer, and for the initial load of the bucket. Default 5000 ms. */
  requestTimeoutMs?: number
  /**
   * Most records this registry holds: nodes heard from the bucket (more are ignored, with a warning)
   * and nodes it registered itself (more are refused). Default 10,000.
   */
  maxRecords?: number
  /** How often expired records are looked for (reads look too). Default 1000 ms. */
  sweepIntervalMs?: number
  /**
   * Default true: every node registered with a TTL is put again every TTL/3 until deregistered or
   * the registry stops, so only a dead (or cut off) registrant's nodes expire. False: a node must be
   * registered again within its TTL by the caller, as the Registry contract says.
   */
  heartbeat?: boolean
  /** Failures that do not fail a call: a heartbeat refused, a malformed value in the bucket. */
  onWarning?: (error: Error) => void
}

export interface ResolvedNatsRegistryOptions {
  connection: NatsConnectionOptions
  bucket: string
  replicas: number
  storage: 'file' | 'memory'
  clock: Clock
  requestTimeoutMs: number
  maxRecords: number
  sweepIntervalMs: number
  heartbeat: boolean
  onWarning: (error: Error) => void
}

export function resolveNatsRegistryOptions(options: NatsRegistryOptions): ResolvedNatsRegistryOptions {
  if (typeof options !== 'object' || options === null) fail('options must be an object')
  const {
    bucket = DEFAULT_NATS_REGISTRY_BUCKET,
    replicas = 1,
    storage = 'file',
    clock = systemClock,
    requestTimeoutMs = DEFAULT_NATS_REGISTRY_REQUEST_TIMEOUT_MS,
    maxRecords = DEFAULT_NATS_REGISTRY_MAX_RECORDS,
    sweepIntervalMs = DEFAULT_NATS_REGISTRY_SWEEP_INTERVAL_MS,
    heartbeat = true,
    onWarning = () => undefined,
    ...connection
  } = options
  const servers = connection.servers
  const noServers = servers === undefined || (Array.isArray(servers) && servers.length === 0)
  if (connection.connection === undefined && noServers) fail('servers (or connection) is required')
  if (typeof bucket !== 'string' || !/^[-\w]{1,64}$/.test(bucket)) {
    fail(`bucket must match [-A-Za-z0-9_]{1,64}, got ${String(bucket)}`)
  }
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 5) {
    fail(`replicas must be 1..5, got ${String(replicas)}`)
  }
  if (storage !== 'file' && storage !== 'memory')
    fail(`storage must be 'file' or 'memory', got ${String(storage)}`)
  positive('requestTimeoutMs', requestTimeoutMs)
  positive('sweepIntervalMs', sweepIntervalMs)
  if (!Number.isInteger(maxRecords) || maxRecords < 1) {
    fail(`maxRecords must be a positive integer, got ${String(maxRecords)}`)
  }
  if (typeof heartbeat !== 'boolean') fail(`heartbeat must be a boolean, got ${typeof heartbeat}`)
  if (typeof onWarning !== 'function') fail('onWarning must be a function')
  if (typeof clock?.now !== 'function' || typeof clock.setTimeout !== 'function') {
    fail('clock must have now() and setTimeout()')
  }
  return {
    connection,
    bucket,
    replicas,
    storage,
    clock,
    requestTimeoutMs,
    maxRecords,
    sweepIntervalMs,
    heartbeat,
    onWarning,
  }
}

function positive(name: string, value: unknown): void {
  if (typeof value !== 'number' || !(value > 0 && value < Infinity)) {
    fail(`${name} must be a positive number of ms, got ${String(value)}`)
  }
}

function fail(detail: string): never {
  throw new BadRequestError(ErrorCode.INVALID_OPTIONS, `registry: nats: ${detail}`, 'registry')
}
