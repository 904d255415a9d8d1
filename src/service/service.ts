/**
 * A service (Go Micro's `micro.Service`): a thin typed layer over one Kernel — a name and version,
 * a set of actor kinds whose handlers are its endpoints (`Kind.handler`), subscriptions, a client,
 * hooks and wrappers. It registers one record of its own (name, version, metadata, this node, every
 * endpoint with its schema) beside the kernel's per-kind records, renews it, and removes it first
 * when it stops, so callers stop choosing this node before it drains.
 *
 * Lifecycle: `start()` = beforeStart -> kernel up -> kinds and subscriptions -> record -> afterStart;
 * `stop()` = beforeStop -> record removed -> kernel stop (kinds deregistered, in-flight work drained)
 * -> afterStop; `run()` = start, wait for SIGINT/SIGTERM (when `handleSignal`) or `stop()`, stop.
 */
import { ErrorCode, MicaError, UnavailableError } from '../errors.ts'
import type { TimerHandle } from '../clock.ts'
import { Kernel } from '../kernel/kernel.ts'
import { validateDefinition } from '../actors/define.ts'
import type { AnyActorDefinition, HandlerName, Metadata } from '../actors/types.ts'
import type { Subscription } from '../broker/broker.ts'
import type { Service as RegistryRecord } from '../registry/registry.ts'
import { Client } from './client.ts'
import { debugDefinition, DEBUG_ENDPOINTS } from './debug.ts'
import { resolveServiceOptions, type ResolvedServiceOptions, type ServiceOptions } from './options.ts'
import { definitionSchemas, type EndpointSchema } from './schema.ts'
import { waitForSignal } from './signals.ts'
import { wrapDefinition } from './wrap-definition.ts'
import { compose, pick, type HandlerWrapper, type SubscriberFn } from './wrappers.ts'
import { metricsWrapper, type Metrics } from './wrappers/metrics.ts'
import { inScope } from './call-scope.ts'

export interface HandleOptions<D extends AnyActorDefinition = AnyActorDefinition> {
  /**
   * Request/response schema per handler name: in the endpoint metadata, and for the validation
   * wrapper. Each one given here wins over the definition's own `schemas` for that handler.
   */
  schemas?: Readonly<{ [K in HandlerName<D>]?: EndpointSchema }>
}

export interface SubscriberInfo {
  readonly topic: string
  readonly metadata: Readonly<Metadata>
}

export type Subscriber<T = unknown> = (message: T, info: SubscriberInfo) => void | Promise<void>

interface Handled {
  definition: AnyActorDefinition
  schemas: Readonly<{ [handler: string]: EndpointSchema | undefined }> | undefined
}

type State = 'new' | 'starting' | 'running' | 'stopping' | 'stopped'

export class Service {
  readonly name: string
  readonly version: string
  readonly kernel: Kernel
  readonly client: Client
  readonly #o: ResolvedServiceOptions
  readonly #handled: Handled[] = []
  readonly #subscriptions: { topic: string; fn: Subscriber; queue: string | undefined }[] = []
  readonly #active: Subscription[] = []
  /** Always on, innermost: the per-endpoint counts Debug.Stats reports. */
  readonly #counts: Metrics
  readonly #handlerWrappers: HandlerWrapper[]
  #state: State = 'new'
  #startedAt = 0
  /** The kernel has started (the client may call out: in afterStart, and while stopping drains). */
  #kernelUp = false
  #timer: TimerHandle | undefined
  #stopped: Promise<void> | undefined
  #stopRequested!: () => void
  readonly #stopRequest = new Promise<void>((resolve) => (this.#stopRequested = resolve))

  constructor(options: ServiceOptions) {
    this.#o = resolveServiceOptions(options)
    this.name = this.#o.name
    this.version = this.#o.version
    this.kernel = new Kernel(this.#o.kernel)
    this.#counts = metricsWrapper({ clock: this.kernel.clock })
    this.#handlerWrappers = [...pick(this.#o.wrappers, 'handler'), this.#counts.handler]
    this.client = new Client({
      kernel: this.kernel,
      // the kernel's resolved registry: the one given, or the engine's (`engine: 'nats'`, MICA_ENGINE)
      registry: this.kernel.options.network?.registry,
      selector: this.#o.selector,
      clock: this.kernel.clock,
      from: this.name,
      own: (name) => (name === this.name && this.#state === 'running' ? [this.#record()] : []),
      ready: () => this.#kernelUp,
      wrappers: this.#o.wrappers,
      options: this.#o.client,
    })
  }

  get running(): boolean {
    return this.#state === 'running'
  }

  /** Per-endpoint counts of the requests this node handled. */
  metrics(): ReturnType<Metrics['snapshot']>['handler'] {
    return this.#counts.snapshot().handler
  }

  /** Exposes a kind's handlers as this service's endpoints `Kind.handler`. */
  async handle<D extends AnyActorDefinition>(definition: D, options: HandleOptions<D> = {}): Promise<void> {
    validateDefinition(definition)
    const handled: Handled = { definition, schemas: definitionSchemas(definition, options.schemas) }
    this.#handled.push(handled)
    if (this.#state === 'running') {
      await this.#host(handled)
      await this.#register()
    }
  }

  /** Subscribes `fn` to a topic (wildcards `*`, `>`); `{ queue }` shares the messages among a group. */
  async subscribe<T = unknown>(
    topic: string,
    fn: Subscriber<T>,
    options: { queue?: string } = {},
  ): Promise<void> {
    if (typeof fn !== 'function')
      throw new MicaError(400, ErrorCode.INVALID_OPTIONS, 'subscriber must be a function')
    if (typeof options !== 'object' || options === null)
      throw new MicaError(400, ErrorCode.INVALID_OPTIONS, 'subscribe options must be an object')
    if (options.queue !== undefined && (typeof options.queue !== 'string' || options.queue === ''))
      throw new MicaError(400, ErrorCode.INVALID_OPTIONS, 'queue must be a non-empty string')
    const sub = { topic, fn: fn as Subscriber, queue: options.queue }
    this.#subscriptions.push(sub)
    if (this.#state === 'running') await this.#bind(sub)
  }

  async start(): Promise<void> {
    if (this.#state !== 'new')
      throw new UnavailableError(ErrorCode.UNAVAILABLE, `service ${this.name} already started`)
    this.#state = 'starting'
    try {
      await this.#o.hooks.beforeStart?.()
      await this.kernel.start()
      this.#kernelUp = true
      this.#startedAt = this.kernel.clock.now()
      await this.kernel.register(
        debugDefinition({
          service: this.name,
          version: this.version,
          kernel: this.kernel,
          startedAt: this.#startedAt,
          metrics: () => this.#counts.snapshot(),
        }),
      )
      for (const h of this.#handled) await this.#host(h)
      for (const s of this.#subscriptions) await this.#bind(s)
      this.#state = 'running'
      await this.#register()
      this.#renew()
      await this.#o.hooks.afterStart?.()
    } catch (err) {
      await this.stop().catch(() => undefined)
      throw MicaError.from(err)
    }
  }

  /** Deregisters, drains in-flight work and stops; idempotent. */
  stop(): Promise<void> {
    this.#stopRequested()
    this.#stopped ??= this.#stop()
    return this.#stopped
  }

  /** Starts, then waits for SIGINT/SIGTERM (when `handleSignal`) or `stop()`, then stops. */
  async run(): Promise<void> {
    await this.start()
    const signal = this.#o.handleSignal ? waitForSignal() : undefined
    try {
      await Promise.race([this.#stopRequest, ...(signal === undefined ? [] : [signal.promise])])
    } finally {
      signal?.dispose()
    }
    await this.stop()
  }

  async #stop(): Promise<void> {
    const wasRunning = this.#state === 'running'
    this.#state = 'stopping'
    this.#timer?.cancel()
    try {
      if (wasRunning) await this.#o.hooks.beforeStop?.()
      const registry = this.kernel.options.network?.registry
      if (registry !== undefined && this.kernel.address !== undefined)
        await registry.deregister(this.#record()).catch(() => undefined)
      await Promise.all(this.#active.map((s) => s.unsubscribe().catch(() => undefined)))
      await this.kernel.stop()
      if (wasRunning) await this.#o.hooks.afterStop?.()
    } finally {
      this.client.stop() // after the drain: handlers draining may still call out
      this.#state = 'stopped'
    }
  }

  async #host(h: Handled): Promise<void> {
    const def =
      this.kernel.workers === 0
        ? wrapDefinition(h.definition, {
            service: this.name,
            wrappers: this.#handlerWrappers,
            schemas: h.schemas,
          })
        : h.definition
    await this.kernel.register(def)
  }

  async #bind(s: { topic: string; fn: Subscriber; queue: string | undefined }): Promise<void> {
    const inner: SubscriberFn = async (m) => s.fn(m.body, { topic: m.topic, metadata: m.metadata })
    const chain = compose(pick(this.#o.wrappers, 'subscriber'), inner)
    const sub = await this.kernel.subscribe(
      s.topic,
      (body, info) =>
        inScope({ metadata: info.metadata, deadline: 0 }, () =>
          chain({ service: this.name, topic: info.topic, body, metadata: info.metadata }),
        ),
      s.queue === undefined ? {} : { queue: s.queue },
    )
    this.#active.push(sub)
  }

  /** This node's record of the service: every handled endpoint (with its schema) and Debug. */
  #record(): RegistryRecord {
    const endpoints = this.#handled.flatMap(({ definition, schemas }) =>
      Object.keys(definition.handlers as object).map((h) => ({
        name: `${definition.kind}.${h}`,
        metadata: schemaMetadata(schemas?.[h]),
      })),
    )
    for (const name of DEBUG_ENDPOINTS) endpoints.push({ name, metadata: {} })
    return {
      name: this.name,
      version: this.version,
      metadata: { ...this.#o.metadata },
      endpoints,
      nodes: [{ id: this.kernel.nodeId, address: this.kernel.address ?? '', metadata: {} }],
    }
  }

  async #register(): Promise<void> {
    const network = this.kernel.options.network
    if (network === undefined || this.kernel.address === undefined) return
    await network.registry.register(this.#record(), { ttlMs: network.registerTtlMs })
  }

  #renew(): void {
    const network = this.kernel.options.network
    if (network === undefined) return
    this.#timer = this.kernel.clock.setTimeout(() => {
      if (this.#state !== 'running') return
      this.#register().catch((err: unknown) =>
        this.kernel.logger.warn(`re-register of ${this.name} failed`, err),
      )
      this.#renew()
    }, network.registerIntervalMs)
  }
}

function schemaMetadata(schema: EndpointSchema | undefined): { [key: string]: string } {
  const md: { [key: string]: string } = {}
  if (schema?.request !== undefined) md.request = JSON.stringify(schema.request)
  if (schema?.response !== undefined) md.response = JSON.stringify(schema.response)
  return md
}

/** Creates a service (not started: `await service.run()` or `start()`). */
export function createService(options: ServiceOptions): Service {
  return new Service(options)
}
