/**
 * MsgpackWriter: standard msgpack written by hand for the values mica moves most — small integers,
 * epoch-ms deadlines, short ASCII strings, bytes, nulls, booleans, floats, arrays and plain objects of
 * those. It packs the thread hop's batches (./kernel/channel.ts) and message bodies (./msgpack.ts):
 * msgpackr's generic walk cost 660-770 ns a frame to pack (bench:remote, node B's router: 14% of its
 * time) and about 300 ns for a body like `{ by: 1 }`; this writes each value with one branch on its
 * type, 3-5x faster. Reading stays with msgpackr, whose unpack was as fast as a hand-written reader
 * (measured: 258 vs 272 ns an ask frame).
 *
 * Anything outside that subset (undefined, bigint, a Map, a class instance, a Date, a function,
 * nesting deeper than 16) makes the writer decline, and the caller packs the value with msgpackr.
 * Both write standard msgpack that msgpackr reads back to the same values (integers beyond 32 bits
 * as uint64, where msgpackr writes a float64: both decode to the same number).
 */

import { writeShortAscii } from './ascii.ts'

const INITIAL_BYTES = 64 * 1024
/** A scratch buffer grown past this for one large value is dropped after it, not kept for ever. */
const MAX_KEPT_BYTES = 1024 * 1024
/** packShared: a slab is given up when less than SHARED_ROOM_BYTES of it is left. */
const SHARED_SLAB_BYTES = INITIAL_BYTES
const SHARED_ROOM_BYTES = 1024
const utf8Encoder = new TextEncoder()

/**
 * Writes values into one growing scratch buffer. `pack` copies each value out exactly (bytes that own
 * their buffer, to transfer); `packShared` returns a view of a slab that later values are written
 * after, never over (as Node's Buffer pool and msgpackr do: an ArrayBuffer per small body cost more
 * than writing it).
 */
export class MsgpackWriter {
  #buf = new Uint8Array(INITIAL_BYTES)
  #view = new DataView(this.#buf.buffer)
  #at = 0
  /** Where the next shared value starts; bytes before it belong to views already handed out. */
  #base = 0
  #declined = false

  /** The value as owned bytes (their own ArrayBuffer, ready to transfer), or undefined if declined. */
  pack(value: unknown): Uint8Array<ArrayBuffer> | undefined {
    this.#base = 0
    if (!this.#write(value)) return undefined
    const out = this.#buf.slice(0, this.#at)
    if (this.#buf.length > MAX_KEPT_BYTES) this.#fresh()
    return out
  }

  /** The value as a view of the shared slab, or undefined if declined. */
  packShared(value: unknown): Uint8Array | undefined {
    if (this.#base > SHARED_SLAB_BYTES - SHARED_ROOM_BYTES) this.#fresh()
    const start = this.#base
    if (!this.#write(value)) return undefined
    const buf = this.#buf
    this.#base = this.#at
    const out = buf.subarray(start, this.#at)
    // a value that grew the slab past its size gets it to itself; the next starts a fresh one
    if (buf.length > SHARED_SLAB_BYTES) this.#fresh()
    return out
  }

  #write(value: unknown): boolean {
    this.#at = this.#base
    this.#declined = false
    this.#value(value, 0)
    return !this.#declined
  }

  #fresh(): void {
    this.#buf = new Uint8Array(INITIAL_BYTES)
    this.#view = new DataView(this.#buf.buffer)
    this.#base = 0
  }

  #room(n: number): void {
    if (this.#at + n <= this.#buf.length) return
    let size = this.#buf.length * 2
    while (size < this.#at + n) size *= 2
    const next = new Uint8Array(size)
    next.set(this.#buf.subarray(0, this.#at))
    this.#buf = next
    this.#view = new DataView(next.buffer)
  }

  #value(v: unknown, depth: number): void {
    if (this.#declined) return
    switch (typeof v) {
      case 'string':
        return this.#str(v)
      case 'number':
        return Number.isInteger(v) ? this.#int(v) : this.#float(v)
      case 'boolean':
        this.#room(1)
        this.#buf[this.#at++] = v ? 0xc3 : 0xc2
        return
      case 'object':
        if (v === null) {
          this.#room(1)
          this.#buf[this.#at++] = 0xc0
          return
        }
        if (depth > 16) break
        if (v instanceof Uint8Array) return this.#bin(v)
        if (Array.isArray(v)) return this.#array(v, depth)
        if (Object.getPrototypeOf(v) === Object.prototype)
          return this.#map(v as Record<string, unknown>, depth)
        break
    }
    this.#declined = true
  }

  #array(a: readonly unknown[], depth: number): void {
    const n = a.length
    this.#room(5)
    if (n < 16) this.#buf[this.#at++] = 0x90 | n
    else if (n < 0x10000) this.#head16(0xdc, n)
    else this.#head32(0xdd, n)
    for (let i = 0; i < n; i++) this.#value(a[i], depth + 1)
  }

  #map(o: Record<string, unknown>, depth: number): void {
    const keys = Object.keys(o)
    const n = keys.length
    this.#room(5)
    if (n < 16) this.#buf[this.#at++] = 0x80 | n
    else if (n < 0x10000) this.#head16(0xde, n)
    else this.#head32(0xdf, n)
    for (let i = 0; i < n; i++) {
      const k = keys[i]!
      this.#str(k)
      this.#value(o[k], depth + 1)
    }
  }

  #bin(b: Uint8Array): void {
    const len = b.byteLength
    this.#room(5 + len)
    if (len < 0x100) {
      this.#buf[this.#at++] = 0xc4
      this.#buf[this.#at++] = len
    } else if (len < 0x10000) this.#head16(0xc5, len)
    else this.#head32(0xc6, len)
    // a few bytes one by one: set() on a small array costs more than the loop
    if (len <= 16) for (let i = 0; i < len; i++) this.#buf[this.#at + i] = b[i]!
    else this.#buf.set(b, this.#at)
    this.#at += len
  }

  #str(s: string): void {
    const n = s.length
    this.#room(5 + 3 * n)
    const buf = this.#buf
    const short = writeShortAscii(buf, this.#at, s)
    if (short >= 0) {
      this.#at = short
      return
    }
    // header for the longest the UTF-8 can be, then the real length once written
    const start = this.#at
    const head = 3 * n < 0x100 ? 2 : 3 * n < 0x10000 ? 3 : 5
    const { written } = utf8Encoder.encodeInto(s, buf.subarray(start + head))
    if (head === 2) {
      buf[start] = 0xd9
      buf[start + 1] = written
    } else if (head === 3) {
      buf[start] = 0xda
      buf[start + 1] = written >>> 8
      buf[start + 2] = written & 0xff
    } else {
      buf[start] = 0xdb
      this.#view.setUint32(start + 1, written)
    }
    this.#at = start + head + written
  }

  #int(v: number): void {
    this.#room(9)
    const buf = this.#buf
    if (v >= 0) {
      if (v < 0x80) buf[this.#at++] = v
      else if (v < 0x100) {
        buf[this.#at++] = 0xcc
        buf[this.#at++] = v
      } else if (v < 0x10000) this.#head16(0xcd, v)
      else if (v < 0x100000000) this.#head32(0xce, v)
      else if (v <= Number.MAX_SAFE_INTEGER) {
        buf[this.#at] = 0xcf
        this.#view.setUint32(this.#at + 1, Math.floor(v / 0x100000000))
        this.#view.setUint32(this.#at + 5, v >>> 0)
        this.#at += 9
      } else this.#float(v)
      return
    }
    if (v >= -32) buf[this.#at++] = v & 0xff
    else if (v >= -0x80) {
      buf[this.#at++] = 0xd0
      buf[this.#at++] = v & 0xff
    } else if (v >= -0x8000) {
      buf[this.#at] = 0xd1
      this.#view.setInt16(this.#at + 1, v)
      this.#at += 3
    } else if (v >= -0x80000000) {
      buf[this.#at] = 0xd2
      this.#view.setInt32(this.#at + 1, v)
      this.#at += 5
    } else this.#float(v)
  }

  #float(v: number): void {
    this.#room(9)
    this.#buf[this.#at] = 0xcb
    this.#view.setFloat64(this.#at + 1, v)
    this.#at += 9
  }

  #head16(code: number, n: number): void {
    const buf = this.#buf
    buf[this.#at] = code
    buf[this.#at + 1] = n >>> 8
    buf[this.#at + 2] = n & 0xff
    this.#at += 3
  }

  #head32(code: number, n: number): void {
    this.#buf[this.#at] = code
    this.#view.setUint32(this.#at + 1, n)
    this.#at += 5
  }
}
