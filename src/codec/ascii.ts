/**
 * Short ASCII strings in msgpack, the common case of the hand-written codecs (envelopes, thread-hop
 * batches): written as a fixstr byte by byte, and decoded through a cache: the strings of envelopes and
 * thread-hop frames repeat (kinds, addresses, node ids, handler names), and finding one here costs a
 * third of making it. A direct-mapped table of at most STRINGS immutable strings per thread, shared
 * by every kernel of it without any of them seeing the others' (a hit is checked byte by byte).
 */
const STRINGS = 1024
const strings: string[] = new Array<string>(STRINGS).fill('')
const codes: number[] = []
const latin = new TextDecoder('latin1')

/** A string of ASCII bytes, or undefined (other UTF-8 goes through the reference decoder). */
export function asciiString(bytes: Uint8Array, p: number, len: number): string | undefined {
  if (len >= 32) {
    for (let i = 0; i < len; i++) if (bytes[p + i]! >= 0x80) return undefined
    return latin.decode(bytes.subarray(p, p + len))
  }
  let h = 0x811c9dc5 ^ len
  for (let i = 0; i < len; i++) {
    h ^= bytes[p + i]!
    h = Math.imul(h, 0x01000193)
  }
  const slot = (h >>> 0) & (STRINGS - 1)
  const known = strings[slot]!
  if (known.length === len) {
    let i = 0
    while (i < len && known.charCodeAt(i) === bytes[p + i]) i++
    if (i === len) return known
  }
  for (let i = 0; i < len; i++) {
    const c = bytes[p + i]!
    if (c >= 0x80) return undefined
    codes[i] = c
  }
  codes.length = len
  const s = String.fromCharCode.apply(null, codes)
  strings[slot] = s
  return s
}

/**
 * Writes `s` as a msgpack fixstr at `at` when it is ASCII and under 32 characters (room for
 * `1 + s.length` bytes is the caller's); returns the end, or -1 for any other string.
 */
export function writeShortAscii(buf: Uint8Array, at: number, s: string): number {
  const n = s.length
  if (n >= 32) return -1
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0x80) return -1
    buf[at + 1 + i] = c
  }
  buf[at] = 0xa0 | n
  return at + 1 + n
}
