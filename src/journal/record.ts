/**
 * The on-disk record of the file journal: encoding, and a decoder that says exactly what is wrong with
 * bytes that are not a record, because recovery must tell a torn tail (repairable) from corruption
 * (refused). All integers little-endian.
 *
 *   header, 12 bytes
 *     0  u32  bodyLength
 *     4  u32  bodyCrc     CRC32 of the body
 *     8  u32  headerCrc   CRC32 of bytes 0..7: a flipped length is caught before it is trusted
 *   body, bodyLength bytes
 *     0  u8   format      1
 *     1  u8   flags       bit 0 COMMIT: last record of its append; bit 1 DELETE_TO: a deleteTo marker
 *     2  u16  idLength    bytes of the persistence id
 *     4  …    id          UTF-8
 *     .  u64  seq         the event's sequence (a marker: the deleteTo sequence)
 *     .  f64  ts          ms since the epoch
 *     .  …    payload     the rest (empty for a marker)
 *
 * Why a commit flag: an append of several events is written as several records; recovery keeps them
 * only if the last one (flagged) made it, so an append is all-or-nothing across a crash.
 */
import { crc32 } from 'node:zlib'

export const HEADER_BYTES = 12
const FORMAT = 1
const FIXED_BODY_BYTES = 1 + 1 + 2 + 8 + 8
export const FLAG_COMMIT = 1
export const FLAG_DELETE_TO = 2

export interface RecordFields {
  flags: number
  persistenceId: string
  seq: number
  ts: number
  payload: Uint8Array
}

// A u64 as two u32 halves (byte-identical little-endian): no BigInt per record. Sequences are safe
// integers, so the high half stays below 2^21.
const TWO_32 = 2 ** 32

export function encodeRecord(fields: RecordFields): Buffer {
  const idLength = Buffer.byteLength(fields.persistenceId, 'utf8')
  const bodyLength = FIXED_BODY_BYTES + idLength + fields.payload.byteLength
  const buf = Buffer.allocUnsafe(HEADER_BYTES + bodyLength)
  let at = HEADER_BYTES
  at = buf.writeUInt8(FORMAT, at)
  at = buf.writeUInt8(fields.flags, at)
  at = buf.writeUInt16LE(idLength, at)
  at += buf.write(fields.persistenceId, at, idLength, 'utf8')
  at = buf.writeUInt32LE(fields.seq % TWO_32, at)
  at = buf.writeUInt32LE(Math.floor(fields.seq / TWO_32), at)
  at = buf.writeDoubleLE(fields.ts, at)
  buf.set(fields.payload, at)
  const body = buf.subarray(HEADER_BYTES)
  buf.writeUInt32LE(bodyLength, 0)
  buf.writeUInt32LE(crc32(body), 4)
  buf.writeUInt32LE(crc32(buf.subarray(0, 8)), 8)
  return buf
}

export type Decoded =
  | { kind: 'record'; record: RecordFields; end: number }
  /** Fewer bytes left than the header, or than the length the header announces. */
  | { kind: 'short' }
  /** The header fails its CRC (or announces an impossible length): nothing after it can be trusted. */
  | { kind: 'bad-header' }
  /** The header is sound but the body is not; `end` is where the record would have ended. */
  | { kind: 'bad-body'; end: number; why: string }

/**
 * Decodes the record at `offset` of `buf` (which ends where the file, or the read, ends). Without
 * `withId` the persistence id is left empty (a read by id knows it: one string less per event).
 * `knownBytes`, the record's size as the index has it, stands in for the header CRC (whose job is to
 * make the length trustworthy): the length must equal it, and the body CRC still checks the bytes.
 * That is one CRC and one buffer view less per event read (a million-event recovery reads a million).
 */
export function decodeRecord(buf: Buffer, offset: number, withId = true, knownBytes?: number): Decoded {
  if (buf.length - offset < HEADER_BYTES) return { kind: 'short' }
  const bodyLength = buf.readUInt32LE(offset)
  if (knownBytes === undefined) {
    if (crc32(buf.subarray(offset, offset + 8)) !== buf.readUInt32LE(offset + 8))
      return { kind: 'bad-header' }
  } else if (HEADER_BYTES + bodyLength !== knownBytes) return { kind: 'bad-header' }
  if (bodyLength < FIXED_BODY_BYTES) return { kind: 'bad-header' }
  const start = offset + HEADER_BYTES
  const end = start + bodyLength
  if (end > buf.length) return { kind: 'short' }
  const body = buf.subarray(start, end)
  if (crc32(body) !== buf.readUInt32LE(offset + 4)) return { kind: 'bad-body', end, why: 'CRC mismatch' }
  if (body.readUInt8(0) !== FORMAT)
    return { kind: 'bad-body', end, why: `unknown format ${body.readUInt8(0)}` }
  const flags = body.readUInt8(1)
  const idLength = body.readUInt16LE(2)
  if (FIXED_BODY_BYTES + idLength > bodyLength)
    return { kind: 'bad-body', end, why: 'id longer than the record' }
  const persistenceId = withId ? body.toString('utf8', 4, 4 + idLength) : ''
  let at = 4 + idLength
  const seq = body.readUInt32LE(at) + body.readUInt32LE(at + 4) * TWO_32
  const ts = body.readDoubleLE(at + 8)
  at += 16
  // A view, not a copy: callers that keep payloads past the read buffer's life copy them.
  return { kind: 'record', record: { flags, persistenceId, seq, ts, payload: body.subarray(at) }, end }
}
