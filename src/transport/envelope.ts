/**
 * The wire envelope of DESIGN ("Envelope and wire"): one msgpack map per frame,
 * `{ v: 1, t, id, to, from, h, dl, md, ct, b, e, n }`, the same on every network hop.
 *
 * Decisions:
 * - `t` is a string (`'ask'`, `'stream-data'`): a few bytes more than a small integer, but a frame
 *   read by a Go or Python client (or a packet dump) says what it is. The thread hop, which never
 *   leaves the process, keeps its positional tuples (kernel/frames.ts).
 * - `id` (correlation / stream id) is a non-negative safe integer, as on the thread hop.
 * - `e` carries an error frame's `{ id, code, detail, status }`; `n` carries a stream-credit
 *   frame's credit count. Both are additions to DESIGN's field list, used by one kind each.
 * - Absent fields are omitted when encoding; on decode `nil` counts as absent (encoders without
 *   omit-empty write it) and unknown keys are dropped, so v1 can grow by optional fields only:
 *   anything incompatible must bump `v`.
 * - Validation is the same in both directions: encoding refuses what the far side would refuse
 *   (ENCODE_FAILED), so one bad envelope fails its sender instead of closing a shared connection.
 *   Decoding refuses bad bytes, a wrong version, an unknown kind, a wrong field type or a missing
 *   required field (DECODE_FAILED); oversized metadata is BAD_REQUEST in both, as in the kernel.
 * - `b` is decoded as a view into the received bytes (no copy): a routing hop passes it on unread.
 * - Speed: the common envelopes are written and read by hand (envelope-write.ts, envelope-read.ts); msgpackr and the
 *   checks below are the reference, used for whatever the hand codec declines, so both give one
 *   behaviour (tests compare them byte for byte and error for error).
 */
import { Packr } from 'msgpackr'
import { BadRequestError, ErrorCode, type WireError } from '../errors.ts'
import { readEnvelope } from './envelope-read.ts'
import { envelopeBound, writeEnvelope } from './envelope-write.ts'

export const ENVELOPE_VERSION = 1

export const FrameKind = {
  SEND: 'send',
  ASK: 'ask',
  REPLY: 'reply',
  ERROR: 'error',
  PUBLISH: 'publish',
  STREAM_OPEN: 'stream-open',
  STREAM_DATA: 'stream-data',
  STREAM_END: 'stream-end',
  STREAM_CANCEL: 'stream-cancel',
  STREAM_CREDIT: 'stream-credit',
  /** Heartbeat: consumed by the transport, never delivered. */
  PING: 'ping',
} as const
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind]

export interface Envelope {
  t: FrameKind
  /** Correlation id (ask/reply/error) or stream id. */
  id?: number
  /** Address (`kind/id[@node]`) or, for publish, the topic. */
  to?: string
  from?: string
  /** Handler name. */
  h?: string
  /** Deadline, epoch ms. */
  dl?: number
  md?: Record<string, string>
  /** Content type of `b`; absent means the default. */
  ct?: string
  b?: Uint8Array
  /** An error frame's error, Go Micro's shape. */
  e?: WireError
  /** A stream-credit frame's credits. */
  n?: number
}

/** Same limits as the kernel applies before a message travels (kernel/body.ts). */
export const MAX_METADATA_ENTRIES = 64
export const MAX_METADATA_BYTES = 8_192

const KINDS = new Set<string>(Object.values(FrameKind))

const REQUIRED: Readonly<Record<FrameKind, readonly (keyof Envelope)[]>> = {
  send: ['to', 'h'],
  ask: ['id', 'to', 'h'],
  reply: ['id'],
  error: ['id', 'e'],
  publish: ['to'],
  'stream-open': ['id', 'to', 'h'],
  'stream-data': ['id'],
  'stream-end': ['id'],
  'stream-cancel': ['id'],
  'stream-credit': ['id', 'n'],
  ping: [],
}

/** A field check answers what is wrong with a value, or undefined when it is fine. */
type Check = (value: unknown) => string | undefined

const isString: Check = (v) => (typeof v === 'string' ? undefined : 'must be a string')
const isCount: Check = (v) =>
  Number.isSafeInteger(v) && (v as number) >= 0 ? undefined : 'must be an unsigned integer'
const isPositive: Check = (v) =>
  Number.isSafeInteger(v) && (v as number) > 0 ? undefined : 'must be a positive integer'
const isBytes: Check = (v) => (v instanceof Uint8Array ? undefined : 'must be bin (bytes)')
const isWireError: Check = (v) => {
  if (typeof v !== 'object' || v === null) return 'must be a map { id, code, detail, status }'
  const e = v as Record<string, unknown>
  const ok = [e.id, e.code, e.detail].every((s) => typeof s === 'string') && Number.isInteger(e.status)
  return ok ? undefined : 'must be { id, code, detail: string, status: integer }'
}

const FIELDS: ReadonlyArray<readonly [string, Check]> = [
  ['id', isCount],
  ['to', isString],
  ['from', isString],
  ['h', isString],
  ['dl', isCount],
  ['md', () => undefined], // checked by checkMetadata (its own error code)
  ['ct', isString],
  ['b', isBytes],
  ['e', isWireError],
  ['n', isPositive],
]
const CHECKS = new Map<string, Check>(FIELDS)

// One Packr for the module: with `useRecords: false` it holds no shared structures, only a scratch
// buffer it never hands out twice, so two kernels in one process cannot observe each other through it.
const packr = new Packr({ useRecords: false, moreTypes: false, int64AsType: 'number', variableMapSize: true })

export function encodeEnvelope(env: Envelope): Uint8Array {
  const bound = fastBound(env)
  if (bound >= 0) {
    const buf = Buffer.allocUnsafe(bound) // from the shared pool: a Uint8Array of its own cost 4x the encoding
    const end = writeEnvelope(env, buf, 0)
    if (end >= 0) return buf.subarray(0, end)
  }
  return packEnvelope(env)
}

/**
 * Appends `env` to `buf` at `at` when the hand codec takes it; returns the end, or -1 when `buf`
 * lacks room (`room` says how much is needed) or the envelope needs the reference codec (`room` -1).
 * Throws as encodeEnvelope does for an envelope that cannot be sent.
 */
export function appendEnvelope(env: Envelope, buf: Uint8Array, at: number, room: { need: number }): number {
  const bound = fastBound(env)
  room.need = bound
  if (bound < 0 || at + bound > buf.length) return -1
  const end = writeEnvelope(env, buf, at)
  if (end < 0) room.need = -1
  return end
}

/** The hand codec's bound for `env`, or -1 when the reference codec must take it. */
function fastBound(env: Envelope): number {
  const t = env.t
  if (typeof t !== 'string' || !KINDS.has(t)) return -1
  for (const key of REQUIRED[t]) if (env[key] == null) return -1
  return envelopeBound(env)
}

/** The reference encoder: msgpackr after the full checks (throws ENCODE_FAILED / BAD_REQUEST). */
export function packEnvelope(env: Envelope): Uint8Array {
  const wire = copyChecked(env as unknown as Record<string, unknown>, ErrorCode.ENCODE_FAILED, {
    v: ENVELOPE_VERSION,
  })
  return packr.pack(wire)
}

export function decodeEnvelope(bytes: Uint8Array): Envelope {
  const env = readEnvelope(bytes)
  if (env !== undefined && KINDS.has(env.t)) {
    let complete = true
    for (const key of REQUIRED[env.t]) if (env[key] === undefined) complete = false
    if (complete) return env
  }
  return unpackEnvelope(bytes)
}

/** The reference decoder: msgpackr, then the full checks (throws DECODE_FAILED / BAD_REQUEST). */
export function unpackEnvelope(bytes: Uint8Array): Envelope {
  let raw: unknown
  try {
    raw = packr.unpack(bytes)
  } catch (err) {
    throw invalid(ErrorCode.DECODE_FAILED, `not a msgpack envelope (${(err as Error).message})`)
  }
  // a plain object only: msgpackr also yields arrays, Dates, its 0xc1 marker and extension objects
  if (typeof raw !== 'object' || raw === null || Object.getPrototypeOf(raw) !== Object.prototype) {
    throw invalid(ErrorCode.DECODE_FAILED, 'envelope must be a msgpack map')
  }
  const map = raw as Record<string, unknown>
  if (map.v !== ENVELOPE_VERSION) {
    throw invalid(ErrorCode.DECODE_FAILED, `unsupported envelope version ${show(map.v)}`)
  }
  return copyChecked(map, ErrorCode.DECODE_FAILED, {}) as unknown as Envelope
}

/** Validates `src` and copies its known, present fields into `out` (nothing else crosses). */
function copyChecked(src: Record<string, unknown>, code: ErrorCode, out: Record<string, unknown>) {
  const t = src.t
  if (typeof t !== 'string' || !KINDS.has(t)) throw invalid(code, `unknown frame kind ${show(t)}`)
  out.t = t
  // visit only the keys present (an envelope carries 3 to 8 of them): looking up every field of
  // FIELDS on objects of many shapes was a tenth of a remote ask
  for (const key in src) {
    const check = CHECKS.get(key)
    if (check === undefined) continue // `v`, `t`, or unknown: dropped
    const value = src[key]
    if (value === undefined || value === null) continue
    const problem = check(value)
    if (problem !== undefined) throw invalid(code, `envelope field ${key} ${problem}`)
    out[key] = key === 'md' ? checkMetadata(value) : key === 'e' ? copyError(value as WireError) : value
  }
  for (const key of REQUIRED[t as FrameKind]) {
    if (out[key] === undefined) throw invalid(code, `${t} frame without ${key}`)
  }
  return out
}

/** Metadata: a small flat map of strings. */
function checkMetadata(md: unknown): Record<string, string> {
  if (typeof md !== 'object' || md === null || Array.isArray(md) || md instanceof Uint8Array) {
    throw invalid(ErrorCode.BAD_REQUEST, 'envelope field md must be a map of strings')
  }
  let entries = 0
  let bytes = 0
  for (const [k, v] of Object.entries(md)) {
    if (typeof v !== 'string') throw invalid(ErrorCode.BAD_REQUEST, `metadata ${k} must be a string`)
    entries++
    bytes += k.length + v.length
  }
  if (entries > MAX_METADATA_ENTRIES) {
    throw invalid(ErrorCode.BAD_REQUEST, `more than ${MAX_METADATA_ENTRIES} metadata entries`)
  }
  if (bytes > MAX_METADATA_BYTES) {
    throw invalid(ErrorCode.BAD_REQUEST, `metadata larger than ${MAX_METADATA_BYTES} bytes`)
  }
  return md as Record<string, string>
}

function copyError(e: WireError): WireError {
  return { id: e.id, code: e.code, detail: e.detail, status: e.status }
}

function invalid(code: ErrorCode, detail: string): BadRequestError {
  return new BadRequestError(code, detail, 'transport')
}

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
  if (value instanceof Uint8Array) return `bytes(${value.byteLength})`
  return typeof value === 'object' && value !== null ? typeof value : String(value)
}
