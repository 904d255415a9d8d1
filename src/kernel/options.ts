/**
 * Kernel options: one typed object, validated with exact messages, defaults from a function (every
 * default a named constant). The caller's object is never written to.
 */
import { availableParallelism } from 'node:os'
import { randomBytes } from 'node:crypto'
import type { ResourceLimits } from 'node:worker_threads'
import { BadRequestError, ErrorCode } from '../errors.ts'
import { systemClock, type Clock } from '../clock.ts'
import type { Codec } from '../codec/codec.ts'
import { DEFAULT_CONTENT_TYPE } from '../codec/codec.ts'
import { DEFAULT_CHANNEL_LIMITS, type ChannelLimits } from './channel.ts'
import type { Registry } from '../registry/registry.ts'
import type { Selector } from '../registry/selector.ts'
import type { Transport } from '../transport/transport.ts'
import type { Broker } from '../broker/broker.ts'
import type { Journal } from '../journal/journal.ts'
import { DEFAULT_PASSIVATION, type PassivationOptions } from '../actors/host.ts'
import type { RemoteOptions } from './remote.ts'
import { applyEngine, type Engine, type NatsEngineOptions } from './engine.ts'

export interface Logger {
  debug(message: string, detail?: unknown): void
  info(message: string, detail?: unknown): void
  warn(message: string, detail?: unknown): void
  error(message: string, detail?: unknown): void
}

export interface KernelOptions {
  /** This node's id (default: random). */
  nodeId?: string
  /** Worker threads for actors (default: available cores); 0 runs actors inline on the main thread. */
  workers?: number
  /**
   * Inline mode only: `reference` passes messages and replies by reference (fastest); `encode` runs
   * them through the codec like a thread hop does, so inline behaves exactly like workers (use in tests).
   */
  inlineMessages?: 'reference' | 'encode'
  /** Default ask timeout in ms (default 5,000; Go Micro's default request timeout). */
  askTimeoutMs?: number
  /** Largest encoded message or reply, in bytes (default 1 MiB). */
  maxMessageBytes?: number
  /** How long `stop()` waits for mailboxes to drain (default 10,000 ms). */
  drainTimeoutMs?: number
  /** Codecs by content type (default msgpack and JSON) and the default content type. */
  codecs?: Codec[]
  contentType?: string
  /** Per-worker limits of the thread hop: unacknowledged frames, backlog, batch size. */
  channel?: Partial<ChannelLimits>
  /** V8 heap limits of each worker (a worker that exceeds them dies and is replaced). */
  workerResourceLimits?: ResourceLimits
  clock?: Clock
  logger?: Logger
  /**
   * Discovery and transport: with both, this node registers the kinds it hosts and reaches actors
   * on other nodes (`network` below). Without, the kernel is a single node.
   */
  registry?: Registry
  transport?: Transport
  /**
   * `nats`: discovery, transport, pubsub and journal on NATS with JetStream (see engine.ts); plugins
   * given explicitly win. Default: `MICA_ENGINE` from the environment, else `embedded` (the plugins
   * given, or a single node).
   */
  engine?: Engine
  /** The NATS servers of `engine: 'nats'` (default `MICA_NATS_SERVERS`, comma-separated, else 127.0.0.1:4222). */
  servers?: string | string[]
  /** Options of `engine: 'nats'`: credentials, TLS, JetStream replicas, durable pubsub, per-plugin options. */
  nats?: NatsEngineOptions
  /** Pubsub (default: an in-process MemoryBroker owned by the kernel). */
  broker?: Broker
  /**
   * Where persistent actors keep their events; the kernel starts and stops it. Default: an in-memory
   * journal made on first use (with a warning: nothing survives the process).
   */
  journal?: Journal
  /**
   * Passivation of idle persistent keyed actors, per thread (default 100,000 live, 10 min idle);
   * `false` keeps every activation until it stops.
   */
  passivation?: Partial<PassivationOptions> | false
  /** Node selection for location-free addresses (default: random; rendezvous for keyed actors). */
  selector?: Selector
  /** Listen address of the transport (default `127.0.0.1:0`). */
  listen?: string
  /** The address other nodes dial, when it differs from the bound one. */
  advertise?: string
  /** How long a registration lives without being renewed, and how often it is (defaults 15 s, 5 s). */
  registerTtlMs?: number
  registerIntervalMs?: number
  /** Further attempts for an ask refused before any handler ran (default 2), the first backoff (10 ms, doubling). */
  retries?: number
  retryBackoffMs?: number
  /** Version and node metadata in this node's registry records. */
  version?: string
  nodeMetadata?: Record<string, string>
}

export const DEFAULT_ASK_TIMEOUT_MS = 5_000
export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024
export const DEFAULT_DRAIN_TIMEOUT_MS = 10_000
export const DEFAULT_LISTEN = '127.0.0.1:0'
export const DEFAULT_REGISTER_TTL_MS = 15_000
export const DEFAULT_REGISTER_INTERVAL_MS = 5_000
export const DEFAULT_RETRIES = 2
export const DEFAULT_RETRY_BACKOFF_MS = 10

export interface ResolvedKernelOptions {
  nodeId: string
  workers: number
  inlineMessages: 'reference' | 'encode'
  askTimeoutMs: number
  maxMessageBytes: number
  drainTimeoutMs: number
  codecs: Codec[] | undefined
  contentType: string
  channel: ChannelLimits
  workerResourceLimits: ResourceLimits | undefined
  clock: Clock
  logger: Logger
  broker: Broker | undefined
  journal: Journal | undefined
  passivation: PassivationOptions | false
  /** Discovery and transport, resolved; the kernel supplies a Selector when none was given. */
  network: (Omit<RemoteOptions, 'selector'> & { selector: Selector | undefined }) | undefined
}

export function defaultLogger(): Logger {
  return {
    debug: () => {},
    info: () => {},
    warn: (message, detail) => console.warn(`[mica] ${message}`, ...(detail === undefined ? [] : [detail])),
    error: (message, detail) => console.error(`[mica] ${message}`, ...(detail === undefined ? [] : [detail])),
  }
}

export function resolveKernelOptions(given: KernelOptions = {}): ResolvedKernelOptions {
  const options = applyEngine(given)
  const fail = (detail: string): never => {
    throw new BadRequestError(ErrorCode.INVALID_OPTIONS, `kernel options: ${detail}`)
  }
  const positive = (name: string, v: number | undefined, def: number): number => {
    if (v === undefined) return def
    if (!(typeof v === 'number' && Number.isFinite(v) && v > 0)) fail(`${name} must be a positive number`)
    return v
  }
  const workers = options.workers ?? availableParallelism()
  if (!Number.isInteger(workers) || workers < 0 || workers > 256)
    fail('workers must be an integer from 0 to 256')
  const inline = options.inlineMessages ?? 'reference'
  if (inline !== 'reference' && inline !== 'encode') fail('inlineMessages must be reference or encode')
  const nodeId = options.nodeId ?? `node-${randomBytes(6).toString('hex')}`
  if (!/^[A-Za-z0-9_.:-]{1,128}$/.test(nodeId)) fail('nodeId must match [A-Za-z0-9_.:-]{1,128}')
  const channel = { ...DEFAULT_CHANNEL_LIMITS, ...options.channel }
  for (const [k, v] of Object.entries(channel)) positive(`channel.${k}`, v, 1)
  return {
    nodeId,
    workers,
    inlineMessages: inline,
    askTimeoutMs: positive('askTimeoutMs', options.askTimeoutMs, DEFAULT_ASK_TIMEOUT_MS),
    maxMessageBytes: positive('maxMessageBytes', options.maxMessageBytes, DEFAULT_MAX_MESSAGE_BYTES),
    drainTimeoutMs: positive('drainTimeoutMs', options.drainTimeoutMs, DEFAULT_DRAIN_TIMEOUT_MS),
    codecs: options.codecs,
    contentType: options.contentType ?? DEFAULT_CONTENT_TYPE,
    channel,
    workerResourceLimits: options.workerResourceLimits,
    clock: options.clock ?? systemClock,
    logger: options.logger ?? defaultLogger(),
    broker: options.broker,
    journal: options.journal,
    passivation: resolvePassivation(options.passivation, positive, fail),
    network: resolveNetwork(options, positive, fail),
  }
}

function resolvePassivation(
  value: KernelOptions['passivation'],
  positive: (name: string, v: number | undefined, def: number) => number,
  fail: (detail: string) => never,
): PassivationOptions | false {
  if (value === false) return false
  if (value !== undefined && (typeof value !== 'object' || value === null))
    fail('passivation must be an object or false')
  const maxActors = positive('passivation.maxActors', value?.maxActors, DEFAULT_PASSIVATION.maxActors)
  if (!Number.isInteger(maxActors)) fail('passivation.maxActors must be an integer')
  return { maxActors, idleMs: positive('passivation.idleMs', value?.idleMs, DEFAULT_PASSIVATION.idleMs) }
}

function resolveNetwork(
  options: KernelOptions,
  positive: (name: string, v: number | undefined, def: number) => number,
  fail: (detail: string) => never,
): ResolvedKernelOptions['network'] {
  if (options.registry === undefined && options.transport === undefined) return undefined
  if (options.registry === undefined || options.transport === undefined) {
    fail('registry and transport go together')
  }
  const retries = options.retries ?? DEFAULT_RETRIES
  if (!Number.isInteger(retries) || retries < 0) fail('retries must be an integer >= 0')
  const registerTtlMs = positive('registerTtlMs', options.registerTtlMs, DEFAULT_REGISTER_TTL_MS)
  const registerIntervalMs = positive(
    'registerIntervalMs',
    options.registerIntervalMs,
    DEFAULT_REGISTER_INTERVAL_MS,
  )
  if (registerIntervalMs >= registerTtlMs) fail('registerIntervalMs must be shorter than registerTtlMs')
  return {
    registry: options.registry!,
    transport: options.transport!,
    selector: options.selector,
    listen: options.listen ?? DEFAULT_LISTEN,
    advertise: options.advertise,
    registerTtlMs,
    registerIntervalMs,
    retries,
    retryBackoffMs: positive('retryBackoffMs', options.retryBackoffMs, DEFAULT_RETRY_BACKOFF_MS),
    version: options.version ?? '',
    metadata: { ...options.nodeMetadata },
  }
}
