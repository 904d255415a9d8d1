/**
 * The service client (Go Micro's `client.Client`): `call` resolves a service's nodes through the
 * registry (cached), picks one (filters, strategy, circuit breakers), and asks `Kind/@node` for the
 * endpoint's handler — `Kind.handler` is the endpoint name. Failures that prove no handler ran are
 * retried on another node after a backoff; a handler's outcome is final unless `retryOn` says so.
 * A call made while a service handler runs inherits that request's remaining deadline.
 *
 * Order around one call: client wrappers (once) -> bulkhead -> [select -> breaker -> call wrappers
 * -> ask] per attempt. `stream` and `publish` go through neither retries nor wrappers.
 */
import { ErrorCode, MicaError, NotFoundError, UnavailableError } from '../errors.ts'
import type { Clock } from '../clock.ts'
import type { Kernel } from '../kernel/kernel.ts'
import { checkMetadata } from '../kernel/body.ts'
import type { Stream } from '../kernel/stream.ts'
import type { AnyActorDefinition, PublishOptions, StreamOptions } from '../actors/types.ts'
import type { Registry, RegistryNode } from '../registry/registry.ts'
import type { Selector } from '../registry/selector.ts'
import { CircuitBreakers, DEFAULT_BREAKER_COOL_DOWN_MS, DEFAULT_BREAKER_FAILURES } from './breaker.ts'
import { Bulkheads } from './bulkhead.ts'
import { currentScope } from './call-scope.ts'
import {
  backoffFn,
  checkClientOptions,
  DEFAULT_CACHE_TTL_MS,
  DEFAULT_CALL_RETRIES,
  defaultRetryOn,
  reachedNoHandler,
  type CallOptions,
  type ClientOptions,
} from './client-options.ts'
import { Resolver } from './resolver.ts'
import { Waits } from './waits.ts'
import { unwrapReply } from './reply.ts'
import { typedClient, type TypedClient } from './typed.ts'
import {
  compose,
  pick,
  type AttemptFn,
  type AttemptRequest,
  type CallFn,
  type CallRequest,
  type WrapperSet,
} from './wrappers.ts'
import type { Service as RegistryRecord } from '../registry/registry.ts'

export interface ClientPorts {
  readonly kernel: Kernel
  readonly registry: Registry | undefined
  readonly selector: Selector
  readonly clock: Clock
  /** The calling service's name (sent as `Micro-From-Service`), if any. */
  readonly from?: string
  /** Records this process serves itself, by name. */
  own(name: string): RegistryRecord[]
  /** Whether calls may go out (the service's kernel has started); a call before is refused at once. */
  ready?(): boolean
  readonly wrappers?: readonly WrapperSet[]
  readonly options?: ClientOptions
}

export class Client {
  readonly #p: ClientPorts
  readonly #defaults: ClientOptions
  readonly #resolver: Resolver
  readonly #breakers: CircuitBreakers | undefined
  readonly #bulkheads: Bulkheads | undefined
  readonly #call: CallFn
  readonly #attempt: AttemptFn
  readonly #waits: Waits

  constructor(ports: ClientPorts) {
    this.#p = ports
    this.#defaults = { ...ports.options }
    checkClientOptions(this.#defaults, 'client options')
    const d = this.#defaults
    this.#resolver = new Resolver({
      registry: ports.registry,
      clock: ports.clock,
      ttlMs: d.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS,
      own: ports.own,
    })
    this.#breakers =
      d.breaker === undefined
        ? undefined
        : new CircuitBreakers(
            {
              failures: d.breaker.failures ?? DEFAULT_BREAKER_FAILURES,
              coolDownMs: d.breaker.coolDownMs ?? DEFAULT_BREAKER_COOL_DOWN_MS,
            },
            ports.clock,
          )
    this.#bulkheads = d.bulkhead === undefined ? undefined : new Bulkheads(d.bulkhead)
    this.#waits = new Waits(ports.clock)
    const sets = ports.wrappers ?? []
    this.#attempt = compose(pick(sets, 'call'), (req: AttemptRequest) => this.#ask(req))
    this.#call = compose(pick(sets, 'client'), (req: CallRequest) => this.#core(req))
  }

  /** Ends the backoff waits of calls in progress (they fail with `kernel_stopped`); idempotent. */
  stop(): void {
    this.#waits.stop()
  }

  /** The circuit of a node: `closed`, `open` or `half-open` (`closed` when no breaker is set). */
  circuit(nodeId: string): 'closed' | 'open' | 'half-open' {
    return this.#breakers?.state(nodeId) ?? 'closed'
  }

  /** Calls `endpoint` (`Kind.handler`) of `service` with `request`; resolves with the reply. */
  call<R = unknown>(service: string, endpoint: string, request?: unknown, options?: CallOptions): Promise<R> {
    let req: CallRequest
    try {
      this.#assertReady()
      splitEndpoint(endpoint)
      const o: CallOptions = { ...this.#defaults, ...options }
      checkClientOptions(o, 'call options')
      const now = this.#p.clock.now()
      const scope = currentScope()
      // the call's own timeout; else the request being handled's deadline (shortened by the
      // client's default timeout, if one is set); else the client's or the kernel's default
      const inherited = scope !== undefined && scope.deadline > 0 ? scope.deadline : undefined
      const fallback = this.#defaults.timeout
      const deadline =
        options?.timeout !== undefined
          ? now + options.timeout
          : inherited !== undefined
            ? Math.min(inherited, fallback === undefined ? inherited : now + fallback)
            : now + (fallback ?? this.#p.kernel.options.askTimeoutMs)
      const metadata = { ...checkMetadata(o.metadata) }
      if (this.#p.from !== undefined) metadata['Micro-From-Service'] ??= this.#p.from
      req = { service, endpoint, body: request, metadata, deadline, options: o }
    } catch (err) {
      return Promise.reject(MicaError.from(err))
    }
    return this.#call(req) as Promise<R>
  }

  /** Opens a stream to a streaming endpoint on one node of `service` (no retries). */
  async stream<In = unknown, Out = unknown>(
    service: string,
    endpoint: string,
    options: StreamOptions & Pick<CallOptions, 'selectOptions' | 'id'> = {},
  ): Promise<Stream<In, Out>> {
    this.#assertReady()
    const { kind, handler } = splitEndpoint(endpoint)
    const node = await this.#select(service, endpoint, options, new Set())
    const ref = this.#p.kernel.ref(`${kind}/${options.id ?? ''}@${node.id}`)
    const scope = currentScope()
    const inherited =
      options.timeout === undefined &&
      options.deadline === undefined &&
      scope !== undefined &&
      scope.deadline > 0
        ? { deadline: scope.deadline }
        : {}
    return ref.stream(handler, { ...options, ...inherited }) as unknown as Stream<In, Out>
  }

  /** Publishes `message` to `topic` through the kernel's broker. */
  publish(topic: string, message: unknown, options?: PublishOptions): Promise<void> {
    try {
      this.#assertReady()
    } catch (err) {
      return Promise.reject(MicaError.from(err))
    }
    return this.#p.kernel.publish(topic, message, options)
  }

  /** A client typed from a definition's handlers: `typed(greeter).hello({ name })`. */
  typed<D extends AnyActorDefinition>(definition: D, service: string = definition.kind): TypedClient<D> {
    return typedClient(this, definition, service)
  }

  /** Before its kernel started, nothing can go out (an ask would wait for its deadline, a stream for ever). */
  #assertReady(): void {
    if (this.#p.ready?.() === false) {
      throw new UnavailableError(
        ErrorCode.KERNEL_STOPPED,
        `${this.#p.from ?? 'the client'} is not started: start() or run() it first`,
        'client',
      )
    }
  }

  async #core(req: CallRequest): Promise<unknown> {
    const o = req.options
    const release = this.#bulkheads?.acquire(req.service)
    try {
      const retries = o.retries ?? DEFAULT_CALL_RETRIES
      const retryOn = o.retryOn ?? defaultRetryOn
      const backoff = backoffFn(o.backoff)
      const tried = new Set<string>()
      for (let attempt = 0; ; attempt++) {
        let node: RegistryNode | undefined
        try {
          node = await this.#select(req.service, req.endpoint, o, tried)
          this.#breakers?.acquire(node.id)
          const reply = await this.#attempt({ ...req, node, attempt })
          this.#breakers?.success(node.id)
          return reply
        } catch (err) {
          const error = MicaError.from(err)
          const reachedHandler = !reachedNoHandler(error)
          if (node !== undefined) this.#failed(req.service, node, error, reachedHandler, tried)
          const wait = backoff(attempt + 1)
          if (
            attempt >= retries ||
            o.signal?.aborted === true ||
            error.code === ErrorCode.HANDLER_NOT_FOUND ||
            this.#p.clock.now() + wait >= req.deadline ||
            !retryOn(error, { attempt, reachedHandler })
          ) {
            throw error
          }
          await this.#waits.wait(wait, o.signal)
        }
      }
    } finally {
      release?.()
    }
  }

  #failed(
    service: string,
    node: RegistryNode,
    error: MicaError,
    reachedHandler: boolean,
    tried: Set<string>,
  ): void {
    tried.add(node.id)
    if (error.status >= 500 || error.status === 408) this.#breakers?.failure(node.id)
    else this.#breakers?.success(node.id) // a 4xx is an answer: the node works
    if (!reachedHandler) {
      this.#resolver.invalidate(service)
      if (error.code === ErrorCode.UNAVAILABLE || error.code === ErrorCode.KERNEL_STOPPED)
        this.#p.selector.markDown(node.id)
    }
  }

  #ask(req: AttemptRequest): Promise<unknown> {
    const o = req.options
    const { kind, handler } = splitEndpoint(req.endpoint)
    const asked = this.#p.kernel.ask(`${kind}/${o.id ?? ''}@${req.node.id}`, handler, req.body, {
      deadline: req.deadline,
      metadata: req.metadata,
      ...(o.contentType === undefined ? {} : { contentType: o.contentType }),
      ...(o.signal === undefined ? {} : { signal: o.signal }),
    })
    return asked.then((reply) => {
      const { body, metadata } = unwrapReply(reply)
      if (metadata !== undefined) o.onReplyMetadata?.(metadata)
      return body
    })
  }

  /** One node of `service` for `endpoint`: filters, untried first, breakers, then the strategy. */
  async #select(
    service: string,
    endpoint: string,
    o: CallOptions,
    tried: ReadonlySet<string>,
  ): Promise<RegistryNode> {
    let records = await this.#resolver.records(service)
    const listed = records.flatMap((r) => r.endpoints)
    if (listed.length > 0 && !listed.some((e) => e.name === endpoint)) {
      throw new NotFoundError(ErrorCode.HANDLER_NOT_FOUND, `${service} has no endpoint ${endpoint}`, 'client')
    }
    for (const filter of o.selectOptions?.filters ?? []) records = filter(records) as RegistryRecord[]
    let nodes = records.flatMap((r) => r.nodes)
    if (nodes.length === 0) {
      throw new UnavailableError(ErrorCode.UNAVAILABLE, `no node of ${service} passed the filters`, 'client')
    }
    const untried = nodes.filter((n) => !tried.has(n.id))
    if (untried.length > 0) nodes = untried
    const breakers = this.#breakers
    if (breakers !== undefined) {
      nodes = nodes.filter((n) => breakers.allows(n.id))
      if (nodes.length === 0) {
        throw new UnavailableError(
          ErrorCode.CIRCUIT_OPEN,
          `circuit open for every node of ${service}`,
          'client',
        )
      }
    }
    const strategy = o.selectOptions?.strategy
    if (strategy !== undefined) {
      const node = strategy(nodes, o.id)
      if (node === undefined)
        throw new UnavailableError(ErrorCode.UNAVAILABLE, 'strategy picked no node', 'client')
      return node
    }
    const key = o.id === undefined ? {} : { key: `${service}/${o.id}` }
    return this.#p.selector.select([{ name: service, version: '', metadata: {}, nodes }], key)
  }
}

/** `Kind.handler` -> kind and handler (a kind may contain dots: the last one splits). */
export function splitEndpoint(endpoint: string): { kind: string; handler: string } {
  const dot = typeof endpoint === 'string' ? endpoint.lastIndexOf('.') : -1
  if (dot <= 0 || dot === endpoint.length - 1) {
    throw new MicaError(400, ErrorCode.BAD_REQUEST, `endpoint must be Kind.handler, got ${String(endpoint)}`)
  }
  return { kind: endpoint.slice(0, dot), handler: endpoint.slice(dot + 1) }
}
