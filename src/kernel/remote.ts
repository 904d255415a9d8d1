/**
 * Remote: how this kernel reaches actors on other nodes and serves theirs. It registers one record
 * per hosted kind (TTL, re-registered on an interval, deregistered on stop), keeps a snapshot of
 * which nodes host each kind (refreshed by lookups and registry watch events), places a keyed
 * actor by rendezvous hashing over those nodes (so `kind/id` lands on one node while membership
 * is stable), and carries asks and sends as envelopes over the transport with their deadline and
 * metadata. Bodies are encoded once by the caller and decoded only where the handler runs.
 *
 * Failure: an ask that never left this process (the node could not be dialed, or is known down and
 * not reconnected) fails with `unavailable` and is retried on another node (it reached no handler);
 * an ask written to a connection that then dies fails with `connection_lost` (503) at once — it may
 * have run, so it is not repeated — and the node is marked down in the selector so the next calls
 * go elsewhere. The envelopes of asks, answers and streams are in ./remote-wire.ts.
 */
import { advertisable } from '../transport/advertise.ts'
import { ErrorCode, MicaError, TimeoutError, UnavailableError } from '../errors.ts'
import type { TimerHandle } from '../clock.ts'
import type { ActorDefinition } from '../actors/types.ts'
import type { Registry, RegistryNode, Service } from '../registry/registry.ts'
import type { Selector } from '../registry/selector.ts'
import type { Envelope, Peer, Transport } from '../transport/transport.ts'
import { AddressCache, type Address } from './address.ts'
import { Placement, type Where } from './placement.ts'
import { MAX_STREAM_WINDOW } from './stream-router.ts'
import type { EncodedMessage, KernelServices } from './local.ts'
import type { EncodedStreamSink, StreamRequest } from './stream-open.ts'
import type { ServingDoor } from './serving.ts'
import { envelopeSink, errorEnvelope, PeerAnswer, RemoteAsk } from './remote-wire.ts'
import { AskRetries } from './remote-retry.ts'
import { IdTable } from './id-table.ts'

export interface RemoteOptions {
  registry: Registry
  transport: Transport
  selector: Selector
  /** Where to listen, `host:port` (port 0: any free port). */
  listen: string
  /** The address other nodes dial (default: the bound address). */
  advertise: string | undefined
  registerTtlMs: number
  registerIntervalMs: number
  /** Further attempts for an ask refused before any handler ran, and the first backoff (doubling). */
  retries: number
  retryBackoffMs: number
  version: string
  metadata: Record<string, string>
  /** Keyed actors of a hosted kind may have changed hands (Placement's `moved`: see catch-up.ts). */
  moved?: (reason: string) => void
}

/** What Remote needs from the kernel: its services plus the door for envelopes from other nodes. */
export interface RemoteHost extends KernelServices {
  readonly nodeId: string
  readonly door: ServingDoor
}

const NO_SINK: EncodedStreamSink = { data() {}, end() {}, cancel() {}, credit() {} }

interface StreamRoute {
  readonly peer: string
  sink: EncodedStreamSink
  /** Ends seen, both directions: at 2 the stream is over and its route is forgotten. */
  ends: number
}

export class Remote {
  readonly #host: RemoteHost
  readonly #o: RemoteOptions
  readonly #pending = new IdTable<RemoteAsk>()
  /** Dialed peers that went down, with their connection count then (still equal: still down). */
  readonly #downAt = new Map<string, number>()
  readonly #hosted = new Map<string, Service>()
  /** Streams this node opened (by id) and streams other nodes opened here (by `peer#id`). */
  readonly #clientStreams = new Map<number, StreamRoute>()
  readonly #serverStreams = new Map<string, StreamRoute>()
  #address = ''
  #nextId = 0
  #timer: TimerHandle | undefined
  readonly #placement: Placement
  readonly #retrier: AskRetries
  /** Addresses of envelopes served here, parsed once each (the same few come again and again). */
  readonly #addresses = new AddressCache()
  #unsubscribe: (() => void)[] = []
  #stopped = false

  constructor(host: RemoteHost, options: RemoteOptions) {
    this.#host = host
    this.#o = options
    this.#retrier = new AskRetries({
      clock: host.clock,
      retries: options.retries,
      backoffMs: options.retryBackoffMs,
      markDown: (nodeId) => this.#placement.markDown(nodeId),
      forget: (id) => this.#pending.delete(id),
      place: (to) => this.place(to),
      askHere: (to, msg, deadline) => host.door.askHere(to, msg, deadline),
      launch: (ask) => this.#launch(ask),
    })
    this.#placement = new Placement({
      nodeId: host.nodeId,
      registry: options.registry,
      selector: options.selector,
      clock: host.clock,
      logger: host.logger,
      own: (kind) => this.#hosted.get(kind)?.nodes,
      moved: options.moved,
    })
  }

  get address(): string {
    return this.#address
  }

  /** Streams open through this node's transport (both directions): for stats and leak checks. */
  get openStreams(): number {
    return this.#clientStreams.size + this.#serverStreams.size
  }

  async start(): Promise<void> {
    const bound = await this.#o.transport.listen(this.#o.listen)
    this.#address = this.#o.advertise ?? advertisable(bound)
    this.#unsubscribe.push(
      this.#o.transport.onEnvelope((env, peer) => this.#onEnvelope(env, peer)),
      this.#o.transport.onPeerDown((peer, reason) => this.#onPeerDown(peer, reason)),
    )
    await this.#o.registry.start()
    this.#placement.watch()
    this.#scheduleReregister()
  }

  /** Registers a hosted kind under this node. */
  async host(def: ActorDefinition): Promise<void> {
    const record: Service = {
      name: def.kind,
      version: this.#o.version,
      metadata: {},
      endpoints: Object.keys(def.handlers).map((h) => ({ name: `${def.kind}.${h}`, metadata: {} })),
      nodes: [{ id: this.#host.nodeId, address: this.#address, metadata: { ...this.#o.metadata } }],
    }
    this.#hosted.set(def.kind, record)
    this.#placement.merge(def.kind, record.nodes)
    await this.#o.registry.register(record, { ttlMs: this.#o.registerTtlMs })
  }

  /** Where `to` lives: 'local', a remote node, or a promise of either (see Placement). */
  place(to: Address): Where | Promise<Where> {
    return this.#placement.place(to)
  }

  /**
   * An ask to `node`. Failures that prove no handler ran (the node refused it, could not be reached,
   * is stopping, or the mailbox was full) are retried after a backoff, up to `retries` times within
   * the deadline: on another node when the node itself is the problem (see `#retry`).
   * `connection_lost` (the ask was in flight) and every handler outcome are final.
   */
  request(
    to: Address,
    node: RegistryNode,
    msg: EncodedMessage,
    deadline: number,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    const retrier = this.#o.retries > 0 ? this.#retrier : undefined
    const ask = new RemoteAsk(to, node, msg, deadline, signal, this.#pending, retrier)
    this.#host.wheel.add(ask, deadline)
    this.#launch(ask)
    return ask.promise
  }

  /** Sends the current attempt of `ask` to its node, under a new correlation id. */
  #launch(ask: RemoteAsk): void {
    const id = ++this.#nextId
    ask.id = id
    ask.queuedAt = -1
    this.#pending.set(id, ask)
    const node = ask.node
    const msg = ask.msg
    const env: Envelope = {
      t: 'ask',
      id,
      to: ask.to.key,
      from: this.#host.nodeId,
      h: msg.handler,
      dl: ask.deadline,
    }
    if (msg.md !== undefined) env.md = msg.md
    if (msg.ct !== null) env.ct = msg.ct
    env.b = msg.bytes
    const peer = this.#o.transport.connect(node.address)
    if (!peer.connected) {
      // lost and not connected since: fail now (the caller retries elsewhere) rather than wait in
      // the reconnecting peer's queue until the deadline
      if (this.#downAt.get(node.address) === peer.connections) {
        ask.fail(new UnavailableError(ErrorCode.UNAVAILABLE, `${node.id} at ${node.address} is unreachable`))
        return
      }
      ask.queuedAt = peer.connections
    }
    if (this.#send(node, env)) {
      this.#placement.markUp(node.id)
    } else {
      ask.fail(new UnavailableError(ErrorCode.UNAVAILABLE, `cannot reach ${node.id} at ${node.address}`))
    }
  }

  /** Opens a stream to an actor on `node`; returns the way to the server, `toCaller` gets its answers. */
  openStream(
    to: Address,
    node: RegistryNode,
    req: StreamRequest,
    toCaller: EncodedStreamSink,
  ): EncodedStreamSink {
    const sid = ++this.#nextId
    const route: StreamRoute = { peer: node.address, sink: toCaller, ends: 0 }
    this.#clientStreams.set(sid, route)
    const open: Envelope = {
      t: 'stream-open',
      id: sid,
      to: to.key,
      from: this.#host.nodeId,
      h: req.handler,
      n: req.window,
    }
    if (req.dl !== 0) open.dl = req.dl
    if (req.md !== undefined) open.md = req.md
    if (req.ct !== null) open.ct = req.ct
    const peer = (): Peer => this.#o.transport.connect(node.address)
    const forget = (): void => void this.#clientStreams.delete(sid)
    const sink = envelopeSink(peer, sid, () => ++route.ends === 2 && forget(), forget)
    if (!this.#send(node, open)) {
      this.#clientStreams.delete(sid)
      toCaller.cancel(new UnavailableError(ErrorCode.UNAVAILABLE, `cannot reach ${node.id}`).toWire())
    }
    return sink
  }

  post(to: Address, node: RegistryNode, msg: EncodedMessage): boolean {
    const env: Envelope = { t: 'send', to: to.key, from: this.#host.nodeId, h: msg.handler }
    if (msg.md !== undefined) env.md = msg.md
    if (msg.ct !== null) env.ct = msg.ct
    env.b = msg.bytes
    return this.#send(node, env)
  }

  /** Deregisters every hosted kind, so other nodes stop routing here (first step of a stop). */
  async leave(): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    this.#timer?.cancel()
    this.#placement.stop()
    await Promise.all(
      [...this.#hosted.values()].map((s) => this.#o.registry.deregister(s).catch(() => undefined)),
    )
  }

  /** Closes the transport and the registry; asks still waiting fail (last step of a stop). */
  async close(): Promise<void> {
    await this.leave()
    for (const off of this.#unsubscribe) off()
    // as when a connection drops (#onPeerDown): an ask that never left is refused, one written to a
    // connection may have run at the other node
    const stopped = new UnavailableError(ErrorCode.KERNEL_STOPPED, 'kernel stopped')
    for (const p of this.#pending.values()) {
      const neverLeft = p.queuedAt !== -1 && p.queuedAt === this.#o.transport.connect(p.peer).connections
      p.final() // a stopping node retries nothing
      p.fail(
        neverLeft
          ? stopped
          : new UnavailableError(
              ErrorCode.CONNECTION_LOST,
              `kernel stopped while the ask was at ${p.peer}; it may have run`,
            ),
      )
    }
    await this.#o.registry.stop()
    await this.#o.transport.stop()
  }

  #scheduleReregister(): void {
    this.#timer = this.#host.clock.setTimeout(() => {
      if (this.#stopped) return
      for (const s of this.#hosted.values()) {
        this.#o.registry.register(s, { ttlMs: this.#o.registerTtlMs }).catch((err: unknown) => {
          this.#host.logger.warn(`re-register of ${s.name} failed`, (err as Error).message)
        })
      }
      // known kinds are looked up again too, so nodes that vanished without a goodbye drop out
      for (const kind of this.#placement.kinds()) void this.#placement.lookup(kind).catch(() => undefined)
      this.#scheduleReregister()
    }, this.#o.registerIntervalMs)
  }

  // ---- the wire

  #send(node: RegistryNode, env: Envelope): boolean {
    try {
      return this.#o.transport.connect(node.address).send(env)
    } catch (err) {
      this.#host.logger.warn(`envelope to ${node.id} refused`, (err as Error).message)
      return false
    }
  }

  #onEnvelope(env: Envelope, peer: Peer): void {
    switch (env.t) {
      case 'reply':
      case 'error': {
        const pending = this.#pending.get(env.id!)
        if (pending === undefined) return
        if (env.t === 'error') {
          pending.fail(MicaError.fromWire(env.e))
          return
        }
        try {
          pending.ok(this.#host.codecs.get(env.ct).decode(env.b ?? EMPTY))
        } catch (err) {
          pending.fail(MicaError.from(err))
        }
        return
      }
      case 'ask':
      case 'send':
        this.#serve(env, peer)
        return
      case 'stream-open':
        this.#serveStream(env, peer)
        return
      case 'stream-data':
      case 'stream-end':
      case 'stream-cancel':
      case 'stream-credit': {
        // a connection we dialed carries our streams' answers; an inbound one, streams to our actors
        const key = peer.inbound ? `${peer.address}#${env.id}` : env.id!
        const route = peer.inbound
          ? this.#serverStreams.get(key as string)
          : this.#clientStreams.get(key as number)
        if (route === undefined) return
        if (env.t === 'stream-data') route.sink.data(env.b ?? EMPTY)
        else if (env.t === 'stream-end') {
          route.sink.end()
          if (++route.ends === 2) {
            if (peer.inbound) this.#serverStreams.delete(key as string)
            else this.#clientStreams.delete(key as number)
          }
        } else if (env.t === 'stream-credit') route.sink.credit(env.n ?? 0)
        else {
          route.sink.cancel(env.e ?? new UnavailableError(ErrorCode.UNAVAILABLE, 'stream cancelled').toWire())
          if (peer.inbound) this.#serverStreams.delete(key as string)
          else this.#clientStreams.delete(key as number)
        }
        return
      }
      default:
        this.#host.logger.warn(`unsupported frame ${env.t} from ${peer.address}`)
    }
  }

  #serve(env: Envelope, peer: Peer): void {
    const id = env.id!
    const ask = env.t === 'ask'
    let to: Address
    try {
      to = this.#addresses.parse(env.to!)
    } catch (err) {
      if (ask) this.#answer(peer, errorEnvelope(id, MicaError.from(err)))
      return
    }
    const msg: EncodedMessage = { handler: env.h!, bytes: env.b ?? EMPTY, ct: env.ct ?? null, md: env.md }
    const now = this.#host.clock.now()
    const deadline = env.dl ?? now + this.#host.options.askTimeoutMs
    if (!ask) {
      this.#host.door.serveEncoded(to, msg, deadline, false).catch(() => undefined)
      return
    }
    if (deadline <= now) {
      const late = new TimeoutError(ErrorCode.TIMEOUT, `deadline passed before ${to.key} was reached`)
      this.#answer(peer, errorEnvelope(id, late))
      return
    }
    this.#host.door.answerEncoded(to, msg, deadline, new PeerAnswer(this, peer, id))
  }

  /** Sends an answer to the node that asked (dropped with a warning when its connection is gone). */
  answer(peer: Peer, reply: Envelope): void {
    this.#answer(peer, reply)
  }

  #answer(peer: Peer, reply: Envelope): void {
    if (!peer.send(reply)) {
      this.#host.logger.warn(`reply to ${peer.address} dropped: connection closed or full`)
    }
  }

  #serveStream(env: Envelope, peer: Peer): void {
    const key = `${peer.address}#${env.id}`
    const forget = (): void => void this.#serverStreams.delete(key)
    const route: StreamRoute = { peer: peer.address, sink: NO_SINK, ends: 0 }
    const back = envelopeSink(
      () => peer,
      env.id!,
      () => ++route.ends === 2 && forget(),
      forget,
    )
    try {
      const to = this.#addresses.parse(env.to!)
      const window = env.n ?? 0
      if (!(Number.isInteger(window) && window > 0 && window <= MAX_STREAM_WINDOW)) {
        throw new MicaError(400, ErrorCode.BAD_REQUEST, `bad stream window ${window}`)
      }
      const req: StreamRequest = { handler: env.h!, md: env.md, ct: env.ct ?? null, dl: env.dl ?? 0, window }
      route.sink = this.#host.door.serveStream(to, req, back)
      this.#serverStreams.set(key, route)
    } catch (err) {
      back.cancel(MicaError.from(err).toWire())
    }
  }

  #onPeerDown(peer: Peer, reason: MicaError): void {
    if (!peer.inbound) {
      if (this.#downAt.size >= MAX_DOWN_PEERS) this.#downAt.clear()
      this.#downAt.set(peer.address, peer.connections)
    }
    const lost = new UnavailableError(
      ErrorCode.CONNECTION_LOST,
      `connection to ${peer.address} lost (${reason.detail})`,
    )
    for (const [key, s] of [...this.#clientStreams, ...this.#serverStreams] as [
      number | string,
      StreamRoute,
    ][]) {
      if (s.peer !== peer.address) continue
      s.sink.cancel(lost.toWire())
      if (typeof key === 'number') this.#clientStreams.delete(key)
      else this.#serverStreams.delete(key)
    }
    for (const p of this.#pending.values()) {
      if (p.peer !== peer.address) continue
      // never sent (queued while dialing, no connection since): refused, retryable elsewhere;
      // written to a connection that then dropped: it may have run, so it is not repeated
      const neverLeft = p.queuedAt === peer.connections
      p.fail(
        neverLeft
          ? new UnavailableError(ErrorCode.UNAVAILABLE, `cannot reach ${peer.address} (${reason.detail})`)
          : new UnavailableError(
              ErrorCode.CONNECTION_LOST,
              `connection to ${peer.address} lost (${reason.detail}); the ask may have run`,
            ),
      )
    }
    this.#placement.markDownAddress(peer.address)
  }
}

const EMPTY = new Uint8Array(0)
const MAX_DOWN_PEERS = 10_000

/** A wildcard bind (`0.0.0.0:port`) is not dialable elsewhere: advertise this host's first external IPv4. */
