/**
 * What a NATS message of the transport carries. A data message is a run of length-prefixed frames
 * (framing.ts: 4-byte big-endian length, one msgpack envelope each) and no headers; its NATS `reply`
 * field names the subject the sender wants answers on. A control message (hello, probe, bye) is the
 * only kind with headers: `Mica-Transport: <kind>`, and for hello `Mica-Reply: <subject>` (the
 * request's own reply field is the client's request inbox). Control messages are rare, so the
 * client's header cost is paid only on them.
 */
import { MicaError } from '../errors.ts'
import { decodeEnvelope, type Envelope } from './envelope.ts'
import { FRAME_HEADER_BYTES } from './framing.ts'

export const CONTROL_HEADER = 'Mica-Transport'
export const REPLY_HEADER = 'Mica-Reply'

export const Control = {
  /** A dial: answered by the listener (no answer: nobody listens). */
  HELLO: 'hello',
  /** Is anyone listening here? Answered, nothing else. */
  PROBE: 'probe',
  /** The sender closed its side: the receiver's peer for it is down now. */
  BYE: 'bye',
} as const
export type Control = (typeof Control)[keyof typeof Control]

/**
 * Hands `publish` the frames of `data` in pieces of at most `maxPayload` bytes, cut between frames
 * (every frame fits: the sender refuses larger envelopes). One piece when it all fits.
 */
export function splitFrames(
  data: Uint8Array,
  maxPayload: number,
  publish: (piece: Uint8Array) => void,
): void {
  if (data.byteLength <= maxPayload) {
    publish(data)
    return
  }
  let start = 0
  let at = 0
  while (at < data.byteLength) {
    const size = FRAME_HEADER_BYTES + readLength(data, at)
    if (at + size - start > maxPayload && at > start) {
      publish(data.subarray(start, at))
      start = at
    }
    at += size
  }
  if (at > start) publish(data.subarray(start, at))
}

/**
 * Decodes the frames of one message in order, handing each envelope to `sink`. Returns undefined when
 * the whole message was good, else why the rest of it was dropped (frames before the bad one were
 * delivered).
 */
export function readFrames(
  data: Uint8Array,
  maxFrameBytes: number,
  sink: (env: Envelope) => void,
): string | undefined {
  let at = 0
  const end = data.byteLength
  while (at < end) {
    if (end - at < FRAME_HEADER_BYTES) return `${end - at} bytes after the last frame, not a frame`
    const length = readLength(data, at)
    if (length > maxFrameBytes) return `frame of ${length} bytes exceeds the limit of ${maxFrameBytes} bytes`
    const bodyAt = at + FRAME_HEADER_BYTES
    if (bodyAt + length > end) return `frame of ${length} bytes cut short at ${end - bodyAt} bytes`
    let env: Envelope
    try {
      env = decodeEnvelope(data.subarray(bodyAt, bodyAt + length))
    } catch (err) {
      return err instanceof MicaError ? err.detail : String(err)
    }
    at = bodyAt + length
    sink(env)
  }
  return undefined
}

function readLength(data: Uint8Array, at: number): number {
  return ((data[at]! << 24) | (data[at + 1]! << 16) | (data[at + 2]! << 8) | data[at + 3]!) >>> 0
}
