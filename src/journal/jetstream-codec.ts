/**
 * The bytes the jetstream journal stores. nats-server 2.9 has no atomic batch publish, so one
 * append is ONE message holding all its events (expectedSeq+1 … expectedSeq+k): stored whole or not
 * at all, which is the contract's atomicity for free. Its layout, big-endian:
 *
 *   u8 version (1) | f64 ts (ms since the epoch, the journal's clock) | u32 count
 *   count × ( u32 length | payload )
 *
 * Headers: `Mica-Seq` holds the journal sequence of the LAST event in the message (the first is
 * `Mica-Seq - count + 1`), `Mica-Append` a random id of the append call that wrote it (tells a
 * retried publish of our own, de-duplicated by the server, from another writer's message with the
 * same `Nats-Msg-Id`). A snapshot in KV is `u8 version (1) | f64 ts | f64 seq | bytes`.
 * Anything that does not parse is a JournalCorruptError: refused, never skipped.
 */
import { JournalCorruptError, type JournalEvent, type Snapshot } from './journal.ts'

export const SEQ_HEADER = 'Mica-Seq'
export const APPEND_HEADER = 'Mica-Append'
const VERSION = 1
const APPEND_HEAD = 1 + 8 + 4
const SNAPSHOT_HEAD = 1 + 8 + 8

/** The size of the message `encodeAppend` would make (checked against the server's max_payload). */
export function appendSize(payloads: readonly Uint8Array[]): number {
  return payloads.reduce((sum, p) => sum + 4 + p.byteLength, APPEND_HEAD)
}

export function encodeAppend(payloads: readonly Uint8Array[], ts: number): Uint8Array {
  const out = new Uint8Array(appendSize(payloads))
  const view = new DataView(out.buffer)
  view.setUint8(0, VERSION)
  view.setFloat64(1, ts)
  view.setUint32(9, payloads.length)
  let at = APPEND_HEAD
  for (const payload of payloads) {
    view.setUint32(at, payload.byteLength)
    out.set(payload, at + 4) // a copy: the caller may reuse its buffers
    at += 4 + payload.byteLength
  }
  return out
}

/** Where a stored message came from, for the corruption report. */
export interface Origin {
  subject: string
  streamSeq: number
}

/** The events of one stored append whose last event is `lastSeq`; payloads are fresh copies. */
export function decodeAppend(data: Uint8Array, lastSeq: number, origin: Origin): JournalEvent[] {
  const corrupt = (why: string) => new JournalCorruptError(origin.subject, origin.streamSeq, why)
  if (data.byteLength < APPEND_HEAD) throw corrupt(`message of ${data.byteLength} bytes is too short`)
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
  if (view.getUint8(0) !== VERSION) throw corrupt(`unknown layout version ${view.getUint8(0)}`)
  const ts = view.getFloat64(1)
  const count = view.getUint32(9)
  const first = lastSeq - count + 1
  if (count === 0 || first < 1) throw corrupt(`${count} events cannot end at sequence ${lastSeq}`)
  const events: JournalEvent[] = []
  let at = APPEND_HEAD
  for (let i = 0; i < count; i++) {
    if (at + 4 > data.byteLength) throw corrupt(`event ${i} runs past the end`)
    const length = view.getUint32(at)
    if (at + 4 + length > data.byteLength) throw corrupt(`event ${i} runs past the end`)
    events.push({ seq: first + i, payload: new Uint8Array(data.subarray(at + 4, at + 4 + length)), ts })
    at += 4 + length
  }
  if (at !== data.byteLength) throw corrupt(`${data.byteLength - at} bytes after the last event`)
  return events
}

/** `Mica-Seq` of a stored message, checked. */
export function readSeq(value: string | undefined, origin: Origin): number {
  const seq = Number(value)
  if (!value || !Number.isSafeInteger(seq) || seq < 1)
    throw new JournalCorruptError(origin.subject, origin.streamSeq, `bad ${SEQ_HEADER} header "${value}"`)
  return seq
}

export function snapshotSize(bytes: Uint8Array): number {
  return SNAPSHOT_HEAD + bytes.byteLength
}

export function encodeSnapshot(snapshot: Snapshot): Uint8Array {
  const out = new Uint8Array(snapshotSize(snapshot.bytes))
  const view = new DataView(out.buffer)
  view.setUint8(0, VERSION)
  view.setFloat64(1, snapshot.ts)
  view.setFloat64(9, snapshot.seq)
  out.set(snapshot.bytes, SNAPSHOT_HEAD)
  return out
}

export function decodeSnapshot(data: Uint8Array, key: string): Snapshot {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
  if (data.byteLength < SNAPSHOT_HEAD || view.getUint8(0) !== VERSION)
    throw new JournalCorruptError(`snapshot ${key}`, 0, 'unknown layout')
  return {
    ts: view.getFloat64(1),
    seq: view.getFloat64(9),
    bytes: new Uint8Array(data.subarray(SNAPSHOT_HEAD)),
  }
}
