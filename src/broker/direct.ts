/**
 * The embedded `direct` broker (Go Micro's HTTP broker, on mica's transport): no server. Each broker
 * owns a Transport and listens on its own address; its subscriptions are written into its registry
 * record (direct-table.ts); publishers route from a table kept current by `registry.watch`, so a
 * publish never asks the registry, and deliver over the transport to the subscribing nodes.
 *
 * Publish: one `publish` envelope per target node, `{ id, to: topic, from: nodeId, b, ct, md, h }`.
 * `h` lists what the node was picked for, space-separated: `*` for its plain subscriptions (every
 * node with a matching one), then each queue group for which it was picked (one node per group,
 * round-robin among nodes with a member, nodes that just failed avoided); absent `h` means `*`. The
 * receiver hands the message to all its matching plain subscriptions (when `*`) and to one local
 * member of each listed group, then answers `reply` with the same `id`, or `error` for a frame it
 * refuses (bad topic, missing field, too large), and keeps serving. Subscriptions of the publishing
 * node itself are served in-process (a microtask per receiver), never through the transport.
 *
 * Guarantee: at-most-once with bounded best-effort retry. A send the transport refuses, a lost
 * connection, or no ack within `ackTimeoutMs` puts the message in a bounded backlog, retried with
 * doubling delays (a queue group's share goes to another live member when there is one) up to
 * `maxAttempts` sends and `maxAgeMs`; then, or when the backlog is full (oldest first), it is dropped,
 * counted in `dropped` and passed to `onDrop`. A message whose ack was lost may arrive twice; a
 * node that leaves the registry is forgotten with what was bound for its plain subscriptions.
 * A subscription is live locally when `subscribe` resolves (its record registered); remote
 * publishers see it once their watch event arrives.
 */
import { advertisable } from '../transport/advertise.ts'
import { BadRequestError, ErrorCode, MicaError, UnavailableError } from '../errors.ts'
import type { Envelope, Peer } from '../transport/transport.ts'
import type { Broker, BrokerHandler, PublishMessage, SubscribeOptions, Subscription } from './broker.ts'
import { LocalSubscriptions, PLAIN, type Entry } from './direct-local.ts'
import { Backlog, InFlight, retryDelay, type Pending } from './direct-backlog.ts'
import {
  resolveDirectOptions,
  type DirectBrokerOptions,
  type ResolvedDirectOptions,
} from './direct-options.ts'
import { NodeRecord } from './direct-record.ts'
import { RemoteTable, subKey } from './direct-table.ts'
import { BrokerGuard } from './guard.ts'
import { checkQueue, checkTopic, matches } from './topic.ts'
import { checkMessage } from './validate.ts'

export type { DirectBrokerOptions } from './direct-options.ts'

type Part = { broadcast: boolean; queues: string[] }

export class DirectBroker implements Broker {
  readonly name = 'direct'
  readonly #o: ResolvedDirectOptions
  readonly #guard: BrokerGuard
  readonly #table: RemoteTable
  readonly #inFlight = new InFlight()
  readonly #backlog: Backlog
  readonly #peers = new Map<string, Peer>()
  readonly #suspect = new Map<string, number>()
  readonly #turns = new Map<string, number>()
  readonly #record: NodeRecord
  readonly #local: LocalSubscriptions
  readonly #loggedFrom = new Set<string>()
  #off: (() => void)[] = []
  #address = ''
  #nextId = 1
  #dropped = 0
  #badFrames = 0
  #sweep: { cancel(): void } | null = null

  constructor(options: DirectBrokerOptions) {
    this.#o = resolveDirectOptions(options)
    this.#guard = new BrokerGuard('direct', options.onError)
    this.#local = new LocalSubscriptions(this.#guard)
    this.#backlog = new Backlog(this.#o.backlog, (p, reason) => this.#drop(p, reason))
    this.#record = new NodeRecord({
      registry: this.#o.registry,
      service: this.#o.service,
      nodeId: this.#o.nodeId,
      ttlMs: this.#o.registerTtlMs,
      intervalMs: this.#o.registerIntervalMs,
      clock: this.#o.clock,
      warn: (what, error) => this.#warn(what, error),
    })
    this.#table = new RemoteTable({
      registry: this.#o.registry,
      service: this.#o.service,
      self: this.#o.nodeId,
      logger: this.#o.logger,
      onGone: (id, address) => this.#gone(id, address),
    })
  }

  get handlerErrors(): number {
    return this.#guard.errors
  }
  /** Messages given up: backlog full, retries exhausted, refused by the receiver. */
  get dropped(): number {
    return this.#dropped
  }
  /** Messages sent and not yet acknowledged, plus those waiting for a retry. */
  get pending(): number {
    return this.#inFlight.size + this.#backlog.size
  }
  /** Publish frames refused because they broke the rules. */
  get badFrames(): number {
    return this.#badFrames
  }
  get nodeId(): string {
    return this.#o.nodeId
  }
  /** The advertised address, once started. */
  get address(): string {
    return this.#address
  }

  /** What this broker knows of another node's subscriptions (from the registry). */
  subscriptionsOf(nodeId: string): { topic: string; queue?: string }[] {
    const subs = this.#table.get(nodeId)?.subs ?? []
    return subs.map((s) => (s.queue === undefined ? { topic: s.topic } : { topic: s.topic, queue: s.queue }))
  }

  /** Listens, registers this node and reads the table. A start that fails is final (stop() cleans up). */
  async start(): Promise<void> {
    this.#guard.beginStart()
    const { transport } = this.#o
    try {
      const bound = await transport.listen(this.#o.listen)
      this.#address = this.#o.advertise ?? advertisable(bound)
      this.#off.push(
        transport.onEnvelope((env, peer) => this.#onEnvelope(env, peer)),
        transport.onPeerDown((peer, reason) => this.#onPeerDown(peer, reason.message)),
      )
      await this.#table.start()
      await this.#record.start(this.#address)
    } catch (error) {
      await this.stop()
      const detail = `broker direct cannot start: ${(error as Error)?.message ?? error}`
      throw new UnavailableError(ErrorCode.UNAVAILABLE, detail, 'broker', { cause: error })
    }
    if (!this.#guard.started()) {
      throw new UnavailableError(ErrorCode.UNAVAILABLE, 'broker direct stopped while starting', 'broker')
    }
  }

  async stop(): Promise<void> {
    if (!this.#guard.stop()) return
    this.#sweep?.cancel()
    this.#sweep = null
    this.#local.clear()
    this.#inFlight.clear()
    this.#backlog.clear()
    for (const off of this.#off) off()
    this.#off = []
    this.#table.stop()
    await this.#record.stop()
    this.#peers.clear()
    await this.#o.transport.stop()
  }

  async publish(topic: string, message: PublishMessage): Promise<void> {
    const tokens = checkTopic(topic, false)
    const checked = checkMessage(topic, message)
    this.#guard.assertLive()
    const self = this.#o.nodeId
    const local = this.#local.match(tokens)
    for (const entry of local.plain) this.#local.deliver(entry, checked)
    const { broadcast, queues } = this.#table.route(tokens)
    const plan = new Map<string, Part>()
    for (const node of broadcast) part(plan, node.id).broadcast = true
    for (const q of new Set([...queues.keys(), ...local.groups.keys()])) {
      const ids = (queues.get(q) ?? []).map((n) => n.id)
      if (local.groups.has(q)) ids.push(self)
      const pick = this.#pick(q, ids, undefined)
      if (pick === self) this.#local.deliverOne(q, local.groups.get(q)!, checked)
      else part(plan, pick).queues.push(q)
    }
    const now = this.#o.clock.now()
    for (const [node, p] of plan) this.#send({ message: checked, node, ...p, attempt: 0, firstAt: now })
  }

  async subscribe(
    topic: string,
    handler: BrokerHandler,
    options: SubscribeOptions = {},
  ): Promise<Subscription> {
    const pattern = checkTopic(topic, true)
    const queue = checkQueue(options.queue)
    this.#guard.assertLive()
    const key = subKey(topic, queue)
    let added: boolean
    try {
      added = this.#record.add(key)
    } catch (error) {
      const why = (error as Error).message
      const detail = `broker direct: this node's subscriptions do not fit its registry record: ${why}`
      throw new BadRequestError(ErrorCode.BAD_REQUEST, detail, 'broker')
    }
    const entry: Entry = { pattern, queue, handler, active: true }
    this.#local.add(entry)
    const unsubscribe = async (): Promise<void> => {
      if (!this.#local.remove(entry) || !this.#record.remove(key) || !this.#guard.live) return
      await this.#record.register().catch((e: unknown) => this.#warn('re-register failed', e))
    }
    if (added) {
      try {
        await this.#record.register()
      } catch (error) {
        await unsubscribe()
        const detail = `broker direct cannot register the subscription: ${(error as Error)?.message ?? error}`
        throw new UnavailableError(ErrorCode.UNAVAILABLE, detail, 'broker', { cause: error })
      }
    }
    return queue === undefined ? { topic, unsubscribe } : { topic, queue, unsubscribe }
  }

  // ---- sending, acks and retries

  #send(p: Pending): void {
    const next: Pending = { ...p, attempt: p.attempt + 1 }
    const node = this.#table.get(p.node)
    if (node === undefined) return this.#failed(next, `node ${p.node} is unknown`)
    const m = p.message
    const h = [...(p.broadcast ? [PLAIN] : []), ...p.queues].join(' ')
    const id = this.#nextId++
    const env: Envelope = { t: 'publish', id, to: m.topic, from: this.#o.nodeId, b: m.body, h }
    if (Object.keys(m.metadata).length > 0) env.md = m.metadata
    if (m.contentType !== undefined) env.ct = m.contentType
    let sent: boolean
    try {
      sent = this.#peer(node.address).send(env)
    } catch (error) {
      return this.#drop(next, `refused by the transport: ${(error as Error)?.message ?? error}`)
    }
    if (!sent) return this.#failed(next, `transport queue to ${node.address} is full or closed`)
    this.#inFlight.add(id, next, this.#o.clock.now() + this.#o.ackTimeoutMs)
    this.#arm()
  }

  /** A send that did not make it: retried later unless its attempts or age are used up. */
  #failed(p: Pending, reason: string): void {
    const now = this.#o.clock.now()
    const delay = retryDelay(p.attempt, this.#o.retryMs, this.#o.retryMaxMs)
    this.#suspect.set(p.node, now + delay)
    if (p.attempt >= this.#o.maxAttempts)
      return this.#drop(p, `${reason}; gave up after ${p.attempt} attempts`)
    if (now - p.firstAt >= this.#o.maxAgeMs)
      return this.#drop(p, `${reason}; older than ${this.#o.maxAgeMs} ms`)
    this.#backlog.add(p, now + delay)
    this.#arm()
  }

  /** Plans a retry again from the current table: plain subscriptions on the same node, groups anywhere. */
  #retry(p: Pending): void {
    const tokens = p.message.topic.split('.')
    const self = this.#o.nodeId
    const plan = new Map<string, Part>()
    const node = this.#table.get(p.node)
    if (p.broadcast && node?.subs.some((s) => s.queue === undefined && matches(s.pattern, tokens))) {
      part(plan, p.node).broadcast = true
    }
    if (p.queues.length > 0) {
      const { queues } = this.#table.route(tokens)
      const local = this.#local.match(tokens)
      for (const q of p.queues) {
        const ids = (queues.get(q) ?? []).map((n) => n.id)
        if (local.groups.has(q)) ids.push(self)
        if (ids.length === 0) {
          this.#drop(p, `no member of queue group ${q} is left`)
          continue
        }
        const pick = this.#pick(q, ids, p.node)
        if (pick === self) this.#local.deliverOne(q, local.groups.get(q)!, p.message)
        else part(plan, pick).queues.push(q)
      }
    }
    for (const [id, parts] of plan) this.#send({ ...p, node: id, ...parts })
  }

  #drop(p: Pending, reason: string): void {
    this.#dropped++
    try {
      this.#o.onDrop(p.message, reason)
    } catch {
      // a failing drop hook must not break the retry loop; the count still holds
    }
  }

  /** One node among `ids` for group `q`, in turns, avoiding `avoid` and recently failed nodes when it can. */
  #pick(q: string, ids: string[], avoid: string | undefined): string {
    const now = this.#o.clock.now()
    const others = ids.filter((id) => id !== avoid)
    const live = others.filter((id) => (this.#suspect.get(id) ?? 0) <= now)
    const from = live.length > 0 ? live : others.length > 0 ? others : ids
    const turn = this.#turns.get(q) ?? 0
    this.#turns.set(q, (turn + 1) % Number.MAX_SAFE_INTEGER)
    return from[turn % from.length]!
  }

  #peer(address: string): Peer {
    let peer = this.#peers.get(address)
    if (peer === undefined) this.#peers.set(address, (peer = this.#o.transport.connect(address)))
    return peer
  }

  #arm(): void {
    if (this.#sweep !== null || !this.#guard.live) return
    if (this.#inFlight.size === 0 && this.#backlog.size === 0) return
    const every = Math.max(5, Math.floor(Math.min(this.#o.ackTimeoutMs, this.#o.retryMs) / 2))
    this.#sweep = this.#o.clock.setTimeout(() => {
      this.#sweep = null
      if (!this.#guard.live) return
      const now = this.#o.clock.now()
      for (const p of this.#inFlight.takeExpired(now))
        this.#failed(p, `no ack within ${this.#o.ackTimeoutMs} ms`)
      for (const p of this.#backlog.takeDue(now)) this.#retry(p)
      this.#arm()
    }, every)
  }

  #onPeerDown(peer: Peer, why: string): void {
    if (peer.inbound || this.#peers.get(peer.address) !== peer) return
    // closed, so frames it still queues are not sent again behind our retries
    this.#peers.delete(peer.address)
    peer.close('peer down')
    const ids = new Set(this.#table.byAddress(peer.address).map((n) => n.id))
    for (const p of this.#inFlight.takeNodes(ids)) this.#failed(p, why)
  }

  #gone(id: string, address: string): void {
    if (this.#table.byAddress(address).every((n) => n.id === id)) {
      this.#peers.get(address)?.close('node left the registry')
      this.#peers.delete(address)
    }
    this.#suspect.delete(id)
    for (const p of this.#inFlight.takeNodes(new Set([id]))) this.#retry(p)
  }

  // ---- receiving

  #onEnvelope(env: Envelope, peer: Peer): void {
    if (!this.#guard.live) return
    if (env.t === 'publish') return this.#receive(env, peer)
    if (env.t !== 'reply' && env.t !== 'error') return
    const p = this.#inFlight.take(env.id ?? -1)
    if (p === undefined) return
    if (env.t === 'reply') this.#suspect.delete(p.node)
    else this.#drop(p, `refused by node ${p.node}: ${env.e?.code} ${env.e?.detail}`)
  }

  #receive(env: Envelope, peer: Peer): void {
    const id = env.id ?? 0
    try {
      this.#local.receive(env)
      peer.send({ t: 'reply', id })
    } catch (error) {
      this.#badFrames++
      const e = MicaError.from(error, 'broker')
      if (!this.#loggedFrom.has(peer.address) && this.#loggedFrom.size < 1024) {
        this.#loggedFrom.add(peer.address)
        this.#o.logger.warn(`broker direct: refused a publish frame from ${peer.address}: ${e.detail}`)
      }
      try {
        peer.send({ t: 'error', id, e: e.toWire() })
      } catch {
        // the peer is closed or the frame too big: nothing more to tell it
      }
    }
  }

  #warn(what: string, error: unknown): void {
    this.#o.logger.warn(`broker direct: ${what}: ${(error as Error)?.message ?? error}`)
  }
}

function part(plan: Map<string, Part>, node: string): Part {
  let p = plan.get(node)
  if (p === undefined) plan.set(node, (p = { broadcast: false, queues: [] }))
  return p
}
