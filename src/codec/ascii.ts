/**
 * Short ASCII strings decoded from msgpack bytes, through a cache: the strings of envelopes and
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
