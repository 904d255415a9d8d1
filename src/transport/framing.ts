/**
 * Length-prefixed framing on a byte stream: a frame is a 4-byte big-endian length followed by that
 * many bytes (one msgpack envelope). The length is checked against the limit as soon as its four
 * bytes are in, before a byte of the body is buffered or a buffer allocated for it: a peer claiming
 * a 100 MB frame costs nothing but the 4 bytes it sent.
 */
import { BadRequestError, ErrorCode } from '../errors.ts'

export const FRAME_HEADER_BYTES = 4

export type FrameSink = (body: Buffer) => void

export class FrameReader {
  readonly #maxFrameBytes: number
  readonly #header = Buffer.alloc(FRAME_HEADER_BYTES)
  #headerFill = 0
  /** The body being assembled across chunks, sized from its prefix. */
  #body: Buffer | null = null
  #bodyFill = 0

  constructor(maxFrameBytes: number) {
    this.#maxFrameBytes = maxFrameBytes
  }

  /** Bytes of an unfinished frame (0 between frames): a close now cuts a frame short. */
  get partialBytes(): number {
    return this.#body === null ? this.#headerFill : FRAME_HEADER_BYTES + this.#bodyFill
  }

  /**
   * Splits `chunk` into frames for `sink`, in order. A frame wholly inside the chunk is passed as a
   * view (no copy); one split across chunks is assembled in a buffer of exactly its size.
   * Throws MESSAGE_TOO_LARGE on a length over the limit; the stream is unusable after that.
   */
  push(chunk: Buffer, sink: FrameSink): void {
    let at = 0
    while (at < chunk.length) {
      if (this.#body !== null) {
        const body = this.#body
        const take = Math.min(body.length - this.#bodyFill, chunk.length - at)
        chunk.copy(body, this.#bodyFill, at, at + take)
        this.#bodyFill += take
        at += take
        if (this.#bodyFill === body.length) {
          this.#body = null
          sink(body)
        }
        continue
      }
      let length: number
      if (this.#headerFill === 0 && chunk.length - at >= FRAME_HEADER_BYTES) {
        length = chunk.readUInt32BE(at)
        at += FRAME_HEADER_BYTES
        this.#check(length)
        if (chunk.length - at >= length) {
          sink(chunk.subarray(at, at + length))
          at += length
          continue
        }
      } else {
        const take = Math.min(FRAME_HEADER_BYTES - this.#headerFill, chunk.length - at)
        chunk.copy(this.#header, this.#headerFill, at, at + take)
        this.#headerFill += take
        at += take
        if (this.#headerFill < FRAME_HEADER_BYTES) return
        this.#headerFill = 0
        length = this.#header.readUInt32BE(0)
        this.#check(length)
      }
      if (length === 0) {
        sink(Buffer.alloc(0))
        continue
      }
      // allocUnsafe is safe here: the buffer is passed on only once every byte was written
      this.#body = Buffer.allocUnsafe(length)
      this.#bodyFill = 0
    }
  }

  #check(length: number): void {
    if (length > this.#maxFrameBytes) {
      throw new BadRequestError(
        ErrorCode.MESSAGE_TOO_LARGE,
        `frame of ${length} bytes exceeds the limit of ${this.#maxFrameBytes} bytes`,
        'transport',
      )
    }
  }
}
