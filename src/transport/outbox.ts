/**
 * The write side of one peer: frames queued in the same tick leave together, one socket write per
 * EARLY_FLUSH_FRAMES frames and one for the rest at the end of the tick (one buffer
 * holding every length prefix and body, built at the end of the turn, as the thread hop batches in
 * kernel/channel.ts), with back-pressure:
 * - while the socket is not writable (dialing, reconnecting, or its last write returned false and
 *   'drain' has not come) frames wait here;
 * - the bytes waiting here plus those the socket has buffered are bounded by `limit`: beyond it
 *   `push` refuses, so a peer that stops reading costs at most `limit` bytes of memory.
 * The queue outlives sockets: a dialed peer attaches each new connection to the same outbox.
 */
import { FRAME_HEADER_BYTES } from './framing.ts'

/** The part of a socket the outbox uses (a fake in tests). */
export interface OutboxSink {
  write(data: Uint8Array): boolean
  readonly writableLength: number
}

/**
 * Frames after which a batch is written at once instead of at the end of the tick: with one batch per
 * tick, two nodes fell into lock-step (each idle while the other worked); writing every 32 frames lets
 * them overlap (bench:remote, 256 in flight: about 85k -> 112k asks/s on 2 cores).
 */
export const EARLY_FLUSH_FRAMES = 32

export class Outbox {
  readonly #limit: number
  readonly #onWrite: () => void
  #bodies: Uint8Array[] = []
  /** Bytes in `#bodies` with their prefixes. */
  #bytes = 0
  #sink: OutboxSink | null = null
  #blocked = false
  #immediate: ReturnType<typeof setImmediate> | null = null

  /** `onWrite` runs after each socket write (the heartbeat counts writes as liveness). */
  constructor(limit: number, onWrite: () => void = () => {}) {
    this.#limit = limit
    this.#onWrite = onWrite
  }

  get queuedBytes(): number {
    return this.#bytes + (this.#sink?.writableLength ?? 0)
  }

  /** Frames waiting here (not yet handed to a socket). */
  get queuedFrames(): number {
    return this.#bodies.length
  }

  push(body: Uint8Array): boolean {
    const size = FRAME_HEADER_BYTES + body.byteLength
    if (this.queuedBytes + size > this.#limit) return false
    this.#bodies.push(body)
    this.#bytes += size
    // a long batch leaves early, so the far side starts on it while this side builds the rest
    if (this.#bodies.length >= EARLY_FLUSH_FRAMES && this.#sink !== null && !this.#blocked) {
      this.#cancel()
      this.#flush()
    } else this.#schedule()
    return true
  }

  /** A writable socket: queued frames leave at the end of this tick. */
  attach(sink: OutboxSink): void {
    this.#sink = sink
    this.#blocked = false
    this.#schedule()
  }

  /** The socket is gone; frames not yet written stay queued for the next one. */
  detach(): void {
    this.#sink = null
    this.#blocked = false
    this.#cancel()
  }

  /** The socket emitted 'drain'. */
  drained(): void {
    this.#blocked = false
    this.#schedule()
  }

  /** Drops everything queued and the socket (the peer is closed). */
  clear(): void {
    this.detach()
    this.#bodies = []
    this.#bytes = 0
  }

  /** Writes what is queued now (before a close), whether or not the socket asked to wait. */
  flushNow(): void {
    this.#cancel()
    this.#blocked = false
    this.#flush()
  }

  #schedule(): void {
    if (this.#immediate !== null || this.#sink === null || this.#blocked || this.#bytes === 0) return
    this.#immediate = setImmediate(this.#onImmediate)
  }

  #cancel(): void {
    if (this.#immediate === null) return
    clearImmediate(this.#immediate)
    this.#immediate = null
  }

  readonly #onImmediate = (): void => {
    this.#immediate = null
    this.#flush()
  }

  #flush(): void {
    const sink = this.#sink
    if (sink === null || this.#blocked || this.#bytes === 0) return
    const data = Buffer.allocUnsafe(this.#bytes)
    let at = 0
    for (const body of this.#bodies) {
      data.writeUInt32BE(body.byteLength, at)
      data.set(body, at + FRAME_HEADER_BYTES)
      at += FRAME_HEADER_BYTES + body.byteLength
    }
    this.#bodies = []
    this.#bytes = 0
    if (!sink.write(data)) this.#blocked = true
    this.#onWrite()
  }
}
