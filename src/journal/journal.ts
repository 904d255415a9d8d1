/**
 * The journal (the event store of persistent actors). This file is the contract only: the event and
 * snapshot shapes, the Journal interface every implementation (memory, file, later jetstream) honours,
 * its limits, and the two failures particular to journals. Implementations live beside it.
 *
 * A persistence id names one event stream. Its events are numbered 1, 2, 3… without gaps; numbers are
 * never reused, even after `deleteTo`. Payloads are opaque bytes (the kernel encodes events with its
 * codec); the journal stamps each event with the time it was appended.
 *
 * One writer per stream is enforced here, not by the caller: `append` names the highest sequence the
 * writer believes is current (`expectedSeq`), and any other value is refused with ConflictError (409,
 * `conflict`) before anything is written. Two activations of one actor can therefore never both write:
 * the second one's append fails and nothing interleaves. An append is atomic: after a crash either all
 * of its events are there or none.
 *
 * Every method rejects with the catalogue's errors only: BadRequestError (400, `bad_request`) for an
 * id, sequence or payload that breaks the rules below, ConflictError (409) as above, UnavailableError
 * (503, `unavailable`) when the journal is not started or already stopped, and InternalError (500) for
 * storage failures (JournalCorruptError when stored bytes fail their checksum).
 */
import { ErrorCode, InternalError, UnavailableError } from '../errors.ts'

/** One stored event. */
export interface JournalEvent {
  /** 1-based, contiguous within its persistence id. */
  seq: number
  /** The bytes given to `append`, unchanged. */
  payload: Uint8Array
  /** When it was appended (ms since the epoch, from the journal's clock). */
  ts: number
}

/** The state of a stream folded up to `seq`: recovery starts here and replays later events. */
export interface Snapshot {
  seq: number
  bytes: Uint8Array
  ts: number
}

/** Persistence ids are at most this many characters (non-empty, no NUL). */
export const MAX_PERSISTENCE_ID_LENGTH = 512
/** Default limit of one event's payload (and of one snapshot): 1 MiB. */
export const DEFAULT_MAX_EVENT_BYTES = 1024 * 1024

export interface ReadOptions {
  /** Last sequence to return (inclusive). Default: the highest. */
  toSeq?: number
  /** At most this many events. Default: no limit. */
  max?: number
}

export interface Journal {
  readonly name: string
  /** Opens storage (files, locks, connections) and recovers its index; call once before anything else. */
  start(): Promise<void>
  /** Waits for appends in flight, then releases storage; idempotent. A stopped journal stays stopped. */
  stop(): Promise<void>
  /**
   * Appends `payloads` as events expectedSeq+1, expectedSeq+2, … and resolves with the new highest
   * sequence once they are durable (as the implementation's durability setting defines). Rejects with
   * ConflictError when `expectedSeq` is not the current highest sequence. An empty list only checks.
   */
  append(persistenceId: string, payloads: readonly Uint8Array[], expectedSeq: number): Promise<number>
  /**
   * Events from `fromSeq` on, in order, skipping those removed by `deleteTo`. Only events whose append
   * has resolved (or will resolve) are returned, never a part of an append still in flight.
   */
  read(persistenceId: string, fromSeq: number, options?: ReadOptions): Promise<JournalEvent[]>
  /** The highest sequence appended (0 for a stream never written); `deleteTo` does not lower it. */
  highestSeq(persistenceId: string): Promise<number>
  /** Stores a snapshot taken at `seq` (0 ≤ seq ≤ highestSeq); the last one saved replaces the others. */
  saveSnapshot(persistenceId: string, seq: number, bytes: Uint8Array): Promise<void>
  /** The last snapshot saved, or undefined. */
  loadSnapshot(persistenceId: string): Promise<Snapshot | undefined>
  /**
   * Hides events up to `seq` (inclusive) from `read` from now on; a `seq` above the highest is taken
   * as the highest. Never lowers what was already deleted. Storage may reclaim the space later.
   */
  deleteTo(persistenceId: string, seq: number): Promise<void>
}

/** Stored bytes failed a check (CRC, layout, sequence order): refused, never silently skipped. */
export class JournalCorruptError extends InternalError {
  constructor(
    readonly file: string,
    readonly offset: number,
    why: string,
  ) {
    super(ErrorCode.INTERNAL, `journal corrupt: ${file} at offset ${offset}: ${why}`, 'journal')
  }
}

/** The journal directory belongs to another live process (one owner per directory). */
export class JournalLockedError extends UnavailableError {
  constructor(
    readonly dir: string,
    readonly ownerPid: number,
  ) {
    super(ErrorCode.UNAVAILABLE, `journal ${dir} is locked by live process ${ownerPid}`, 'journal')
  }
}
