/**
 * One NATS peer: an emulated connection to another transport's subject. NATS has no connection per
 * peer, so its life is made of messages: a dialed peer is up once the listener answered its hello
 * request, and down when that request fails (nobody listens: no responders), when the far side says
 * bye, when a check after a 503 status finds nobody listening (`verify`), or when it has heard
 * nothing for `heartbeatTimeoutMs`; it then dials again with the shared
 * backoff, forever, until closed. An inbound peer (one per dialing transport, known by the subject
 * that dialer receives on) is born up and closed for good by a bye or by silence.
 *
 * States as in tcp-peer.ts: idle -> connecting -> up -> down -> connecting -> ...; closed is final.
 * The outbox (outbox.ts) is attached only while up: frames sent meanwhile wait in it, bounded, and
 * leave in order once the peer is up again. What is queued in a tick leaves as NATS messages of at
 * most 32 frames (each cut at the server's max_payload by the transport).
 */
import type { TimerHandle } from '../clock.ts'
import { BadRequestError, ErrorCode, MicaError, UnavailableError } from '../errors.ts'
import { FrameKind, type Envelope } from './envelope.ts'
import { backoffDelay, type ResolvedCommonOptions } from './options.ts'
import { EARLY_FLUSH_FRAMES, Outbox, type OutboxSink } from './outbox.ts'
import type { Peer } from './transport.ts'

export interface NatsPeerOptions extends ResolvedCommonOptions {
  heartbeatMs: number
  heartbeatTimeoutMs: number
}

/** What a peer needs from its transport. */
export interface NatsPeerHost {
  readonly options: NatsPeerOptions
  readonly pingFrame: Uint8Array
  /** The largest envelope that can leave now, and whether the server's max_payload is what limits it. */
  frameLimit(): { bytes: number; byPayload: boolean }
  /** Publishes frames to the peer's subject, with this transport's subject for the peer as reply. */
  publish(peer: NatsPeer, data: Uint8Array): void
  /** The dial: resolves when the listener answered, rejects (with why) otherwise. */
  hello(peer: NatsPeer): Promise<void>
  /** Tells the far side this peer is closed. */
  bye(peer: NatsPeer): void
  deliver(env: Envelope, peer: NatsPeer): void
  down(peer: NatsPeer, reason: MicaError): void
  forget(peer: NatsPeer): void
}

type State = 'idle' | 'connecting' | 'up' | 'down' | 'closed'

/**
 * A long batch leaves as one NATS message every NATS_EARLY_FLUSH_FRAMES frames, as on TCP: with a
 * whole tick in one message, two nodes took turns (each idle while the other worked on the wave);
 * 32 frames a message let them overlap (bench:nats, 256 in flight: 43-57k -> 51-61k asks/s).
 */
const NATS_EARLY_FLUSH_FRAMES = EARLY_FLUSH_FRAMES

export class NatsPeer implements Peer {
  readonly address: string
  readonly inbound: boolean
  /** The subject this peer's frames are published to. */
  readonly subject: string
  readonly #host: NatsPeerHost
  readonly #options: NatsPeerOptions
  readonly #outbox: Outbox
  readonly #sink: OutboxSink
  #state: State
  #lastRx = 0
  #lastTx = 0
  #attempt = 0
  #downNotified = false
  #timer: TimerHandle | null = null
  /** Bumped on every dial and loss, so a hello answered late does not revive a peer. */
  #generation = 0
  #verifying = false

  constructor(host: NatsPeerHost, address: string, subject: string, inbound: boolean) {
    this.#host = host
    this.#options = host.options
    this.address = address
    this.subject = subject
    this.inbound = inbound
    this.#outbox = new Outbox(
      this.#options.maxQueuedBytes,
      () => (this.#lastTx = this.#options.clock.now()),
      NATS_EARLY_FLUSH_FRAMES,
    )
    this.#sink = {
      write: (data) => {
        this.#host.publish(this, data)
        return true
      },
      writableLength: 0,
    }
    this.#state = 'idle'
    if (inbound) this.#up()
  }

  #connections = 0

  get connections(): number {
    return this.#connections
  }

  get connected(): boolean {
    return this.#state === 'up'
  }

  get queuedBytes(): number {
    return this.#outbox.queuedBytes
  }

  send(env: Envelope): boolean {
    if (this.#state === 'closed') return false
    const limit = this.#host.frameLimit()
    try {
      if (!this.#outbox.pushEnvelope(env, limit.bytes)) return false
    } catch (err) {
      if (limit.byPayload && err instanceof MicaError && err.code === ErrorCode.MESSAGE_TOO_LARGE) {
        const detail = `${err.detail} (the NATS server's max_payload, less the 4-byte frame prefix)`
        throw new BadRequestError(ErrorCode.MESSAGE_TOO_LARGE, detail, 'transport')
      }
      throw err
    }
    if (this.#state === 'idle') this.#dial()
    return true
  }

  close(reason = 'closed'): void {
    this.shutdown(reason)
  }

  /** Writes what is queued (when up), says bye to the far side, and closes; no peer-down here. */
  shutdown(_reason: string): void {
    if (this.#state === 'closed') return
    const state = this.#state
    this.#state = 'closed'
    this.#generation++
    this.#cancelTimer()
    this.#host.forget(this)
    if (state === 'up') this.#outbox.flushNow()
    // a peer never dialed is unknown over there; any other may still be known (silence is one-sided)
    if (state !== 'idle') this.#host.bye(this)
    this.#outbox.clear()
  }

  /** A data message from the far side: it is alive. */
  heard(): void {
    this.#lastRx = this.#options.clock.now()
  }

  /** One envelope of a data message (after `heard`). */
  receive(env: Envelope): void {
    if (this.#state !== 'up') return // as on TCP: what arrives for a connection that is gone is lost
    if (env.t !== FrameKind.PING) this.#host.deliver(env, this)
  }

  /** The far side closed, a hello failed, or silence: down (dialed) or closed (inbound). */
  lost(why: string): void {
    if (this.#state === 'closed') return
    this.#generation++
    this.#outbox.detach()
    this.#cancelTimer()
    if (this.inbound) {
      this.#state = 'closed'
      this.#outbox.clear()
      this.#host.forget(this)
    } else {
      this.#state = 'down'
      this.#timer = this.#options.clock.setTimeout(
        () => {
          this.#timer = null
          if (this.#state === 'down') this.#dial()
        },
        backoffDelay(this.#options, this.#attempt++),
      )
    }
    if (this.#downNotified) return
    this.#downNotified = true
    const label = this.inbound ? `from ${this.address}` : `to ${this.address}`
    this.#host.down(
      this,
      new UnavailableError(ErrorCode.UNAVAILABLE, `connection ${label} lost: ${why}`, 'transport'),
    )
  }

  /**
   * Something sent to a subject nobody subscribes to: if it was this peer's, a hello finds no
   * responders and the peer is down now rather than after the silence timeout. One check at a time.
   */
  verify(): void {
    if (this.#state !== 'up' || this.#verifying) return
    this.#verifying = true
    const generation = this.#generation
    this.#host.hello(this).then(
      () => (this.#verifying = false),
      (err: unknown) => {
        this.#verifying = false
        const why = err instanceof Error ? err.message : String(err)
        // only a certain answer: a timeout may be a slow server, the heartbeat judges that
        if (generation === this.#generation && this.#state === 'up' && /no responders/i.test(why)) {
          this.lost(`nobody listens any more (${why})`)
        }
      },
    )
  }

  /** Called every heartbeat by the transport: down when silent, a ping when quiet. */
  heartbeat(now: number, judgeSilence: boolean): void {
    if (this.#state !== 'up') return
    const { heartbeatMs, heartbeatTimeoutMs } = this.#options
    if (judgeSilence && now - this.#lastRx >= heartbeatTimeoutMs) {
      const why = `silent for ${now - this.#lastRx} ms (heartbeat every ${heartbeatMs} ms)`
      this.#options.logger.warn(`transport nats: peer ${this.#label()} ${why}`)
      this.lost(why)
    } else if (now - this.#lastTx >= heartbeatMs / 2) {
      this.#outbox.push(this.#host.pingFrame)
    }
  }

  #dial(): void {
    this.#state = 'connecting'
    const generation = ++this.#generation
    this.#host.hello(this).then(
      () => {
        if (generation === this.#generation && this.#state === 'connecting') this.#up()
      },
      (err: unknown) => {
        if (generation !== this.#generation || this.#state !== 'connecting') return
        this.lost(`hello failed: ${err instanceof Error ? err.message : String(err)}`)
      },
    )
  }

  #up(): void {
    this.#state = 'up'
    this.#connections++
    this.#attempt = 0
    this.#downNotified = false
    this.#lastRx = this.#lastTx = this.#options.clock.now()
    this.#outbox.attach(this.#sink)
  }

  #cancelTimer(): void {
    this.#timer?.cancel()
    this.#timer = null
  }

  #label(): string {
    return this.inbound ? `from ${this.address}` : `to ${this.address}`
  }
}
