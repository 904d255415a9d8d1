/**
 * The NATS transport: point-to-point over core NATS subjects. The contract is transport.ts; peers
 * are in nats-peer.ts, the message layout in nats-wire.ts, options and addresses in nats-options.ts.
 *
 * Addresses are `nats:<token>`; a transport listening there subscribes to `<subjectPrefix>.<token>`
 * (`nats:0`: a random token). A transport that dials gets one more subject of its own,
 * `<subjectPrefix>.<random token>`, its return inbox: every message it sends to a listener names that
 * inbox in the NATS `reply` field, and the listener's inbound peer for it publishes there, naming its
 * listen subject as reply. So each direction of requests has its own subject, as TCP has two
 * connections, and the receiver of any message knows its peer without a header.
 *
 * An inbound peer's address is `nats:<token of its dialer's inbox>` (TCP gives the remote host:port).
 * A node thus has one inbox subject (its address) and, once it dials, one return subject: two
 * subscriptions per node whatever the number of peers.
 *
 * Routing rides in the envelope, not in NATS headers (issue 6 suggested headers). DESIGN fixes one
 * envelope for every hop, so a relay reads the small header map and passes the body unread on
 * threads, TCP and NATS alike; a NATS message here carries a batch of envelopes (everything a peer
 * queued in one tick), which one set of message headers could not describe; and the client encodes
 * and parses headers per message, a cost the frames do not pay. Headers mark only the rare control
 * messages (nats-wire.ts).
 *
 * Batching: what a peer queues in one tick leaves as NATS messages of length-prefixed frames
 * (framing.ts, the envelope codec of TCP), 32 frames a message at most (so both sides work at once,
 * see nats-peer.ts), each cut between frames at the server's max_payload.
 * An envelope larger than min(maxFrameBytes, max_payload - 4) is refused at `send`. The server's
 * max_payload is known once the connection is open (`listen` opens it, and so does a peer's first
 * dial): until then `send` checks maxFrameBytes alone, and a frame over max_payload is dropped with
 * a warning when it would leave.
 *
 * Peer lifecycle over a connectionless bus (see nats-peer.ts): hello request / no responders for the
 * dial, ping frames both ways when quiet and a silence timeout for a vanished peer, a bye control
 * message when a peer is closed or the transport stops. Control messages (hello, probe, bye) are the
 * only ones with headers. `listen` on a subject someone already answers on (a probe request gets an
 * answer, or no answer in time) is refused.
 *
 * Link: the connection's losses and returns (src/link.ts) go to `onLinkChange`. While it is down
 * nobody can reach this node (a frame to it comes back as a 503 and its dialers find it gone), but
 * its own peers need not go down: the kernel hears of the loss here.
 *
 * Back-pressure: each peer's outbox is bounded by maxQueuedBytes while it waits for the peer to be up;
 * once handed to the client, messages are the client's (it buffers across a server reconnect, and
 * its buffer is not counted in `queuedBytes`: the client exposes no public figure for it). The
 * client is imported when the first connection is opened (lazily); an adopted `connection` is left
 * open by `stop()`.
 */
import type { Msg, MsgHdrs, Subscription } from '@nats-io/transport-node'
import type { TimerHandle } from '../clock.ts'
import { BadRequestError, ErrorCode, UnavailableError, type MicaError } from '../errors.ts'
import { errorText, openNatsLink, type NatsLink } from '../nats/connection.ts'
import { encodeEnvelope, FrameKind } from './envelope.ts'
import { FRAME_HEADER_BYTES } from './framing.ts'
import { NatsPeer, type NatsPeerHost } from './nats-peer.ts'
import {
  parseNatsAddress,
  randomToken,
  resolveNatsOptions,
  subjectToken,
  type NatsTransportOptions,
  type ResolvedNatsOptions,
} from './nats-options.ts'
import { Control, CONTROL_HEADER, readFrames, REPLY_HEADER, splitFrames } from './nats-wire.ts'
import type { EnvelopeHandler, LinkHandler, Peer, PeerDownHandler, Transport } from './transport.ts'

export type { NatsTransportOptions } from './nats-options.ts'

const EMPTY = new Uint8Array(0)
/** Longest wait, at stop, for the server to take the byes. */
const STOP_FLUSH_MS = 1_000

export class NatsTransport implements Transport {
  readonly name = 'nats'
  readonly #options: ResolvedNatsOptions
  readonly #connection: NatsTransportOptions
  readonly #host: NatsPeerHost
  readonly #dialed = new Map<string, NatsPeer>()
  /** Inbound peers by the subject their dialer receives on. */
  readonly #inbound = new Map<string, NatsPeer>()
  readonly #onEnvelope = new Set<EnvelopeHandler>()
  readonly #onPeerDown = new Set<PeerDownHandler>()
  readonly #onLinkChange = new Set<LinkHandler>()
  readonly #subs: Subscription[] = []
  #link: NatsLink | null = null
  #linking: Promise<NatsLink> | null = null
  #headers: (() => MsgHdrs) | null = null
  #address: string | undefined
  #listening = false
  /** `{ reply }` options of publishes by inbound peers (the listen subject) and by dialed ones (the inbox). */
  #listenReply: { reply: string } | null = null
  #inboxReply: { reply: string } | null = null
  #sweep: TimerHandle | null = null
  #sweepDue = 0
  #stopped = false
  #stopping: Promise<void> | null = null

  constructor(options: NatsTransportOptions) {
    this.#options = resolveNatsOptions(options)
    this.#connection = options
    this.#host = {
      options: this.#options,
      pingFrame: encodeEnvelope({ t: FrameKind.PING }),
      frameLimit: () => {
        const payload = this.#link === null ? Infinity : this.#link.maxPayload - FRAME_HEADER_BYTES
        const max = this.#options.maxFrameBytes
        return payload < max ? { bytes: payload, byPayload: true } : { bytes: max, byPayload: false }
      },
      publish: (peer, data) => this.#publish(peer, data),
      hello: (peer) => this.#hello(peer),
      bye: (peer) => this.#bye(peer),
      deliver: (env, peer) => this.#emit(this.#onEnvelope, 'envelope', (h) => h(env, peer)),
      down: (peer, reason) => this.#emit(this.#onPeerDown, 'peer-down', (h) => h(peer, reason)),
      forget: (peer) => {
        const table: Map<string, NatsPeer> = peer.inbound ? this.#inbound : this.#dialed
        const key = peer.inbound ? peer.subject : peer.address
        if (table.get(key) === peer) table.delete(key)
      },
    }
  }

  get address(): string | undefined {
    return this.#address
  }

  async listen(address: string): Promise<string> {
    if (this.#stopped) throw stoppedError()
    if (this.#listening) {
      throw new BadRequestError(
        ErrorCode.BAD_REQUEST,
        `nats transport already listens on ${this.#address ?? 'an address'}`,
      )
    }
    const asked = parseNatsAddress(address)
    this.#listening = true
    try {
      const link = await this.#open()
      const token = asked === '0' ? randomToken() : asked
      const subject = this.#subject(token)
      if (asked !== '0') await this.#probe(link, subject, address)
      if (this.#stopped) throw stoppedError()
      this.#subs.push(link.nc.subscribe(subject, { callback: this.#onListen }))
      this.#listenReply = { reply: subject }
      // the server knows the subscription before anyone is told the address
      await flushWithin(link, this.#options.helloTimeoutMs)
      if (this.#stopped) throw stoppedError()
      this.#address = `nats:${token}`
      return this.#address
    } catch (err) {
      if (!this.#stopped) this.#listening = false
      throw err
    }
  }

  connect(address: string): Peer {
    if (this.#stopped) throw stoppedError()
    let peer = this.#dialed.get(address)
    if (peer === undefined) {
      peer = new NatsPeer(this.#host, address, this.#subject(parseNatsAddress(address)), false)
      this.#dialed.set(address, peer)
      this.#armSweep()
    }
    return peer
  }

  onEnvelope(handler: EnvelopeHandler): () => void {
    this.#onEnvelope.add(handler)
    return () => this.#onEnvelope.delete(handler)
  }

  onPeerDown(handler: PeerDownHandler): () => void {
    this.#onPeerDown.add(handler)
    return () => this.#onPeerDown.delete(handler)
  }

  onLinkChange(handler: LinkHandler): () => void {
    this.#onLinkChange.add(handler)
    return () => this.#onLinkChange.delete(handler)
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#shutdown()
    return this.#stopping
  }

  async #shutdown(): Promise<void> {
    this.#stopped = true
    this.#sweep?.cancel()
    this.#sweep = null
    // each says bye: the far sides see peer-down at once instead of after a silence
    for (const peer of [...this.#dialed.values(), ...this.#inbound.values()])
      peer.shutdown('transport stopped')
    await this.#linking?.catch(() => undefined) // a link opening now closes itself (stopped)
    const link = this.#link
    if (link === null) return
    for (const sub of this.#subs) if (!sub.isClosed()) sub.unsubscribe()
    if (link.connected) await flushWithin(link, STOP_FLUSH_MS)
    await link.close()
    if (link.owned) await handlesClosed()
  }

  /** The connection, opened on first need; a failed open is tried again on the next need. */
  #open(): Promise<NatsLink> {
    if (this.#link !== null) return Promise.resolve(this.#link)
    if (this.#linking !== null) return this.#linking
    const linking = (async () => {
      const client = await import('@nats-io/transport-node')
      this.#headers = () => client.headers()
      // the connection always reconnects; `reconnect` of these options is the peers' backoff
      const link = await openNatsLink({ ...this.#connection, reconnect: true }, 'transport')
      if (this.#stopped) {
        await link.close()
        throw stoppedError()
      }
      this.#link = link
      link.onChange((event) => this.#emit(this.#onLinkChange, 'link', (h) => h(event)))
      return link
    })()
    this.#linking = linking
    linking.catch(() => {
      if (this.#linking === linking) this.#linking = null
    })
    return linking
  }

  #subject(token: string): string {
    return `${this.#options.subjectPrefix}.${token}`
  }

  /** The token of a subject `<prefix>.<token>`, or undefined for any other subject. */
  #token(subject: string): string | undefined {
    return subjectToken(this.#options.subjectPrefix, subject)
  }

  #control(kind: Control, reply?: string): MsgHdrs {
    const headers = this.#headers!()
    headers.set(CONTROL_HEADER, kind)
    if (reply !== undefined) headers.set(REPLY_HEADER, reply)
    return headers
  }

  /** Refuses a subject someone answers on (or is subscribed to without answering). */
  async #probe(link: NatsLink, subject: string, address: string): Promise<void> {
    const headers = this.#control(Control.PROBE)
    try {
      await link.nc.request(subject, EMPTY, { timeout: this.#options.helloTimeoutMs, headers })
    } catch (err) {
      if (/no responders/i.test(errorText(err))) return
      const detail = `cannot listen on ${address}: ${subject} is in use or unreachable (${errorText(err)})`
      throw new UnavailableError(ErrorCode.UNAVAILABLE, detail, 'transport', { cause: err })
    }
    const detail = `cannot listen on ${address}: address in use (a transport answers on ${subject})`
    throw new UnavailableError(ErrorCode.UNAVAILABLE, detail, 'transport')
  }

  /** This transport's return inbox for what it dials, subscribed on first use. */
  #inbox(link: NatsLink): string {
    if (this.#inboxReply === null) {
      const subject = this.#subject(randomToken())
      this.#subs.push(link.nc.subscribe(subject, { callback: this.#onInbox }))
      this.#inboxReply = { reply: subject }
    }
    return this.#inboxReply.reply
  }

  async #hello(peer: NatsPeer): Promise<void> {
    const link = await this.#open()
    if (this.#stopped) throw stoppedError()
    // the SUB of the inbox goes out before the hello, so the server has it before the listener replies
    const headers = this.#control(Control.HELLO, this.#inbox(link))
    await link.nc.request(peer.subject, EMPTY, { timeout: this.#options.helloTimeoutMs, headers })
  }

  #bye(peer: NatsPeer): void {
    const link = this.#link
    const from = peer.inbound ? this.#listenReply : this.#inboxReply
    if (link === null || from === null || link.nc.isClosed()) return
    try {
      link.nc.publish(peer.subject, EMPTY, { reply: from.reply, headers: this.#control(Control.BYE) })
    } catch (err) {
      this.#options.logger.warn(`transport nats: bye to ${peer.address} failed: ${errorText(err)}`)
    }
  }

  #publish(peer: NatsPeer, data: Uint8Array): void {
    const link = this.#link
    const from = peer.inbound ? this.#listenReply : this.#inboxReply
    if (link === null || from === null) return // not reached: a peer is up only once both exist
    try {
      splitFrames(data, link.maxPayload, (piece) => link.nc.publish(peer.subject, piece, from))
    } catch (err) {
      // closed for good, or a server with a smaller max_payload after a reconnect: lost, as on a dropped socket
      this.#options.logger.warn(`transport nats: publish to ${peer.address} failed: ${errorText(err)}`)
    }
  }

  /** A message on the listen subject: from a dialer (its inbox in `reply`), or a control message. */
  readonly #onListen = (err: Error | null, msg: Msg): void => {
    if (err !== null) {
      this.#options.logger.warn(`transport nats: listen subscription failed: ${err.message}`)
      return
    }
    const headers = msg.headers
    if (headers !== undefined) {
      this.#listenControl(msg, headers)
      return
    }
    const from = msg.reply ?? ''
    let peer = this.#inbound.get(from)
    const token = peer === undefined ? this.#token(from) : undefined
    if (peer === undefined && token === undefined) {
      this.#dropped(msg, `no valid reply subject (${JSON.stringify(from)})`)
      return
    }
    peer?.heard()
    const why = readFrames(msg.data, this.#options.maxFrameBytes, (env) => {
      peer ??= this.#accept(from, token!) // on the first good frame: garbage makes no peer
      peer.receive(env)
    })
    if (why !== undefined) this.#dropped(msg, `bad input: ${why}`)
  }

  #listenControl(msg: Msg, headers: MsgHdrs): void {
    // a status from the server: data messages carry a reply subject, so one published while its
    // receiver was not subscribed (gone, or resubscribing after a reconnect) comes back as a 503
    if (headers.code !== 0) return
    const kind = headers.get(CONTROL_HEADER)
    if (kind === Control.HELLO) {
      const from = headers.get(REPLY_HEADER)
      const token = this.#token(from)
      if (token === undefined) {
        this.#dropped(msg, `a hello without a valid ${REPLY_HEADER} (${JSON.stringify(from)})`)
        return
      }
      const peer = this.#inbound.get(from)
      if (peer === undefined) this.#accept(from, token)
      else peer.heard()
      msg.respond(EMPTY)
    } else if (kind === Control.PROBE) {
      msg.respond(EMPTY)
    } else if (kind === Control.BYE) {
      this.#inbound.get(msg.reply ?? '')?.lost('closed by the remote')
    } else {
      this.#dropped(msg, `unknown control ${JSON.stringify(kind)}`)
    }
  }

  /** A message on the inbox: from a listener this transport dialed (its listen subject in `reply`). */
  readonly #onInbox = (err: Error | null, msg: Msg): void => {
    if (err !== null) {
      this.#options.logger.warn(`transport nats: inbox subscription failed: ${err.message}`)
      return
    }
    const token = this.#token(msg.reply ?? '')
    const peer = token === undefined ? undefined : this.#dialed.get(`nats:${token}`)
    const headers = msg.headers
    if (headers !== undefined) {
      if (headers.get(CONTROL_HEADER) === Control.BYE) peer?.lost('closed by the remote')
      // a 503 status: something this transport published found no subscriber; the status does not
      // say to whom, so each dialed peer checks with a hello (a crashed listener is down at once)
      else if (headers.code === 503) for (const dialed of this.#dialed.values()) dialed.verify()
      return
    }
    if (peer === undefined) return // for a peer closed here: lost, as on a closed socket
    peer.heard()
    const why = readFrames(msg.data, this.#options.maxFrameBytes, (env) => peer.receive(env))
    if (why !== undefined) this.#dropped(msg, `bad input: ${why}`)
  }

  #accept(from: string, token: string): NatsPeer {
    const peer = new NatsPeer(this.#host, `nats:${token}`, from, true)
    this.#inbound.set(from, peer)
    this.#armSweep()
    return peer
  }

  #dropped(msg: Msg, why: string): void {
    const sender = msg.reply || 'an unknown sender'
    this.#options.logger.warn(`transport nats: dropped a message on ${msg.subject} from ${sender}: ${why}`)
  }

  #armSweep(): void {
    if (this.#sweep !== null || this.#stopped) return
    this.#sweepDue = this.#options.clock.now() + this.#options.heartbeatMs
    this.#sweep = this.#options.clock.setTimeout(this.#onSweep, this.#options.heartbeatMs)
  }

  readonly #onSweep = (): void => {
    this.#sweep = null
    const now = this.#options.clock.now()
    // a late sweep means this process stalled: what peers sent meanwhile is still unread, judge next time
    const judge = now - this.#sweepDue <= this.#options.heartbeatMs / 2
    for (const peer of [...this.#dialed.values(), ...this.#inbound.values()]) peer.heartbeat(now, judge)
    if (this.#dialed.size + this.#inbound.size > 0) this.#armSweep()
  }

  /** A throwing handler is logged; it must not break the delivery of a message's other frames. */
  #emit<H>(handlers: Set<H>, what: string, call: (handler: H) => void): void {
    for (const handler of handlers) {
      try {
        call(handler)
      } catch (err) {
        this.#options.logger.warn(`transport nats: ${what} handler threw: ${(err as Error)?.message ?? err}`)
      }
    }
  }
}

/** Waits until the server has seen what was sent, at most `ms`; never throws. */
async function flushWithin(link: NatsLink, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))
  try {
    await Promise.race([link.nc.flush().catch(() => undefined), timeout])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * The client destroys its socket when it closes; libuv runs the handle's close callback in this loop
 * iteration's close phase or the next one, so two check phases later stop() leaves nothing behind.
 */
async function handlesClosed(): Promise<void> {
  for (let i = 0; i < 2; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}

function stoppedError(): MicaError {
  return new UnavailableError(ErrorCode.UNAVAILABLE, 'nats transport is stopped', 'transport')
}
