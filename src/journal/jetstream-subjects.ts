/**
 * Names the jetstream journal derives from a persistence id. A persistence id may hold any
 * character but NUL (up to 512 of them), while a NATS subject token may not hold `.`, `*`, `>` or
 * whitespace, and a KV key only `[-/=.\w]`. So the id becomes one token:
 *
 * - plain: the base64url (RFC 4648 §5, no padding) of its UTF-8 bytes, when that is at most
 *   MAX_PLAIN_TOKEN characters (ids up to 192 UTF-8 bytes: every id in practice). Reversible, and
 *   readable enough with `nats stream view` and a base64 decoder.
 * - hashed: `=` followed by the base64url of the SHA-256 of the id, for longer ids and for ids
 *   holding a lone UTF-16 surrogate (which UTF-8 cannot represent, so two such ids could encode
 *   alike). base64url never holds `=`, so the two forms can never meet; 44 characters keep every
 *   subject, header and KV key far below the server's control-line limit.
 *
 * Events of `id` are on `<subjectPrefix>.<token>`, its snapshot is KV key `<token>` and its deleted
 * mark KV key `<token>.deleted` in the snapshot bucket.
 */
import { createHash } from 'node:crypto'
import { BadRequestError, ErrorCode } from '../errors.ts'

export const MAX_PLAIN_TOKEN = 256
export const DEFAULT_STREAM = 'MICA_JOURNAL'
export const DEFAULT_SUBJECT_PREFIX = 'mica.journal'
export const DEFAULT_SNAPSHOT_BUCKET = 'MICA_SNAPSHOTS'

const LONE_SURROGATE = /\p{Cs}/u
const NAME = /^[A-Za-z0-9_-]{1,64}$/
const PREFIX = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/

/** The single subject token (and KV key) that stands for `id` (a checked persistence id). */
export function encodeId(id: string): string {
  if (!LONE_SURROGATE.test(id)) {
    const plain = Buffer.from(id, 'utf8').toString('base64url')
    if (plain.length <= MAX_PLAIN_TOKEN) return plain
  }
  // UTF-16 code units: exact for every JS string, lone surrogates included.
  return `=${createHash('sha256').update(Buffer.from(id, 'utf16le')).digest('base64url')}`
}

export interface IdNames {
  token: string
  subject: string
  snapshotKey: string
  deletedKey: string
}

export function namesFor(subjectPrefix: string, id: string): IdNames {
  const token = encodeId(id)
  return { token, subject: `${subjectPrefix}.${token}`, snapshotKey: token, deletedKey: `${token}.deleted` }
}

function invalid(detail: string): never {
  throw new BadRequestError(ErrorCode.INVALID_OPTIONS, `journal options: ${detail}`, 'journal')
}

/** A stream or KV bucket name: becomes a directory on the server. */
export function checkName(what: string, name: string): string {
  if (typeof name !== 'string' || !NAME.test(name)) invalid(`${what} must match [A-Za-z0-9_-]{1,64}`)
  return name
}

/** Dot-separated tokens without wildcards; `$`-subjects are the server's own. */
export function checkSubjectPrefix(prefix: string): string {
  if (typeof prefix !== 'string' || !PREFIX.test(prefix) || prefix.length > 128)
    invalid('subjectPrefix must be dot-separated [A-Za-z0-9_-] tokens, at most 128 characters')
  return prefix
}
