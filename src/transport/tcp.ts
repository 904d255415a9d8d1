/**
 * The TCP transport (TLS when `tls` is given): `node:net` / `node:tls`, frames of a 4-byte
 * big-endian length and a msgpack envelope (framing.ts), one socket write per connection per tick
 * (outbox.ts), heartbeats, reconnect with backoff (tcp-peer.ts). The contract is transport.ts.
 *
 * Heartbeat: one sweep per transport every `heartbeatMs` (not a timer per connection) visits every
 * connection: a ping goes out on one that wrote nothing for half a period, and one that received
 * nothing for three periods is closed. Both ends ping, so no pong is needed: any frame is a sign of
 * life. The sweep runs only while the transport has peers.
 *
 * TLS is mutual: each node presents `cert`/`key`, and with `ca` both ends require and verify the
 * other's certificate against it (nodes are clients and servers of each other alike).
 */
import net from 'node:net'
import tls from 'node:tls'
import type { TimerHandle } from '../clock.ts'
import { BadRequestError, ErrorCode, UnavailableError, type MicaError } from '../errors.ts'
import { encodeEnvelope, FrameKind } from './envelope.ts'
import { TcpPeer, type PeerHost, type TcpPeerOptions } from './tcp-peer.ts'
import {
  formatHostPort,
  parseHostPort,
  readTls,
  resolveTcpOptions,
  type TcpTransportOptions,
  type TlsMaterial,
} from './tcp-options.ts'
import { forgetPeer } from './options.ts'
import type { EnvelopeHandler, Peer, PeerDownHandler, Transport } from './transport.ts'

export type { TcpTransportOptions } from './tcp-options.ts'

export class TcpTransport implements Transport {
  readonly name = 'tcp'
  readonly #options: TcpPeerOptions
  readonly #tls: TlsMaterial | undefined
  readonly #dialed = new Map<string, TcpPeer>()
  readonly #inbound = new Set<TcpPeer>()
  /** Every accepted raw socket until it closes, so stop() can end TLS handshakes in progress. */
  readonly #raw = new Set<net.Socket>()
  readonly #onEnvelope = new Set<EnvelopeHandler>()
  readonly #onPeerDown = new Set<PeerDownHandler>()
  readonly #host: PeerHost
  #server: net.Server | null = null
  #address: string | undefined
  #sweep: TimerHandle | null = null
  #sweepDue = 0
  #stopped = false
  #stopping: Promise<void> | null = null

  constructor(options: TcpTransportOptions = {}) {
    this.#options = resolveTcpOptions(options)
    this.#tls = options.tls && readTls(options.tls)
    this.#host = {
      options: this.#options,
      pingFrame: encodeEnvelope({ t: FrameKind.PING }),
      dial: (address) => this.#dial(address),
      deliver: (env, peer) => this.#emit(this.#onEnvelope, 'envelope', (h) => h(env, peer)),
      down: (peer, reason) => this.#emit(this.#onPeerDown, 'peer-down', (h) => h(peer, reason)),
      forget: (peer) => forgetPeer(this.#inbound, this.#dialed, peer),
    }
  }

  get address(): string | undefined {
    return this.#address
  }

  async listen(address: string): Promise<string> {
    if (this.#stopped) throw stoppedError()
    if (this.#server !== null) {
      throw new BadRequestError(ErrorCode.BAD_REQUEST, `tcp transport already listens on ${this.#address}`)
    }
    const { host, port } = parseHostPort(address)
    const server = this.#createServer()
    this.#server = server
    try {
      await new Promise<void>((resolve, reject) => {
        const failed = (err: Error) => {
          server.off('close', closed)
          reject(err)
        }
        // stop() during the bind: net.Server then drops the pending listen without a word
        const closed = () => {
          server.off('error', failed)
          reject(stoppedError())
        }
        server.once('error', failed)
        server.once('close', closed)
        server.listen(port, host, () => {
          server.off('error', failed)
          server.off('close', closed)
          resolve()
        })
      })
    } catch (err) {
      if (this.#stopped) throw stoppedError() // stop() closes the server and awaits its handle
      this.#server = null
      await handlesClosed()
      const detail = `cannot listen on ${address}: ${(err as Error).message}`
      throw new UnavailableError(ErrorCode.UNAVAILABLE, detail, 'transport', { cause: err })
    }
    if (this.#stopped) throw stoppedError()
    server.on('error', (err) => this.#options.logger.warn(`transport tcp: server error: ${err.message}`))
    const bound = server.address() as net.AddressInfo
    this.#address = formatHostPort(bound.address, bound.port)
    return this.#address
  }

  connect(address: string): Peer {
    if (this.#stopped) throw stoppedError()
    let peer = this.#dialed.get(address)
    if (peer === undefined) {
      parseHostPort(address)
      peer = new TcpPeer(this.#host, address, false)
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

  stop(): Promise<void> {
    this.#stopping ??= this.#shutdown()
    return this.#stopping
  }

  async #shutdown(): Promise<void> {
    this.#stopped = true
    this.#sweep?.cancel()
    this.#sweep = null
    const peers = [...this.#dialed.values(), ...this.#inbound]
    await Promise.all(peers.map((peer) => peer.shutdown('transport stopped')))
    // what is left is a handshake in progress (or a socket that outlived its grace)
    for (const socket of this.#raw) socket.destroy()
    const server = this.#server
    if (server === null) return
    await new Promise<void>((resolve) => server.close(() => resolve()))
    await handlesClosed()
  }

  #createServer(): net.Server {
    const accept = (socket: net.Socket) => this.#accept(socket)
    const material = this.#tls
    const server =
      material === undefined
        ? net.createServer(accept)
        : tls.createServer(
            {
              ...material,
              requestCert: material.ca !== undefined,
              rejectUnauthorized: true,
              handshakeTimeout: this.#options.connectTimeoutMs,
            },
            accept,
          )
    server.on('connection', (socket: net.Socket) => {
      this.#raw.add(socket)
      socket.once('close', () => this.#raw.delete(socket))
    })
    server.on('tlsClientError', (err: Error, socket: tls.TLSSocket) => {
      // a client that hung up has no address any more (tls.Server hides the raw socket that had it)
      const from = socket.remoteAddress
        ? formatHostPort(socket.remoteAddress, socket.remotePort ?? 0)
        : 'a client'
      this.#options.logger.warn(`transport tcp: TLS handshake from ${from} failed: ${err.message.trim()}`)
    })
    return server
  }

  #accept(socket: net.Socket): void {
    if (this.#stopped) {
      socket.destroy()
      return
    }
    const remote = formatHostPort(socket.remoteAddress ?? '?', socket.remotePort ?? 0)
    const peer = new TcpPeer(this.#host, remote, true)
    this.#inbound.add(peer)
    peer.adopt(socket)
    this.#armSweep()
  }

  #dial(address: string): { socket: net.Socket; ready: 'connect' | 'secureConnect' } {
    const { host, port } = parseHostPort(address)
    const material = this.#tls
    if (material === undefined) return { socket: net.connect({ host, port }), ready: 'connect' }
    return { socket: tls.connect({ host, port, ...material }), ready: 'secureConnect' }
  }

  #armSweep(): void {
    if (this.#sweep !== null || this.#stopped) return
    this.#sweepDue = this.#options.clock.now() + this.#options.heartbeatMs
    this.#sweep = this.#options.clock.setTimeout(this.#onSweep, this.#options.heartbeatMs)
  }

  readonly #onSweep = (): void => {
    this.#sweep = null
    const now = this.#options.clock.now()
    // a sweep that fires late means this process stalled (GC, CPU): what the peers sent meanwhile
    // is still unread in the socket buffers (timers run before I/O), so judge silence next time
    const stalled = now - this.#sweepDue > this.#options.heartbeatMs / 2
    for (const peer of this.#dialed.values()) peer.heartbeat(now, !stalled)
    for (const peer of this.#inbound) peer.heartbeat(now, !stalled)
    if (this.#dialed.size + this.#inbound.size > 0) this.#armSweep()
  }

  /** A throwing handler is logged; it must not break the read loop of a connection. */
  #emit<H>(handlers: Set<H>, what: string, call: (handler: H) => void): void {
    for (const handler of handlers) {
      try {
        call(handler)
      } catch (err) {
        this.#options.logger.warn(`transport tcp: ${what} handler threw: ${(err as Error)?.message ?? err}`)
      }
    }
  }
}

/**
 * A server emits 'close' (or a failed listen its 'error') before libuv has run the close callback of
 * its handle; that runs in the close phase of this loop iteration or the next, so two check phases
 * later the handle is gone and stop() leaves nothing behind.
 */
async function handlesClosed(): Promise<void> {
  for (let i = 0; i < 2; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}

function stoppedError(): MicaError {
  return new UnavailableError(ErrorCode.UNAVAILABLE, 'tcp transport is stopped', 'transport')
}
