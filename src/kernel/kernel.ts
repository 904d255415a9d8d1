/**
 * Kernel: the per-node runtime. It validates every message at the door (kernel running, kind
 * hosted, handler known, metadata and deadline well-formed), keeps the deadline wheel of pending
 * asks, and hands messages to the local runtime (inline or workers). It owns no process: no signal
 * handlers, no exit; `stop()` drains mailboxes, runs stopped hooks and leaves no handle open.
 */
import { AbortedError, BadRequestError, ErrorCode, MicaError, UnavailableError } from '../errors.ts'
import type { Clock } from '../clock.ts'
import { CodecTable } from '../codec/table.ts'
import { KindEntry } from '../actors/kind.ts'
import type {
  ActorDefinition,
  ActorRef,
  AnyActorDefinition,
  AskOptions,
  Metadata,
  SendOptions,
  StreamOptions,
  PublishOptions,
} from '../actors/types.ts'
import { DeadLetters, deadLetterOf, type DeadLetterListener } from '../mailbox/dead-letters.ts'
import { AddressCache, type Address } from './address.ts'
import { checkMetadata, encodeBody, frameContentType } from './body.ts'
import { DeadlineWheel } from './deadlines.ts'
import { resolveDefinition } from './definitions.ts'
import { InlineRuntime } from './inline.ts'
import { SplitRuntime } from './split.ts'
import type { EncodedMessage, KernelStats, LocalRuntime, Outgoing } from './local.ts'
import { ServingDoor } from './serving.ts'

export type { KernelStats }
import { Remote, type RemoteHost } from './remote.ts'
import { StreamRouter } from './stream-router.ts'
import { askDeadline, refusal, sameKind, type KernelState, type Refusal } from './door.ts'
import { Pubsub, type TopicSubscribeOptions, type TopicTarget } from './pubsub.ts'
import { MemoryBroker } from '../broker/memory.ts'
import type { Subscription } from '../broker/broker.ts'
import type { Stream } from './stream.ts'
import type { EncodedStreamSink, StreamRequest } from './stream-open.ts'
import { Selector } from '../registry/selector.ts'
import type { RegistryNode } from '../registry/registry.ts'
import {
  resolveKernelOptions,
  type KernelOptions,
  type Logger,
  type ResolvedKernelOptions,
} from './options.ts'
import { Ref, type Router } from './ref.ts'
import { WorkersRuntime } from './workers.ts'
import { KernelJournal } from './journal-port.ts'
import { CatchUp, settling } from './catch-up.ts'
import { EncodedRoutes, type Placement } from './encoded-routes.ts'

/** The most `stop()` waits for stopped hooks after the drain. */
export const STOP_HOOKS_TIMEOUT_MS = 5_000

export class Kernel implements Router, RemoteHost {
  readonly nodeId: string
  readonly options: ResolvedKernelOptions
  readonly clock: Clock
  readonly codecs: CodecTable
  readonly wheel: DeadlineWheel
  readonly deadLetters = new DeadLetters()
  readonly logger: Logger
  readonly journal: KernelJournal
  /** Where envelopes from other nodes come in (RemoteHost). */
  readonly door: ServingDoor
  readonly #local: LocalRuntime
  readonly #remote: Remote | undefined
  /** When this node may have been routed around, its persistent actors catch up (network only). */
  readonly #catchUp: CatchUp | undefined
  readonly #streams: StreamRouter
  readonly #routes: EncodedRoutes
  readonly #pubsub: Pubsub
  readonly #kinds = new Map<string, KindEntry>()
  readonly #registering = new Map<string, Promise<KindEntry>>()
  readonly #addresses = new AddressCache()
  #state: KernelState = 'running'
  #stopped: Promise<void> | undefined

  /** Use `createKernel`. */
  constructor(options: KernelOptions = {}) {
    this.options = resolveKernelOptions(options)
    this.nodeId = this.options.nodeId
    this.clock = this.options.clock
    this.logger = this.options.logger
    this.codecs = new CodecTable(this.options.codecs, this.options.contentType)
    this.wheel = new DeadlineWheel(this.clock)
    this.journal = new KernelJournal(this.options.journal, this.logger)
    this.#local =
      this.options.workers === 0
        ? new InlineRuntime(this)
        : new SplitRuntime(new WorkersRuntime(this), new InlineRuntime(this))
    const net = this.options.network
    if (net === undefined) {
      this.#remote = undefined
      this.#catchUp = undefined
    } else {
      const selector = net.selector ?? new Selector({ clock: this.clock })
      const catchUp = new CatchUp({
        clock: this.clock,
        logger: this.logger,
        bump: () => this.#local.catchUp(),
        settle: settling(selector, net.registerIntervalMs),
        stallMs: net.registerIntervalMs,
      })
      this.#catchUp = catchUp
      this.#remote = new Remote(this, { ...net, selector, moved: (reason) => catchUp.trigger(reason) })
    }
    this.#routes = new EncodedRoutes({
      local: this.#local,
      remote: this.#remote,
      deadLetters: this.deadLetters,
      placement: (to) => this.#placement(to),
      refuse: (to, handler, fromActor) => this.#refuse(to, handler, fromActor),
      askDeadline: () => this.clock.now() + this.options.askTimeoutMs,
    })
    this.#pubsub = new Pubsub({
      broker:
        this.options.broker ??
        new MemoryBroker({ onError: (err) => this.logger.warn('subscriber failed', err) }),
      codecs: this.codecs,
      maxMessageBytes: this.options.maxMessageBytes,
      logger: this.logger,
      deliver: (to, msg) => this.#routes.send(to, msg),
      request: (to, msg) => this.#routes.request(to, msg),
      parse: (address) => this.#addresses.parse(address),
    })
    this.door = new ServingDoor({
      nodeId: this.nodeId,
      local: this.#local,
      codecs: this.codecs,
      refuse: (to, handler) => this.#refuse(to, handler)?.error,
      serveStream: (to, req, toCaller) => this.#streams.serve(to, req, toCaller, this.nodeId),
    })
    this.#streams = new StreamRouter({
      codecs: this.codecs,
      clock: this.clock,
      local: this.#local,
      remote: this.#remote,
      placement: (to) => this.#placement(to),
      refused: (to, handler, fromActor) => this.#refuse(to, handler, fromActor)?.error,
      parse: (to) => this.#addresses.parse(to),
      deadline: (options) => this.#deadline(options),
    })
  }

  /** Starts the worker pool (when there is one), then the transport and registry (when configured). */
  async start(): Promise<void> {
    await this.journal.start()
    await this.#local.start()
    if (this.#catchUp !== undefined)
      this.#catchUp.follow(this.options.network!.transport, this.options.network!.registry)
    await this.#remote?.start() // the registry first: a direct broker records its subscriptions there
    await this.#pubsub.start()
  }

  /** The transport address other nodes reach this node at (undefined for a single-node kernel). */
  get address(): string | undefined {
    return this.#remote?.address
  }

  get workers(): number {
    return this.options.workers
  }

  get running(): boolean {
    return this.#state === 'running'
  }

  /** Kinds this node hosts. */
  get kinds(): string[] {
    return [...this.#kinds.keys()]
  }

  /**
   * Hosts a kind on this node (importing its module on every worker) without activating any actor.
   * Every id of a hosted kind is then addressable: an actor is activated by its first message.
   */
  async register(definition: AnyActorDefinition | string | URL): Promise<ActorDefinition> {
    this.#assertRunning()
    const def = await resolveDefinition(definition)
    const known = this.#kinds.get(def.kind)
    if (known !== undefined) return sameKind(known, def)
    let registering = this.#registering.get(def.kind)
    if (registering === undefined) {
      registering = this.#local.addKind(def).then(async () => {
        const entry = new KindEntry(def)
        this.#kinds.set(def.kind, entry)
        await this.#pubsub.bind(def)
        await this.#remote?.host(def)
        return entry
      })
      this.#registering.set(def.kind, registering)
      registering.then(
        () => this.#registering.delete(def.kind),
        () => this.#registering.delete(def.kind),
      )
    }
    return sameKind(await registering, def)
  }

  /**
   * Spawns `kind/id` (hosting the kind if needed) and runs its `started` hook before any message.
   * Without an id it spawns the stateless instance(s) `kind/` (one per worker).
   */
  async spawn<D extends AnyActorDefinition>(definition: D | string | URL, id = ''): Promise<ActorRef<D>> {
    // the same definition object again (spawning many ids of one kind) needs no validation or import
    const hosted =
      typeof definition === 'object' && !(definition instanceof URL) && this.#kinds.get(definition.kind)
    const def =
      hosted && hosted.definition === definition && this.running
        ? definition
        : await this.register(definition)
    const to = this.#addresses.parse(`${def.kind}/${id}`)
    if (to.node !== undefined)
      throw new BadRequestError(ErrorCode.INVALID_ADDRESS, 'actor ids cannot contain @')
    await this.#local.activate(to)
    return new Ref(this, to) as unknown as ActorRef<D>
  }

  /** A ref to `kind/id` (typed by the definition when given as a type argument). */
  ref<D extends AnyActorDefinition = AnyActorDefinition>(address: string): ActorRef<D> {
    return new Ref(this, this.#addresses.parse(address)) as unknown as ActorRef<D>
  }

  /** Publishes through the broker; resolves once the broker took it. */
  publish(topic: string, msg: unknown, options?: PublishOptions): Promise<void> {
    try {
      this.#assertRunning()
      return this.#pubsub.publish(topic, msg, options)
    } catch (err) {
      return Promise.reject(MicaError.from(err))
    }
  }

  /** An actor's publish from a worker thread (already encoded). */
  publishEncoded(topic: string, bytes: Uint8Array, ct: string | null, md: Metadata | undefined): void {
    this.#pubsub.publishEncoded(topic, bytes, ct, md).catch((err: unknown) => {
      this.logger.warn(`publish to ${topic} failed`, (err as Error).message)
    })
  }

  /**
   * Subscribes a ref's handler (`{ handler }`) or a function to a topic (`*` and `>` wildcards);
   * `{ queue }` makes the subscribers of one group share the messages.
   */
  subscribe(topic: string, target: TopicTarget, options?: TopicSubscribeOptions): Promise<Subscription> {
    this.#assertRunning()
    return this.#pubsub.subscribe(topic, target, options)
  }

  onDeadLetter(listener: DeadLetterListener): () => void {
    return this.deadLetters.subscribe(listener)
  }

  async stats(): Promise<KernelStats> {
    // read before the threads are asked: the catch-ups counted here reached them before this question
    const catchUps = this.#catchUp?.epoch ?? 0
    const local = await this.#local.stats()
    return {
      nodeId: this.nodeId,
      workers: this.options.workers,
      kinds: this.kinds,
      actors: local.actors,
      catchUps,
      streams: local.streams + (this.#remote?.openStreams ?? 0),
      pendingAsks: local.pendingAsks,
      deadLetters: this.deadLetters.count,
      mailboxes: local.mailboxes.slice(0, 10),
      handlers: local.handlers,
    }
  }

  /** Refuses new messages, drains mailboxes (up to `drainTimeoutMs`), stops every actor and the pool. */
  stop(): Promise<void> {
    this.#stopped ??= this.#stop()
    return this.#stopped
  }

  async #stop(): Promise<void> {
    this.#state = 'stopping'
    this.#catchUp?.stop() // a node on its way out has no actors to hand back
    try {
      await this.#remote?.leave() // deregister first: other nodes stop routing here while we drain
      await this.#pubsub.unsubscribeAll()
      await this.#local.drain(this.clock.now() + this.options.drainTimeoutMs)
      await this.#local.stop(this.clock.now() + Math.min(this.options.drainTimeoutMs, STOP_HOOKS_TIMEOUT_MS))
      await this.#pubsub.stop() // before the registry stops: a direct broker deregisters
      await this.#remote?.close()
      await this.journal.stop() // after the last actor: every append in flight has settled
    } finally {
      this.#state = 'stopped'
      this.wheel.abandonAll(new UnavailableError(ErrorCode.KERNEL_STOPPED, 'kernel stopped'))
    }
  }

  // ---- Router: refs end up here

  /** Where `to` lives when this node is on a network: undefined = here (also when single-node). */
  #placement(to: Address): Placement | MicaError | undefined {
    const remote = this.#remote
    if (remote === undefined || this.#state !== 'running') return undefined
    try {
      const place = remote.place(to)
      return place === 'local' ? undefined : place
    } catch (err) {
      return MicaError.from(err)
    }
  }

  sendTo(to: Address, handler: string, msg: unknown, options: SendOptions | undefined): void {
    const place = this.#placement(to)
    if (place instanceof MicaError) {
      this.#routes.unroutable(to, handler, msg, place)
      return
    }
    if (place instanceof Promise) {
      const encoded = this.#encode(handler, msg, checkMetadata(options?.metadata), options?.contentType)
      place.then(
        (p) =>
          p === 'local'
            ? this.#sendLocal(to, handler, msg, options)
            : this.#routes.sendRemote(to, p, encoded),
        (err: unknown) => this.#routes.unroutable(to, handler, msg, MicaError.from(err)),
      )
      return
    }
    if (place !== undefined) {
      this.#routes.sendRemote(
        to,
        place,
        this.#encode(handler, msg, checkMetadata(options?.metadata), options?.contentType),
      )
      return
    }
    this.#sendLocal(to, handler, msg, options)
  }

  /** Encodes a message for another node (the caller's thread is the only one that has the value). */
  #encode(
    handler: string,
    msg: unknown,
    md: Metadata | undefined,
    contentType: string | undefined,
  ): EncodedMessage {
    const { ct, bytes } = encodeBody(this.codecs, msg, contentType, this.options.maxMessageBytes)
    return { handler, bytes, ct: frameContentType(this.codecs, ct), md }
  }

  #sendLocal(to: Address, handler: string, msg: unknown, options: SendOptions | undefined): void {
    const md = checkMetadata(options?.metadata)
    if (options?.contentType !== undefined) this.codecs.get(options.contentType)
    const refused = this.#refuse(to, handler)
    if (refused !== undefined) {
      this.deadLetters.publish(
        deadLetterOf(to.key, handler, refused.reason, false, msg, refused.error.toWire()),
      )
      return
    }
    this.#local.post(to, { handler, msg, md, contentType: options?.contentType })
  }

  askTo(to: Address, handler: string, msg: unknown, options: AskOptions | undefined): Promise<unknown> {
    const place = this.#placement(to)
    if (place instanceof MicaError) return Promise.reject(place)
    if (place instanceof Promise) {
      return place.then((p) =>
        p === 'local'
          ? this.#askLocal(to, handler, msg, options)
          : this.#askRemote(to, p, handler, msg, options),
      )
    }
    if (place !== undefined) return this.#askRemote(to, place, handler, msg, options)
    return this.#askLocal(to, handler, msg, options)
  }

  #askRemote(
    to: Address,
    node: RegistryNode,
    handler: string,
    msg: unknown,
    options: AskOptions | undefined,
  ): Promise<unknown> {
    let encoded: EncodedMessage
    let deadline: number
    try {
      encoded = this.#encode(handler, msg, checkMetadata(options?.metadata), options?.contentType)
      const dl = this.#deadline(options)
      deadline = dl < 0 ? this.clock.now() - dl : dl
    } catch (err) {
      return Promise.reject(err)
    }
    const signal = options?.signal
    if (signal?.aborted)
      return Promise.reject(new AbortedError(ErrorCode.ABORTED, `ask to ${to.key} aborted`))
    return this.#remote!.request(to, node, encoded, deadline, signal)
  }

  #askLocal(to: Address, handler: string, msg: unknown, options: AskOptions | undefined): Promise<unknown> {
    const refused = this.#refuse(to, handler)
    if (refused !== undefined) return Promise.reject(refused.error)
    let out: Outgoing
    let deadline: number
    try {
      out = { handler, msg, md: checkMetadata(options?.metadata), contentType: options?.contentType }
      if (out.contentType !== undefined) this.codecs.get(out.contentType)
      deadline = this.#deadline(options)
    } catch (err) {
      return Promise.reject(err)
    }
    const signal = options?.signal
    if (signal?.aborted)
      return Promise.reject(new AbortedError(ErrorCode.ABORTED, `ask to ${to.key} aborted`))
    return this.#local.request(to, out, deadline, signal)
  }

  streamTo(to: Address, handler: string, options: StreamOptions | undefined): Stream<unknown, unknown> {
    return this.#streams.open(to, handler, options)
  }

  /** A stream opened by an actor on a worker (its messages stay bytes): see StreamRouter. */
  streamEncoded(to: string, req: StreamRequest, toCaller: EncodedStreamSink): EncodedStreamSink {
    return this.#streams.encoded(to, req, toCaller)
  }

  // ---- KernelServices: actors' own traffic

  resolveTarget(to: string, handler: string): Address {
    const address = this.#addresses.parse(to)
    const refused = this.#refuse(address, handler, true)
    if (refused !== undefined) throw refused.error
    return address
  }

  send(to: string, handler: string, msg: unknown, options?: SendOptions): void {
    this.sendTo(this.#addresses.parse(to), handler, msg, options)
  }

  ask(to: string, handler: string, msg: unknown, options?: AskOptions): Promise<unknown> {
    let address: Address
    try {
      address = this.#addresses.parse(to)
    } catch (err) {
      return Promise.reject(err)
    }
    return this.askTo(address, handler, msg, options)
  }

  // ---- checks (door.ts)

  #refuse(to: Address, handler: string, fromActor = false): Refusal | undefined {
    return refusal(this.#state, this.#kinds, this.nodeId, to, handler, fromActor)
  }

  #deadline(options: AskOptions | undefined): number {
    return askDeadline(options, this.options.askTimeoutMs)
  }

  #assertRunning(): void {
    if (this.#state !== 'running') throw new UnavailableError(ErrorCode.KERNEL_STOPPED, 'kernel stopped')
  }
}

/** Creates and starts a kernel (its worker pool is up when the promise resolves). */
export async function createKernel(options: KernelOptions = {}): Promise<Kernel> {
  const kernel = new Kernel(options)
  try {
    await kernel.start()
  } catch (err) {
    await kernel.stop().catch(() => undefined)
    throw MicaError.from(err)
  }
  return kernel
}
