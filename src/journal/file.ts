/**
 * The embedded journal: append-only segment files in one directory, owned by one process at a time.
 *
 *   <dir>/LOCK                      owner pid + token (lock.ts)
 *   <dir>/segments/NNNNNNNNNN.seg   records (layout in record.ts: 12-byte header with length, body
 *                                   CRC32 and header CRC32; body with flags, id, seq, ts, payload)
 *   <dir>/snapshots/<sha256>.snap   one snapshot per persistence id (snapshot-files.ts)
 *
 * An index of every record's location per persistence id lives in memory and is rebuilt on start by
 * scanning the segments (recovery.ts: a torn tail is cut, corruption is refused). `deleteTo` is a
 * marker record in the same log (a logical low-water mark; no physical compaction yet).
 *
 * Group commit: appends are queued and written by one flush loop. With `fsync: 'batch'` (the default)
 * everything that arrived in the same turn of the event loop, or while the previous fsync was in
 * flight, is written with one write and made durable with one fsync; with 'always' every append gets
 * its own write and fsync; with 'never' bytes are handed to the OS and not synced (fast, lost on power
 * failure, kept on a process crash). An append's promise resolves only after that point, and the
 * expected-sequence check happens when `append` is called, so two writers never both pass it.
 * A failed write or fsync leaves the journal failed: every later call rejects (the file's state is
 * unknown until recovery reads it again on the next start).
 */
import { join } from 'node:path'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { systemClock, type Clock } from '../clock.ts'
import { BadRequestError, ErrorCode, InternalError, MicaError } from '../errors.ts'
import { defaultLogger, type Logger } from '../kernel/options.ts'
import {
  DEFAULT_MAX_EVENT_BYTES,
  type Journal,
  JournalCorruptError,
  type JournalEvent,
  type ReadOptions,
  type Snapshot,
} from './journal.ts'
import { acquireLock, type DirLock } from './lock.ts'
import { FLAG_COMMIT, FLAG_DELETE_TO, decodeRecord, encodeRecord } from './record.ts'
import { recover } from './recovery.ts'
import { Segments, listSegments, type SyncTarget } from './segments.ts'
import { SnapshotFiles } from './snapshot-files.ts'
import { StreamIndex } from './stream-index.ts'
import {
  Lifecycle,
  checkBytes,
  checkPayloads,
  checkPersistenceId,
  checkReadOptions,
  checkSeq,
  conflict,
  positiveOption,
  snapshotAhead,
} from './validate.ts'

export type FsyncPolicy = 'always' | 'batch' | 'never'
export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024

export interface FileJournalOptions {
  /** The journal's directory (created if missing). */
  dir: string
  /** Default 'batch' (see the module comment). */
  fsync?: FsyncPolicy
  /** A new segment starts once the active one would pass this size. Default 64 MiB. */
  segmentBytes?: number
  /** Largest payload (and snapshot) accepted. Default DEFAULT_MAX_EVENT_BYTES. */
  maxEventBytes?: number
  clock?: Clock
  /** Told about repaired tails and stale locks taken over. */
  logger?: Pick<Logger, 'warn'>
  /** Called after every fsync: what was synced. For tests and metrics (group commit is visible here). */
  onSync?: (target: SyncTarget) => void
}

interface Pending {
  records: { id: string; seq: number; flags: number; len: number }[]
  bytes: Buffer
  /** Settles the append with the highest sequence it reached (a deleteTo marker with its own). */
  resolve: (highest: number) => void
  reject: (err: unknown) => void
  highest: number
}

export class FileJournal implements Journal {
  readonly name = 'file'
  readonly #lifecycle = new Lifecycle('file')
  readonly #index = new StreamIndex()
  readonly #dir: string
  readonly #fsync: FsyncPolicy
  /** Size of the last group: a smaller queue waits one turn for the rest to arrive. */
  #lastBatch = 0
  readonly #maxEventBytes: number
  readonly #clock: Clock
  readonly #logger: Pick<Logger, 'warn'>
  readonly #segments: Segments
  readonly #snapshots: SnapshotFiles
  #lock: DirLock | undefined
  #queue: Pending[] = []
  #flushing: Promise<void> | undefined
  #failure: MicaError | undefined

  constructor(options: FileJournalOptions) {
    if (typeof options?.dir !== 'string' || options.dir === '')
      throw new BadRequestError(ErrorCode.INVALID_OPTIONS, 'journal options: dir is required')
    this.#dir = options.dir
    this.#fsync = options.fsync ?? 'batch'
    if (!['always', 'batch', 'never'].includes(this.#fsync))
      throw new BadRequestError(
        ErrorCode.INVALID_OPTIONS,
        `journal options: unknown fsync policy ${this.#fsync}`,
      )
    this.#maxEventBytes = positiveOption('maxEventBytes', options.maxEventBytes, DEFAULT_MAX_EVENT_BYTES)
    this.#clock = options.clock ?? systemClock
    this.#logger = options.logger ?? defaultLogger()
    const durable = this.#fsync !== 'never'
    const onSync = options.onSync ?? (() => {})
    const segmentBytes = positiveOption('segmentBytes', options.segmentBytes, DEFAULT_SEGMENT_BYTES)
    this.#segments = new Segments({ dir: join(this.#dir, 'segments'), segmentBytes, durable, onSync })
    this.#snapshots = new SnapshotFiles({ dir: join(this.#dir, 'snapshots'), durable, onSync })
  }

  async start(): Promise<void> {
    this.#lifecycle.start()
    const segmentsDir = join(this.#dir, 'segments')
    try {
      const segments = await listSegments(segmentsDir) // creates the directories
      this.#lock = await acquireLock(this.#dir, this.#logger)
      const durable = this.#fsync !== 'never'
      const size = await recover(segments, {
        dir: segmentsDir,
        index: this.#index,
        logger: this.#logger,
        durable,
      })
      await this.#segments.open(segments.at(-1), size)
      await this.#snapshots.start()
    } catch (err) {
      await this.#segments.close()
      await this.#lock?.release()
      this.#lifecycle.stop()
      throw err
    }
  }

  async stop(): Promise<void> {
    if (!this.#lifecycle.stop()) return
    await this.#flushing
    await this.#segments.close()
    await this.#lock?.release()
  }

  append(persistenceId: string, payloads: readonly Uint8Array[], expectedSeq: number): Promise<number> {
    try {
      return this.#append(persistenceId, payloads, expectedSeq)
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /** `append` without async frames (it runs once per persisted turn); throws what it refuses. */
  #append(persistenceId: string, payloads: readonly Uint8Array[], expectedSeq: number): Promise<number> {
    this.#assertUsable()
    const id = checkPersistenceId(persistenceId)
    checkPayloads(payloads, this.#maxEventBytes)
    checkSeq('expectedSeq', expectedSeq)
    const reserved = this.#index.reserved(id)
    if (expectedSeq !== reserved) throw conflict(id, expectedSeq, reserved)
    if (payloads.length === 0) return Promise.resolve(expectedSeq)
    this.#index.reserve(id, payloads.length)
    const ts = this.#clock.now()
    const buffers = payloads.map((payload, i) => {
      const flags = i === payloads.length - 1 ? FLAG_COMMIT : 0
      return encodeRecord({ flags, persistenceId: id, seq: expectedSeq + i + 1, ts, payload })
    })
    const records = buffers.map((b, i) => ({ id, seq: expectedSeq + i + 1, flags: 0, len: b.length }))
    const bytes = buffers.length === 1 ? buffers[0]! : Buffer.concat(buffers)
    const highest = expectedSeq + payloads.length
    return this.#enqueue(records, bytes, highest)
  }

  async read(persistenceId: string, fromSeq: number, options?: ReadOptions): Promise<JournalEvent[]> {
    this.#assertUsable()
    const id = checkPersistenceId(persistenceId)
    const { toSeq, max } = checkReadOptions(options)
    const wanted = this.#index.range(id, checkSeq('fromSeq', fromSeq), toSeq, max)
    const events: JournalEvent[] = []
    // Records that lie back to back in one segment are read with one read.
    for (let i = 0; i < wanted.length;) {
      const first = wanted[i]!.location
      let end = first.pos + first.len
      let j = i + 1
      while (
        j < wanted.length &&
        wanted[j]!.location.segment === first.segment &&
        wanted[j]!.location.pos === end
      )
        end += wanted[j++]!.location.len
      const buf = await this.#segments.read(first.segment, first.pos, end - first.pos)
      for (let at = 0; i < j; i++) {
        const decoded = decodeRecord(buf, at, false, wanted[i]!.location.len)
        // Bytes that changed after start (a disk going bad) are refused like corruption found at start.
        if (decoded.kind !== 'record' || decoded.record.seq !== wanted[i]!.seq) {
          const why = decoded.kind === 'record' ? `expected sequence ${wanted[i]!.seq}` : decoded.kind
          throw new JournalCorruptError(this.#segments.path(first.segment), first.pos + at, why)
        }
        // a view into this read's own buffer (never reused): no copy per event
        events.push({ seq: decoded.record.seq, ts: decoded.record.ts, payload: decoded.record.payload })
        at = decoded.end
      }
    }
    return events
  }

  async highestSeq(persistenceId: string): Promise<number> {
    this.#assertUsable()
    return this.#index.highest(checkPersistenceId(persistenceId))
  }

  async saveSnapshot(persistenceId: string, seq: number, bytes: Uint8Array): Promise<void> {
    this.#assertUsable()
    const id = checkPersistenceId(persistenceId)
    checkSeq('seq', seq)
    checkBytes('snapshot', bytes, this.#maxEventBytes)
    const highest = this.#index.highest(id)
    if (seq > highest) throw snapshotAhead(id, seq, highest)
    await this.#snapshots.save(id, { seq, bytes, ts: this.#clock.now() })
  }

  async loadSnapshot(persistenceId: string): Promise<Snapshot | undefined> {
    this.#assertUsable()
    return this.#snapshots.load(checkPersistenceId(persistenceId))
  }

  async deleteTo(persistenceId: string, seq: number): Promise<void> {
    this.#assertUsable()
    const id = checkPersistenceId(persistenceId)
    const to = Math.min(checkSeq('seq', seq), this.#index.highest(id))
    if (to <= this.#index.deletedTo(id)) return
    const flags = FLAG_COMMIT | FLAG_DELETE_TO
    const bytes = encodeRecord({
      flags,
      persistenceId: id,
      seq: to,
      ts: this.#clock.now(),
      payload: new Uint8Array(),
    })
    await this.#enqueue([{ id, seq: to, flags, len: bytes.length }], bytes, to)
  }

  #assertUsable(): void {
    this.#lifecycle.assertLive()
    if (this.#failure) throw this.#failure
  }

  /** Queues bytes for the next group; resolves with `highest` once they are durable. */
  #enqueue(records: Pending['records'], bytes: Buffer, highest: number): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      this.#queue.push({ records, bytes, resolve, reject, highest })
      this.#flushing ??= this.#flushLoop()
    })
  }

  /** Runs while the queue has work: each pass takes everything queued so far (the group). */
  async #flushLoop(): Promise<void> {
    await nextTurn() // let the rest of this turn's appends join the first group
    while (this.#queue.length > 0) {
      // appenders answered by the last commit append again in their continuations: let them join
      if (this.#queue.length < this.#lastBatch) await nextTurn()
      const batch = this.#queue
      this.#lastBatch = batch.length
      this.#queue = []
      try {
        if (this.#failure) throw this.#failure
        const groups = this.#fsync === 'always' ? batch.map((p) => [p]) : [batch]
        for (const group of groups) await this.#commit(group)
      } catch (err) {
        this.#failure ??= new InternalError(
          ErrorCode.INTERNAL,
          `journal ${this.#dir} failed: ${String(err)}`,
          'journal',
          {
            cause: err,
          },
        )
        for (const p of batch) p.reject(this.#failure)
      }
    }
    // Cleared in the same step that saw the queue empty: an append queued later starts a new loop.
    this.#flushing = undefined
  }

  /** Writes a group (one write per segment it lands in), syncs once, then indexes and resolves it. */
  async #commit(group: Pending[]): Promise<void> {
    const placed = await this.#segments.write(group.map((p) => p.bytes))
    await this.#segments.sync()
    group.forEach((p, i) => {
      let pos = placed[i]!.pos
      for (const r of p.records) {
        const location = { segment: placed[i]!.segment, pos, len: r.len }
        if (r.flags & FLAG_DELETE_TO) this.#index.deleteTo(r.id, r.seq)
        else this.#index.add(r.id, r.seq, location)
        pos += r.len
      }
      p.resolve(p.highest)
    })
  }
}
