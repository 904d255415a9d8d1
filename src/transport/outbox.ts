/**
 * The write side of one peer: frames queued in the same tick leave together, one socket write per
 * EARLY_FLUSH_FRAMES frames and one for the rest at the end of the tick (as the thread hop batches
 * in kernel/channel.ts); when the last tick carried a single frame (1 in flight), the first frame of
 * a tick is written at once instead of waiting for the end of the tick. With back-pressure:
 * - while the socket is not writable (dialing, reconnecting, or its last write returned false and
 *   'drain' has not come) frames wait here;
 * - the bytes waiting here plus those the socket has buffered are bounded by `limit`: beyond it
 *   `push` refuses, so a peer that stops reading costs at most `limit` bytes of memory.
 * The queue outlives sockets: a dialed peer attaches each new connection to the same outbox.
 *
 * Frames are written straight into a slab (the envelope encoded in place behind its length prefix),
 * and a flush hands the socket a view of the slab's unwritten part: no buffer per frame and no copy
 * into a batch buffer. Writing only ever appends, so a view the socket still holds is never touched;
 * a full slab is replaced (what is queued moves over) and the old one lives as long as its writes.
 */
import { BadRequestError, ErrorCode } from '../errors.ts'
import { appendEnvelope, packEnvelope, type Envelope } from './envelope.ts'
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

/** A fresh slab's size; a frame larger than that gets a slab of its own size. */
export const SLAB_BYTES = 64 * 1024

const EMPTY = Buffer.alloc(0)

export class Outbox {
  readonly #limit: number
  readonly #onWrite: () => void
  readonly #earlyFlushFrames: number
  #slab: Buffer = EMPTY
  /** Queued frames are `#slab[#start, #end)`, prefixes included. */
  #start = 0
  #end = 0
  #frames = 0
  /** Frames queued in this tick, and in the last one (1: one at a time, nothing to batch with). */
  #tickFrames = 0
  #lastTick = 0
  readonly #room = { need: 0 }
  #sink: OutboxSink | null = null
  #blocked = false
  #immediate: ReturnType<typeof setImmediate> | null = null

  /**
   * `onWrite` runs after each socket write (the heartbeat counts writes as liveness);
   * `earlyFlushFrames` is where a long batch is cut (a sink with a cost per write may want fewer cuts).
   */
  constructor(limit: number, onWrite: () => void = () => {}, earlyFlushFrames = EARLY_FLUSH_FRAMES) {
    this.#limit = limit
    this.#onWrite = onWrite
    this.#earlyFlushFrames = earlyFlushFrames
  }

  get queuedBytes(): number {
    return this.#end - this.#start + (this.#sink?.writableLength ?? 0)
  }

  /** Frames waiting here (not yet handed to a socket). */
  get queuedFrames(): number {
    return this.#frames
  }

  /** Queues an encoded frame body; false when the queue is full. */
  push(body: Uint8Array): boolean {
    const size = body.byteLength
    if (this.queuedBytes + FRAME_HEADER_BYTES + size > this.#limit) return false
    this.#ensure(FRAME_HEADER_BYTES + size)
    this.#slab.set(body, this.#end + FRAME_HEADER_BYTES)
    this.#commit(size)
    return true
  }

  /**
   * Encodes `env` into the queue; false when the queue is full. Throws what encodeEnvelope throws,
   * and MESSAGE_TOO_LARGE for an envelope over `maxFrameBytes` (nothing is queued then).
   */
  pushEnvelope(env: Envelope, maxFrameBytes: number): boolean {
    let end = appendEnvelope(env, this.#slab, this.#end + FRAME_HEADER_BYTES, this.#room)
    if (end < 0 && this.#room.need >= 0) {
      this.#ensure(FRAME_HEADER_BYTES + this.#room.need)
      end = appendEnvelope(env, this.#slab, this.#end + FRAME_HEADER_BYTES, this.#room)
    }
    if (end < 0) {
      const body = packEnvelope(env) // the reference codec: it throws for an envelope it refuses
      checkFrame(body.byteLength, maxFrameBytes)
      return this.push(body)
    }
    const size = end - this.#end - FRAME_HEADER_BYTES
    checkFrame(size, maxFrameBytes)
    if (this.queuedBytes + FRAME_HEADER_BYTES + size > this.#limit) return false
    this.#commit(size)
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
    this.#slab = EMPTY
    this.#start = this.#end = this.#frames = 0
  }

  /** Writes what is queued now (before a close), whether or not the socket asked to wait. */
  flushNow(): void {
    this.#cancel()
    this.#blocked = false
    this.#flush()
  }

  /** Room for `bytes` more after `#end`: a new slab, holding what is queued, when this one is full. */
  #ensure(bytes: number): void {
    if (this.#end + bytes <= this.#slab.length) return
    const queued = this.#end - this.#start
    // doubling: a socket that waits for 'drain' lets the queue grow without copying it again and again
    const slab = Buffer.allocUnsafe(Math.max(SLAB_BYTES, 2 * (queued + bytes)))
    this.#slab.copy(slab, 0, this.#start, this.#end)
    this.#slab = slab
    this.#start = 0
    this.#end = queued
  }

  /** The body of `size` bytes after `#end + 4` is written: prefix it and queue it. */
  #commit(size: number): void {
    const slab = this.#slab
    const at = this.#end
    slab[at] = size >>> 24
    slab[at + 1] = (size >>> 16) & 0xff
    slab[at + 2] = (size >>> 8) & 0xff
    slab[at + 3] = size & 0xff
    this.#end = at + FRAME_HEADER_BYTES + size
    this.#frames++
    if (this.#sink === null || this.#blocked) return
    // one frame a tick (1 in flight): it leaves now, not at the end of the tick; frames after it in
    // the same tick are batched as usual, and a busier tick turns this off for the next one
    if (++this.#tickFrames === 1 && this.#lastTick === 1 && this.#immediate === null) {
      this.#flush()
      this.#immediate = setImmediate(this.#onImmediate) // the end of this tick
      return
    }
    // a long batch leaves early, so the far side starts on it while this side builds the rest
    if (this.#frames >= this.#earlyFlushFrames) this.#flush()
    this.#schedule()
  }

  #schedule(): void {
    if (this.#immediate !== null || this.#sink === null || this.#blocked) return
    this.#immediate = setImmediate(this.#onImmediate)
  }

  #cancel(): void {
    if (this.#immediate === null) return
    clearImmediate(this.#immediate)
    this.#immediate = null
  }

  /** The end of a tick in which frames were queued. */
  readonly #onImmediate = (): void => {
    this.#immediate = null
    this.#lastTick = this.#tickFrames
    this.#tickFrames = 0
    this.#flush()
  }

  #flush(): void {
    const sink = this.#sink
    if (sink === null || this.#blocked || this.#end === this.#start) return
    const data = this.#slab.subarray(this.#start, this.#end)
    this.#start = this.#end
    this.#frames = 0
    // a slab grown for one big frame is not kept for the small ones after it
    if (this.#slab.length > SLAB_BYTES) this.#slab = EMPTY
    if (this.#slab === EMPTY) this.#start = this.#end = 0
    if (!sink.write(data)) this.#blocked = true
    this.#onWrite()
  }
}

function checkFrame(size: number, maxFrameBytes: number): void {
  if (size > maxFrameBytes) {
    throw new BadRequestError(
      ErrorCode.MESSAGE_TOO_LARGE,
      `envelope of ${size} bytes exceeds the frame limit of ${maxFrameBytes} bytes`,
      'transport',
    )
  }
}
