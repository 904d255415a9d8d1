/**
 * The in-memory transport, for tests: transports joined by a MemoryNetwork object (no module-level
 * state: two networks never see each other) and addressed `mem:<name>`; `mem:0` picks a free one.
 *
 * Same semantics as TCP where a test could tell: envelopes are encoded and validated on send and
 * decoded on delivery (so nothing is shared by reference and what TCP would refuse is refused
 * here), frames of a tick are delivered together at the end of the tick in order, a dialed peer
 * reconnects with the same backoff, frames wait in a bounded queue while it is disconnected, and
 * peer-down fires on the same occasions. There are no heartbeats: nothing here can go silent.
 * A dialing connection gets an ephemeral address of its own (`mem:<n>`), as TCP gets a port.
 */
import { BadRequestError, ErrorCode, UnavailableError } from '../errors.ts'
import { backoffDelay, forgetPeer, resolveCommonOptions, type CommonTransportOptions } from './options.ts'
import { MemoryPeer, type MemoryHost } from './memory-peer.ts'
import type { EnvelopeHandler, Peer, PeerDownHandler, Transport } from './transport.ts'

/** The shared "wire" of memory transports: who listens on which address. */
export class MemoryNetwork {
  readonly #listeners = new Map<string, MemoryTransport>()
  #next = 1

  /** Binds `address` (`mem:0` = a fresh one) to `transport`; returns the bound address. */
  bind(address: string, transport: MemoryTransport): string {
    const bound = address === 'mem:0' ? this.ephemeral() : address
    if (this.#listeners.has(bound)) {
      throw new UnavailableError(
        ErrorCode.UNAVAILABLE,
        `cannot listen on ${bound}: address in use`,
        'transport',
      )
    }
    this.#listeners.set(bound, transport)
    return bound
  }

  unbind(address: string, transport: MemoryTransport): void {
    if (this.#listeners.get(address) === transport) this.#listeners.delete(address)
  }

  lookup(address: string): MemoryTransport | undefined {
    return this.#listeners.get(address)
  }

  /** An address nobody listens on, for the dialing end of a connection. */
  ephemeral(): string {
    while (this.#listeners.has(`mem:${this.#next}`)) this.#next++
    return `mem:${this.#next++}`
  }
}

export interface MemoryTransportOptions extends CommonTransportOptions {
  network: MemoryNetwork
}

export class MemoryTransport implements Transport {
  readonly name = 'memory'
  readonly #network: MemoryNetwork
  readonly #host: MemoryHost
  readonly #dialed = new Map<string, MemoryPeer>()
  readonly #inbound = new Set<MemoryPeer>()
  readonly #onEnvelope = new Set<EnvelopeHandler>()
  readonly #onPeerDown = new Set<PeerDownHandler>()
  #address: string | undefined
  #stopped = false
  #stopping: Promise<void> | null = null

  constructor(options: MemoryTransportOptions) {
    this.#network = options.network
    const resolved = resolveCommonOptions('memory', options)
    const emit = <H>(handlers: Set<H>, what: string, call: (handler: H) => void) => {
      for (const handler of handlers) {
        try {
          call(handler)
        } catch (err) {
          resolved.logger.warn(`transport memory: ${what} handler threw: ${(err as Error)?.message ?? err}`)
        }
      }
    }
    this.#host = {
      options: resolved,
      delay: (attempt) => backoffDelay(resolved, attempt),
      // a dial succeeds when someone listens there and is not stopping
      accept: (address, dialer) => {
        const listener = this.#network.lookup(address)
        return listener === undefined ? null : listener.#accept(dialer)
      },
      ephemeral: () => this.#network.ephemeral(),
      deliver: (env, peer) => emit(this.#onEnvelope, 'envelope', (h) => h(env, peer)),
      down: (peer, reason) => emit(this.#onPeerDown, 'peer-down', (h) => h(peer, reason)),
      forget: (peer) => forgetPeer(this.#inbound, this.#dialed, peer),
    }
  }

  get address(): string | undefined {
    return this.#address
  }

  async listen(address: string): Promise<string> {
    if (this.#stopped) throw stoppedError()
    if (this.#address !== undefined) {
      throw new BadRequestError(ErrorCode.BAD_REQUEST, `memory transport already listens on ${this.#address}`)
    }
    this.#address = this.#network.bind(checkAddress(address), this)
    return this.#address
  }

  connect(address: string): Peer {
    if (this.#stopped) throw stoppedError()
    let peer = this.#dialed.get(address)
    if (peer === undefined) {
      peer = new MemoryPeer(this.#host, checkAddress(address), false)
      this.#dialed.set(address, peer)
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
    if (this.#stopping !== null) return this.#stopping
    this.#stopped = true
    if (this.#address !== undefined) this.#network.unbind(this.#address, this)
    for (const peer of [...this.#dialed.values(), ...this.#inbound]) peer.close('transport stopped')
    this.#stopping = Promise.resolve()
    return this.#stopping
  }

  #accept(dialer: MemoryPeer): MemoryPeer | null {
    if (this.#stopped) return null
    const peer = new MemoryPeer(this.#host, dialer.localAddress, true)
    this.#inbound.add(peer)
    return peer
  }
}

function checkAddress(address: string): string {
  if (!/^mem:\S+$/.test(address)) {
    throw new BadRequestError(
      ErrorCode.INVALID_ADDRESS,
      `memory transport address must be mem:<name>, got ${address}`,
    )
  }
  return address
}

function stoppedError(): UnavailableError {
  return new UnavailableError(ErrorCode.UNAVAILABLE, 'memory transport is stopped', 'transport')
}
