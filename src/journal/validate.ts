/**
 * The checks every journal applies before touching storage, and its lifecycle (new, started,
 * stopped), so that all implementations refuse the same inputs with the same errors.
 */
import { Lifecycle as SharedLifecycle } from '../lifecycle.ts'
import { BadRequestError, ConflictError, ErrorCode } from '../errors.ts'
import { MAX_PERSISTENCE_ID_LENGTH, type ReadOptions } from './journal.ts'

function bad(detail: string): never {
  throw new BadRequestError(ErrorCode.BAD_REQUEST, detail, 'journal')
}

export function checkPersistenceId(id: unknown): string {
  if (typeof id !== 'string' || id.length === 0) bad('persistence id must be a non-empty string')
  if (id.length > MAX_PERSISTENCE_ID_LENGTH)
    bad(`persistence id is ${id.length} characters, more than ${MAX_PERSISTENCE_ID_LENGTH}`)
  if (id.includes('\0')) bad('persistence id must not contain NUL')
  return id
}

/** A sequence number: a non-negative safe integer. */
export function checkSeq(what: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)
    bad(`${what} must be a non-negative integer, got ${String(value)}`)
  return value
}

export function checkBytes(what: string, value: unknown, maxBytes: number): Uint8Array {
  if (!(value instanceof Uint8Array)) bad(`${what} must be a Uint8Array`)
  if (value.byteLength > maxBytes) bad(`${what} is ${value.byteLength} bytes, more than ${maxBytes}`)
  return value
}

export function checkPayloads(payloads: unknown, maxBytes: number): readonly Uint8Array[] {
  if (!Array.isArray(payloads)) bad('events must be an array of Uint8Array')
  payloads.forEach((p, i) => checkBytes(`event ${i}`, p, maxBytes))
  return payloads as readonly Uint8Array[]
}

/** `{ toSeq, max }` resolved: absent means unbounded. */
export function checkReadOptions(options: ReadOptions | undefined): { toSeq: number; max: number } {
  const toSeq = options?.toSeq === undefined ? Number.MAX_SAFE_INTEGER : checkSeq('toSeq', options.toSeq)
  const max = options?.max === undefined ? Number.MAX_SAFE_INTEGER : checkSeq('max', options.max)
  return { toSeq, max }
}

export function conflict(persistenceId: string, expectedSeq: number, highest: number): ConflictError {
  return new ConflictError(
    ErrorCode.CONFLICT,
    `journal ${persistenceId}: expected sequence ${expectedSeq} but the highest is ${highest}`,
    'journal',
  )
}

export function snapshotAhead(persistenceId: string, seq: number, highest: number): BadRequestError {
  return new BadRequestError(
    ErrorCode.BAD_REQUEST,
    `journal ${persistenceId}: snapshot at sequence ${seq} is past the highest, ${highest}`,
    'journal',
  )
}

/** The options checks shared by constructors: a positive integer or the default. */
export function positiveOption(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value <= 0)
    throw new BadRequestError(
      ErrorCode.INVALID_OPTIONS,
      `journal options: ${name} must be a positive integer`,
    )
  return value
}

/** A journal's lifecycle: started once (it owns its storage), stopped for good. */
export class Lifecycle extends SharedLifecycle {
  constructor(journal: string) {
    super('journal', journal, true)
  }
}
