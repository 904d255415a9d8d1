/**
 * One TCP peer: the socket of the moment, its frame reader, its outbox (which outlives sockets),
 * its heartbeat bookkeeping and, for a dialed peer, its reconnect loop.
 *
 * States: idle (dialed peer not yet used) -> connecting -> up -> down (waiting out the backoff) ->
 * connecting -> ...; closed is final. An accepted peer is born up and goes straight to closed when
 * its socket goes: only the dialer reconnects. At most one timer is pending per peer (connect
 * timeout, reconnect delay or close grace), since the states they belong to exclude each other.
 */
import type { Socket } from 'node:net'
import type { TimerHandle } from '../clock.ts'
import { ErrorCode, MicaError, UnavailableError } from '../errors.ts'
import { decodeEnvelope, FrameKind, type Envelope } from './envelope.ts'
import { FrameReader } from './framing.ts'
import { backoffDelay, type ResolvedCommonOptions } from './options.ts'
import { Outbox } from './outbox.ts'
import type { Peer } from './transport.ts'

export interface TcpPeerOptions extends ResolvedCommonOptions {
  heartbeatMs: number
  connectTimeoutMs: number
  closeGraceMs: number
}

/** What a peer needs from its transport. */
export interface PeerHost {
  readonly options: TcpPeerOptions
  /** The encoded ping envelope, sent when a connection has been quiet for half a heartbeat. */
  readonly pingFrame: Uint8Array
  /** Opens a socket; `ready` is the event after which it carries frames. */
  dial(address: string): { socket: Socket; ready: 'connect' | 'secureConnect' }
  deliver(env: Envelope, peer: TcpPeer): void
  down(peer: TcpPeer, reason: MicaError): void
  /** The peer is closed for good: drop it from the transport's tables. */
  forget(peer: TcpPeer): void
}

type State = 'idle' | 'connecting' | 'up' | 'down' | 'closed'

export class TcpPeer implements Peer {
  readonly address: string
  readonly inbound: boolean
  readonly #host: PeerHost
  readonly #options: TcpPeerOptions
  readonly #outbox: Outbox
  #state: State
  #socket: Socket | null = null
  #reader: FrameReader
  #lastRx = 0
  #lastTx = 0
  #attempt = 0
  #downNotified = false
  #timer: TimerHandle | null = null
  /** Why the current socket is going away (set before destroying it, or by its 'error'). */
  #why: string | undefined
  #gone: Promise<void> = Promise.resolve()

  constructor(host: PeerHost, address: string, inbound: boolean) {
    this.#host = host
    this.#options = host.options
    this.address = address
    this.inbound = inbound
    this.#state = inbound ? 'connecting' : 'idle'
    this.#reader = new FrameReader(this.#options.maxFrameBytes)
    this.#outbox = new Outbox(this.#options.maxQueuedBytes, () => (this.#lastTx = this.#options.clock.now()))
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
    if (!this.#outbox.pushEnvelope(env, this.#options.maxFrameBytes)) return false
    if (this.#state === 'idle') this.#dial()
    return true
  }

  close(reason = 'closed'): void {
    void this.shutdown(reason)
  }

  /** Closes (writing what is queued first, within `closeGraceMs`); resolves once the socket is gone. */
  shutdown(reason: string): Promise<void> {
    if (this.#state === 'closed') return this.#gone
    const wasUp = this.#state === 'up'
    this.#state = 'closed'
    this.#cancelTimer()
    this.#host.forget(this)
    const socket = this.#socket
    if (socket === null) {
      this.#outbox.clear()
      return this.#gone
    }
    this.#why = reason
    this.#gone = new Promise((resolve) => socket.once('close', () => resolve()))
    if (wasUp) {
      this.#outbox.flushNow()
      socket.end()
      this.#timer = this.#options.clock.setTimeout(() => socket.destroy(), this.#options.closeGraceMs)
    } else {
      socket.destroy()
    }
    this.#outbox.clear()
    return this.#gone
  }

  /** An accepted socket: the peer is up at once. */
  adopt(socket: Socket): void {
    this.#watch(socket)
    this.#up(socket)
  }

  /** Called every heartbeat by the transport: close a silent connection, keep a quiet one alive. */
  heartbeat(now: number, judgeSilence: boolean): void {
    const socket = this.#socket
    if (this.#state !== 'up' || socket === null) return
    const { heartbeatMs } = this.#options
    if (judgeSilence && now - this.#lastRx >= 3 * heartbeatMs) {
      this.#drop(socket, `silent for ${now - this.#lastRx} ms (heartbeat every ${heartbeatMs} ms)`)
    } else if (now - this.#lastTx >= heartbeatMs / 2) {
      // half a period: a ping skipped by timer jitter still leaves the far side well under 3 periods
      this.#outbox.push(this.#host.pingFrame)
    }
  }

  #dial(): void {
    this.#state = 'connecting'
    const { socket, ready } = this.#host.dial(this.address)
    this.#watch(socket)
    const ms = this.#options.connectTimeoutMs
    this.#timer = this.#options.clock.setTimeout(() => {
      this.#timer = null
      this.#why = `connect timed out after ${ms} ms`
      socket.destroy()
    }, ms)
    socket.once(ready, () => {
      if (socket !== this.#socket || this.#state !== 'connecting') return
      this.#cancelTimer()
      this.#up(socket)
    })
  }

  #watch(socket: Socket): void {
    this.#socket = socket
    this.#reader = new FrameReader(this.#options.maxFrameBytes)
    socket.on('data', (chunk: Buffer) => this.#onData(socket, chunk))
    socket.on('drain', () => {
      if (socket === this.#socket) this.#outbox.drained()
    })
    socket.on('error', (err) => (this.#why ??= err.message))
    socket.on('close', () => this.#onClose(socket))
  }

  #up(socket: Socket): void {
    this.#state = 'up'
    this.#connections++
    this.#attempt = 0
    this.#downNotified = false
    this.#lastRx = this.#lastTx = this.#options.clock.now()
    // frames are batched per tick here; Nagle's delay would only add latency on top
    socket.setNoDelay(true)
    this.#outbox.attach(socket)
  }

  #onData(socket: Socket, chunk: Buffer): void {
    if (socket !== this.#socket || this.#state !== 'up') return
    this.#lastRx = this.#options.clock.now()
    try {
      this.#reader.push(chunk, this.#onFrame)
    } catch (err) {
      this.#drop(socket, `bad input: ${err instanceof MicaError ? err.detail : String(err)}`)
    }
  }

  readonly #onFrame = (body: Buffer): void => {
    // a handler may have closed the peer while earlier frames of this chunk were delivered
    if (this.#state !== 'up') return
    const env = decodeEnvelope(body)
    if (env.t !== FrameKind.PING) this.#host.deliver(env, this)
  }

  /** Closes this connection for a reason worth logging (bad input, silence). */
  #drop(socket: Socket, why: string): void {
    this.#why = why
    this.#options.logger.warn(`transport tcp: closing connection ${this.#label()}: ${why}`)
    socket.destroy()
  }

  #onClose(socket: Socket): void {
    if (socket !== this.#socket) return
    this.#socket = null
    this.#outbox.detach()
    this.#cancelTimer()
    if (this.#state === 'closed') return
    const partial = this.#reader.partialBytes
    if (partial > 0 && this.#why === undefined) {
      this.#why = `closed in the middle of a frame (${partial} bytes received)`
      this.#options.logger.warn(`transport tcp: connection ${this.#label()} ${this.#why}`)
    }
    const why = this.#why ?? 'closed by the remote'
    this.#why = undefined
    if (this.inbound) {
      this.#state = 'closed'
      this.#outbox.clear()
      this.#host.forget(this)
    } else {
      this.#state = 'down'
      const delay = backoffDelay(this.#options, this.#attempt++)
      this.#timer = this.#options.clock.setTimeout(() => {
        this.#timer = null
        if (this.#state === 'down') this.#dial()
      }, delay)
    }
    if (this.#downNotified) return
    this.#downNotified = true
    const reason = new UnavailableError(
      ErrorCode.UNAVAILABLE,
      `connection ${this.#label()} lost: ${why}`,
      'transport',
    )
    this.#host.down(this, reason)
  }

  #cancelTimer(): void {
    this.#timer?.cancel()
    this.#timer = null
  }

  #label(): string {
    return this.inbound ? `from ${this.address}` : `to ${this.address}`
  }
}
