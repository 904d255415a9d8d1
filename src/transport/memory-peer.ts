/**
 * One end of an in-memory connection (memory.ts). The two ends point at each other; frames queued
 * in a tick are handed to the other end at the end of the tick, in order. States as in
 * tcp-peer.ts: idle -> connecting -> up -> down -> connecting -> ...; closed is final, and an
 * accepted end is born up and never reconnects. The dial itself runs on the next tick, so a
 * failed dial reports peer-down asynchronously, as on TCP.
 */
import type { TimerHandle } from '../clock.ts'
import { BadRequestError, ErrorCode, UnavailableError, type MicaError } from '../errors.ts'
import { decodeEnvelope, encodeEnvelope, FrameKind, type Envelope } from './envelope.ts'
import { FRAME_HEADER_BYTES } from './framing.ts'
import type { ResolvedCommonOptions } from './options.ts'
import type { Peer } from './transport.ts'

export interface MemoryHost {
  readonly options: ResolvedCommonOptions
  delay(attempt: number): number
  /** The other end of a new connection to `address`, or null when nobody accepts there. */
  accept(address: string, dialer: MemoryPeer): MemoryPeer | null
  ephemeral(): string
  deliver(env: Envelope, peer: MemoryPeer): void
  down(peer: MemoryPeer, reason: MicaError): void
  forget(peer: MemoryPeer): void
}

type State = 'idle' | 'connecting' | 'up' | 'down' | 'closed'

export class MemoryPeer implements Peer {
  readonly address: string
  readonly inbound: boolean
  /** This end's address as the other end sees it (a fresh ephemeral one per dial). */
  localAddress = ''
  readonly #host: MemoryHost
  #state: State
  #remote: MemoryPeer | null = null
  #queue: Uint8Array[] = []
  #bytes = 0
  #immediate: ReturnType<typeof setImmediate> | null = null
  #timer: TimerHandle | null = null
  #attempt = 0
  #downNotified = false

  constructor(host: MemoryHost, address: string, inbound: boolean) {
    this.#host = host
    this.address = address
    this.inbound = inbound
    this.#state = inbound ? 'up' : 'idle'
    if (inbound) this.#connections = 1
  }

  #connections = 0

  get connections(): number {
    return this.#connections
  }

  get connected(): boolean {
    return this.#state === 'up'
  }

  get queuedBytes(): number {
    return this.#bytes
  }

  send(env: Envelope): boolean {
    if (this.#state === 'closed') return false
    const body = encodeEnvelope(env)
    const { maxFrameBytes, maxQueuedBytes } = this.#host.options
    if (body.byteLength > maxFrameBytes) {
      const detail = `envelope of ${body.byteLength} bytes exceeds the frame limit of ${maxFrameBytes} bytes`
      throw new BadRequestError(ErrorCode.MESSAGE_TOO_LARGE, detail, 'transport')
    }
    const size = FRAME_HEADER_BYTES + body.byteLength
    if (this.#bytes + size > maxQueuedBytes) return false
    this.#queue.push(body)
    this.#bytes += size
    if (this.#state === 'idle') this.#state = 'connecting'
    this.#schedule()
    return true
  }

  /** Hands over what is queued, then closes both ends (the other end sees peer-down). */
  close(_reason?: string): void {
    if (this.#state === 'closed') return
    if (this.#state === 'up') this.#flush()
    this.#state = 'closed'
    this.#timer?.cancel()
    this.#timer = null
    this.#clear()
    this.#host.forget(this)
    const remote = this.#remote
    this.#remote = null
    if (remote !== null) remote.#lost('closed by the remote')
  }

  /** Called by the accepting transport: this (new, inbound) end is joined to `dialer`. */
  join(dialer: MemoryPeer): void {
    this.#remote = dialer
  }

  #schedule(): void {
    if (this.#immediate !== null) return
    if (this.#state === 'connecting' || (this.#state === 'up' && this.#queue.length > 0)) {
      this.#immediate = setImmediate(this.#tick)
    }
  }

  readonly #tick = (): void => {
    this.#immediate = null
    if (this.#state === 'connecting') this.#dial()
    if (this.#state === 'up') this.#flush()
  }

  #dial(): void {
    this.localAddress = this.#host.ephemeral()
    const remote = this.#host.accept(this.address, this)
    if (remote === null) {
      this.#lost(`nobody listens on ${this.address}`)
      return
    }
    remote.join(this)
    this.#remote = remote
    this.#state = 'up'
    this.#connections++
    this.#attempt = 0
    this.#downNotified = false
  }

  #flush(): void {
    const queue = this.#queue
    this.#queue = []
    this.#bytes = 0
    for (const body of queue) {
      const remote = this.#remote
      if (remote === null) return // a handler closed the connection: the rest is lost, as on TCP
      remote.#receive(body)
    }
  }

  #receive(body: Uint8Array): void {
    if (this.#state !== 'up') return
    const limit = this.#host.options.maxFrameBytes
    if (body.byteLength > limit) {
      // what TCP does when the far side allows larger frames than this one
      const why = `bad input: frame of ${body.byteLength} bytes exceeds the limit of ${limit} bytes`
      this.#host.options.logger.warn(`transport memory: closing connection with ${this.address}: ${why}`)
      const remote = this.#remote
      this.#lost(why)
      if (remote !== null) remote.#lost('closed by the remote')
      return
    }
    const env = decodeEnvelope(body)
    if (env.t !== FrameKind.PING) this.#host.deliver(env, this)
  }

  #lost(why: string): void {
    this.#remote = null
    if (this.#state === 'closed') return
    if (this.inbound) {
      this.#state = 'closed'
      this.#clear()
      this.#host.forget(this)
    } else {
      this.#state = 'down'
      this.#timer = this.#host.options.clock.setTimeout(() => {
        this.#timer = null
        if (this.#state !== 'down') return
        this.#state = 'connecting'
        this.#tick()
      }, this.#host.delay(this.#attempt++))
    }
    if (this.#downNotified) return
    this.#downNotified = true
    const label = this.inbound ? `from ${this.address}` : `to ${this.address}`
    this.#host.down(
      this,
      new UnavailableError(ErrorCode.UNAVAILABLE, `connection ${label} lost: ${why}`, 'transport'),
    )
  }

  #clear(): void {
    if (this.#immediate !== null) clearImmediate(this.#immediate)
    this.#immediate = null
    this.#queue = []
    this.#bytes = 0
  }
}
