/**
 * Service options (Go Micro's `micro.NewService(micro.Name(...), ...)` as one typed object), checked
 * with exact messages and mapped onto the kernel's options: a service is one kernel plus a name.
 */
import { BadRequestError, ErrorCode } from '../errors.ts'
import { KIND_PATTERN } from '../actors/define.ts'
import { systemClock, type Clock } from '../clock.ts'
import type { KernelOptions, Logger } from '../kernel/options.ts'
import type { Registry } from '../registry/registry.ts'
import { Selector } from '../registry/selector.ts'
import type { Transport } from '../transport/transport.ts'
import type { Broker } from '../broker/broker.ts'
import type { Journal } from '../journal/journal.ts'
import type { WrapperSet } from './wrappers.ts'
import type { ClientOptions } from './client-options.ts'

export type Hook = () => void | Promise<void>

export interface ServiceOptions {
  /** The service's name in the registry (`[A-Za-z0-9_.-]`, 1..128). */
  name: string
  version?: string
  /** Service-level metadata of the registry record. */
  metadata?: Record<string, string>
  /** Transport listen address, `host:port` (the kernel's `listen`). */
  address?: string
  /**
   * Discovery and transport go together; without them the service is a single node, unless the
   * kernel's engine provides them (`kernel: { engine: 'nats' }` or `MICA_ENGINE=nats`).
   */
  registry?: Registry
  transport?: Transport
  /** Node selection for the client and the kernel (default: random). */
  selector?: Selector
  broker?: Broker
  /** Default content type of calls and replies (a codec's content type, e.g. `application/json`). */
  codec?: string
  journal?: Journal
  /** Worker threads for actors (default 0 here: handlers run on the main thread, wrappers apply). */
  workers?: number
  /** ms a registration lives without renewal, and how often it is renewed (defaults 15 s, 5 s). */
  registerTTL?: number
  registerInterval?: number
  /** `run()` waits for SIGINT/SIGTERM, then stops (default true). */
  handleSignal?: boolean
  beforeStart?: Hook
  afterStart?: Hook
  beforeStop?: Hook
  afterStop?: Hook
  /** Wrapper sets, outermost first (see wrappers.ts for the order of places). */
  wrappers?: readonly WrapperSet[]
  /** The service client's defaults (timeout, retries, breaker, bulkhead...). */
  client?: ClientOptions
  /** Further kernel options (node id, logger, clock, drain timeout...); the ones above win. */
  kernel?: Omit<
    KernelOptions,
    | 'registry'
    | 'transport'
    | 'selector'
    | 'broker'
    | 'journal'
    | 'workers'
    | 'listen'
    | 'contentType'
    | 'registerTtlMs'
    | 'registerIntervalMs'
    | 'version'
  >
}

export const DEFAULT_SERVICE_WORKERS = 0

export interface ResolvedServiceOptions {
  name: string
  version: string
  metadata: Record<string, string>
  handleSignal: boolean
  hooks: { beforeStart?: Hook; afterStart?: Hook; beforeStop?: Hook; afterStop?: Hook }
  wrappers: readonly WrapperSet[]
  client: ClientOptions
  selector: Selector
  clock: Clock
  logger: Logger | undefined
  kernel: KernelOptions
}

export function resolveServiceOptions(options: ServiceOptions): ResolvedServiceOptions {
  const fail = (detail: string): never => {
    throw new BadRequestError(ErrorCode.INVALID_OPTIONS, `service options: ${detail}`)
  }
  if (typeof options !== 'object' || options === null) fail('must be an object')
  if (typeof options.name !== 'string' || !KIND_PATTERN.test(options.name))
    fail(`name must match ${KIND_PATTERN}`)
  const version = options.version ?? ''
  if (typeof version !== 'string' || !/^[A-Za-z0-9_.+-]{0,64}$/.test(version))
    fail('version must match [A-Za-z0-9_.+-]{0,64}')
  const metadata = { ...options.metadata }
  for (const [k, v] of Object.entries(metadata))
    if (typeof v !== 'string') fail(`metadata ${k} must be a string`)
  for (const hook of ['beforeStart', 'afterStart', 'beforeStop', 'afterStop'] as const) {
    const h = options[hook]
    if (h !== undefined && typeof h !== 'function') fail(`${hook} must be a function`)
  }
  if (options.handleSignal !== undefined && typeof options.handleSignal !== 'boolean')
    fail('handleSignal must be a boolean')
  const wrappers = options.wrappers ?? []
  if (!Array.isArray(wrappers)) fail('wrappers must be an array of wrapper sets')
  for (const set of wrappers) {
    if (typeof set !== 'object' || set === null) fail('wrappers must be an array of wrapper sets')
    for (const place of ['client', 'call', 'handler', 'subscriber'] as const)
      if (set[place] !== undefined && typeof set[place] !== 'function')
        fail(`wrappers: ${place} must be a function`)
  }
  for (const name of ['registerTTL', 'registerInterval'] as const) {
    const v = options[name]
    if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && v > 0))
      fail(`${name} must be a positive number of ms`)
  }
  if (options.address !== undefined && (typeof options.address !== 'string' || options.address === ''))
    fail('address must be host:port')
  if (options.codec !== undefined && typeof options.codec !== 'string')
    fail('codec must be a content type string')
  const workers = options.workers ?? DEFAULT_SERVICE_WORKERS
  if (workers > 0 && wrappers.some((s) => s.handler !== undefined))
    fail('handler wrappers run on the thread of the handler: use workers: 0, or wrapDefinition in the module')
  const clock = options.kernel?.clock ?? systemClock
  const selector = options.selector ?? new Selector({ clock })
  const kernel: KernelOptions = {
    ...options.kernel,
    workers,
    selector,
    // the service client owns retries (on another node, by its retryOn): the kernel adds none
    retries: options.kernel?.retries ?? 0,
    ...(options.registry === undefined ? {} : { registry: options.registry }),
    ...(options.transport === undefined ? {} : { transport: options.transport }),
    ...(options.broker === undefined ? {} : { broker: options.broker }),
    ...(options.journal === undefined ? {} : { journal: options.journal }),
    ...(options.address === undefined ? {} : { listen: options.address }),
    ...(options.codec === undefined ? {} : { contentType: options.codec }),
    ...(options.registerTTL === undefined ? {} : { registerTtlMs: options.registerTTL }),
    ...(options.registerInterval === undefined ? {} : { registerIntervalMs: options.registerInterval }),
    version,
  }
  return {
    name: options.name,
    version,
    metadata,
    handleSignal: options.handleSignal ?? true,
    hooks: {
      beforeStart: options.beforeStart,
      afterStart: options.afterStart,
      beforeStop: options.beforeStop,
      afterStop: options.afterStop,
    },
    wrappers,
    client: options.client ?? {},
    selector,
    clock,
    logger: options.kernel?.logger,
    kernel,
  }
}
