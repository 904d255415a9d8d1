/**
 * The envelope's msgpack written and read by hand (this file writes, envelope-read.ts reads), for the fixed schema of envelope.ts: the same
 * standard msgpack map any client reads, without msgpackr's generic walk, its intermediate object of
 * checked fields, or a buffer per frame (the writer appends to the caller's buffer, the outbox's).
 * On a remote ask the envelope codec was a quarter of the CPU of each node's main thread.
 *
 * Both directions take only the common, well-formed case and otherwise answer "not mine" (-1 or
 * undefined): the caller then uses the reference codec in envelope.ts, which does the rest (maps
 * of metadata, error frames, foreign encodings such as float deadlines or str8 keys, unknown keys,
 * non-ASCII strings) and raises every validation error with its exact message. So this file never
 * decides that an envelope is invalid; it can only decline it.
 *
 * Choices on the write side: keys in a fixed order after `v` and `t`; integers in the smallest
 * msgpack int (uint64 beyond 32 bits, where msgpackr writes a float64: both are standard, the int
 * is what typed clients expect for an epoch-ms deadline); strings as str, bodies as bin.
 */
import { writeShortAscii } from '../codec/ascii.ts'
import type { Envelope } from './envelope.ts'

/** Bytes that always suffice for `env` (strings counted at 3 bytes a UTF-16 unit), or -1 if declined. */
export function envelopeBound(env: Envelope): number {
  if (env.md != null || env.e != null) return -1
  let n = 16 + env.t.length // map header, v, key and str header of t
  if (env.to != null) n += strBound(env.to)
  if (env.from != null) n += strBound(env.from)
  if (env.h != null) n += strBound(env.h)
  if (env.ct != null) n += strBound(env.ct)
  if (env.b != null) {
    if (!(env.b instanceof Uint8Array)) return -1
    n += 8 + env.b.byteLength
  }
  return n + 3 * 12 // id, dl, n: key and uint64 each
}

const strBound = (s: unknown): number => (typeof s === 'string' ? 8 + 3 * s.length : 0)

/**
 * Writes `env` at `at` (room for `envelopeBound(env)` bytes is the caller's) and returns where it
 * ended, or -1 when declined (a field of an unexpected type: the reference codec says what is wrong).
 * The kind and the required fields are the caller's to check.
 */
export function writeEnvelope(env: Envelope, buf: Uint8Array, at: number): number {
  const { id, to, from, h, dl, ct, b, n } = env
  let fields = 2
  if (id != null) {
    if (!isCount(id)) return -1
    fields++
  }
  if (to != null) {
    if (typeof to !== 'string') return -1
    fields++
  }
  if (from != null) {
    if (typeof from !== 'string') return -1
    fields++
  }
  if (h != null) {
    if (typeof h !== 'string') return -1
    fields++
  }
  if (dl != null) {
    if (!isCount(dl)) return -1
    fields++
  }
  if (ct != null) {
    if (typeof ct !== 'string') return -1
    fields++
  }
  if (b != null) fields++ // envelopeBound checked it is bytes
  if (n != null) {
    if (!isCount(n) || n === 0) return -1
    fields++
  }
  let p = at
  buf[p++] = 0x80 | fields // fixmap: at most 10 entries here
  buf[p++] = 0xa1 // "v": 1
  buf[p++] = 0x76
  buf[p++] = 0x01
  buf[p++] = 0xa1 // "t"
  buf[p++] = 0x74
  p = writeStr(buf, p, env.t)
  if (id != null) p = writeUint(buf, key2(buf, p, 0x69, 0x64), id)
  if (to != null) p = writeStr(buf, key2(buf, p, 0x74, 0x6f), to)
  if (from != null) {
    buf[p] = 0xa4
    buf[p + 1] = 0x66 // "from"
    buf[p + 2] = 0x72
    buf[p + 3] = 0x6f
    buf[p + 4] = 0x6d
    p = writeStr(buf, p + 5, from)
  }
  if (h != null) p = writeStr(buf, key1(buf, p, 0x68), h)
  if (dl != null) p = writeUint(buf, key2(buf, p, 0x64, 0x6c), dl)
  if (ct != null) p = writeStr(buf, key2(buf, p, 0x63, 0x74), ct)
  if (n != null) p = writeUint(buf, key1(buf, p, 0x6e), n)
  if (b != null) {
    p = key1(buf, p, 0x62)
    const len = b.byteLength
    if (len < 0x100) {
      buf[p++] = 0xc4
      buf[p++] = len
    } else if (len < 0x10000) {
      buf[p++] = 0xc5
      buf[p++] = len >>> 8
      buf[p++] = len & 0xff
    } else {
      buf[p++] = 0xc6
      p = writeU32(buf, p, len)
    }
    // a small body byte by byte: set() on a few bytes costs more than the loop
    if (len <= 16) for (let i = 0; i < len; i++) buf[p + i] = b[i]!
    else buf.set(b, p)
    p += len
  }
  return p
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0

function key1(buf: Uint8Array, p: number, c: number): number {
  buf[p] = 0xa1
  buf[p + 1] = c
  return p + 2
}

function key2(buf: Uint8Array, p: number, c0: number, c1: number): number {
  buf[p] = 0xa2
  buf[p + 1] = c0
  buf[p + 2] = c1
  return p + 3
}

function writeU32(buf: Uint8Array, p: number, v: number): number {
  buf[p] = v >>> 24
  buf[p + 1] = (v >>> 16) & 0xff
  buf[p + 2] = (v >>> 8) & 0xff
  buf[p + 3] = v & 0xff
  return p + 4
}

function writeUint(buf: Uint8Array, p: number, v: number): number {
  if (v < 0x80) {
    buf[p] = v
    return p + 1
  }
  if (v < 0x100) {
    buf[p] = 0xcc
    buf[p + 1] = v
    return p + 2
  }
  if (v < 0x10000) {
    buf[p] = 0xcd
    buf[p + 1] = v >>> 8
    buf[p + 2] = v & 0xff
    return p + 3
  }
  if (v < 0x100000000) {
    buf[p] = 0xce
    return writeU32(buf, p + 1, v)
  }
  buf[p] = 0xcf
  return writeU32(buf, writeU32(buf, p + 1, Math.floor(v / 0x100000000)), v >>> 0)
}

const utf8 = new TextEncoder()

/** A str: ASCII byte by byte (the common case: kinds, addresses, node ids), the rest via encodeInto. */
function writeStr(buf: Uint8Array, at: number, s: string): number {
  const short = writeShortAscii(buf, at, s)
  if (short >= 0) return short
  const len = Buffer.byteLength(s, 'utf8')
  let p = at
  if (len < 32) buf[p++] = 0xa0 | len
  else if (len < 0x100) {
    buf[p++] = 0xd9
    buf[p++] = len
  } else if (len < 0x10000) {
    buf[p++] = 0xda
    buf[p++] = len >>> 8
    buf[p++] = len & 0xff
  } else {
    buf[p++] = 0xdb
    p = writeU32(buf, p, len)
  }
  utf8.encodeInto(s, buf.subarray(p, p + len))
  return p + len
}
