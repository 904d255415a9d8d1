/**
 * The read half of the hand-written envelope codec (envelope-write.ts says why it exists): the
 * common, well-formed envelope read straight from the frame's bytes; anything else declined, for the
 * reference decoder of envelope.ts to read or refuse.
 */
import { asciiString as ascii } from '../codec/ascii.ts'
import type { Envelope } from './envelope.ts'

/**
 * Reads an envelope from exactly `bytes`: its fields as they are on the wire (`v` dropped, nil as
 * absent), `b` a view into `bytes`. Undefined when declined: anything but a fixmap or map16 of fixstr
 * keys, all known, holding `v: 1`, unsigned ints, ASCII strs and bin, ending at the last byte.
 * The kind and the required fields are the caller's to check.
 */
export function readEnvelope(bytes: Uint8Array): Envelope | undefined {
  const end = bytes.length
  if (end === 0) return undefined
  let count = bytes[0]!
  at = 1
  if ((count & 0xf0) === 0x80) count &= 0x0f
  else if (count === 0xde && end >= 3) {
    count = (bytes[1]! << 8) | bytes[2]!
    at = 3
  } else return undefined
  // fields in locals, then one object built in a fixed order: stores by computed key were half
  // the cost of a read
  let v: number | undefined
  let t: string | undefined
  let id: number | undefined
  let to: string | undefined
  let from: string | undefined
  let h: string | undefined
  let dl: number | undefined
  let ct: string | undefined
  let b: Uint8Array | undefined
  let n: number | undefined
  for (let i = 0; i < count; i++) {
    const p = at
    if (p + 2 > end) return undefined
    const kh = bytes[p]!
    if ((kh & 0xe0) !== 0xa0) return undefined
    const klen = kh & 0x1f
    const k0 = bytes[p + 1]!
    at = p + 1 + klen
    if (at >= end) return undefined
    if (bytes[at] === 0xc0) {
      at++ // nil: absent (a `v` or `t` left nil is missing, which the reference codec reports)
      continue
    }
    const key =
      klen === 1 ? k0 : klen === 2 ? (k0 << 8) | bytes[p + 2]! : klen === 4 ? from4(bytes, p + 1) : -1
    switch (key) {
      case 0x76: // v
        v = readUint(bytes, end)
        break
      case 0x74: // t
        t = readStr(bytes, end)
        break
      case 0x6964: // id
        id = readUint(bytes, end)
        break
      case 0x746f: // to
        to = readStr(bytes, end)
        break
      case FROM:
        from = readStr(bytes, end)
        break
      case 0x68: // h
        h = readStr(bytes, end)
        break
      case 0x646c: // dl
        dl = readUint(bytes, end)
        break
      case 0x6374: // ct
        ct = readStr(bytes, end)
        break
      case 0x62: // b
        b = readBin(bytes, end)
        break
      case 0x6e: // n
        n = readUint(bytes, end)
        break
      default:
        return undefined // md, e, or a key this version does not know
    }
    if (at < 0) return undefined
  }
  if (at !== end || v !== 1 || t === undefined || n === 0) return undefined
  const env = { t } as Envelope
  if (id !== undefined) env.id = id
  if (to !== undefined) env.to = to
  if (from !== undefined) env.from = from
  if (h !== undefined) env.h = h
  if (dl !== undefined) env.dl = dl
  if (ct !== undefined) env.ct = ct
  if (b !== undefined) env.b = b
  if (n !== undefined) env.n = n
  return env
}

/** The read position of readEnvelope's value readers; -1 once one declined. */
let at = 0

const FROM = 0x66726f6d

function from4(bytes: Uint8Array, p: number): number {
  return bytes[p] === 0x66 && bytes[p + 1] === 0x72 && bytes[p + 2] === 0x6f && bytes[p + 3] === 0x6d
    ? FROM
    : -1
}

const f64Bytes = new Uint8Array(8)
const f64 = new DataView(f64Bytes.buffer)

/** fixint, uint8/16/32/64 (safe range only), and a float64 holding such an integer. */
function readUint(bytes: Uint8Array, end: number): number | undefined {
  const p = at
  const vh = bytes[p]!
  if (vh < 0x80) {
    at = p + 1
    return vh
  }
  if (vh === 0xcc && p + 2 <= end) {
    at = p + 2
    return bytes[p + 1]!
  }
  if (vh === 0xcd && p + 3 <= end) {
    at = p + 3
    return (bytes[p + 1]! << 8) | bytes[p + 2]!
  }
  if (vh === 0xce && p + 5 <= end) {
    at = p + 5
    return readU32(bytes, p + 1)
  }
  if (vh === 0xcf && p + 9 <= end) {
    const hi = readU32(bytes, p + 1)
    if (hi < 0x200000) {
      at = p + 9
      return hi * 0x100000000 + readU32(bytes, p + 5)
    }
  }
  if (vh === 0xcb && p + 9 <= end) {
    // msgpackr (and other JS encoders) write an epoch-ms deadline as a float64
    for (let i = 0; i < 8; i++) f64Bytes[i] = bytes[p + 1 + i]!
    const v = f64.getFloat64(0)
    if (Number.isSafeInteger(v) && v >= 0) {
      at = p + 9
      return v
    }
  }
  at = -1
  return undefined
}

/** fixstr or str8 of ASCII. */
function readStr(bytes: Uint8Array, end: number): string | undefined {
  const p = at
  const vh = bytes[p]!
  let len: number
  let start: number
  if ((vh & 0xe0) === 0xa0) {
    len = vh & 0x1f
    start = p + 1
  } else if (vh === 0xd9 && p + 2 <= end) {
    len = bytes[p + 1]!
    start = p + 2
  } else {
    at = -1
    return undefined
  }
  const s = start + len <= end ? ascii(bytes, start, len) : undefined
  at = s === undefined ? -1 : start + len
  return s
}

/** bin 8/16/32, as a view. */
function readBin(bytes: Uint8Array, end: number): Uint8Array | undefined {
  const p = at
  const vh = bytes[p]!
  let len: number
  let start: number
  if (vh === 0xc4 && p + 2 <= end) {
    len = bytes[p + 1]!
    start = p + 2
  } else if (vh === 0xc5 && p + 3 <= end) {
    len = (bytes[p + 1]! << 8) | bytes[p + 2]!
    start = p + 3
  } else if (vh === 0xc6 && p + 5 <= end) {
    len = readU32(bytes, p + 1)
    start = p + 5
  } else {
    at = -1
    return undefined
  }
  if (start + len > end) {
    at = -1
    return undefined
  }
  at = start + len
  return bytes.subarray(start, at)
}

function readU32(bytes: Uint8Array, p: number): number {
  return ((bytes[p]! << 24) | (bytes[p + 1]! << 16) | (bytes[p + 2]! << 8) | bytes[p + 3]!) >>> 0
}
