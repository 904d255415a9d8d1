/**
 * The in-process journal: streams in a Map, shared by whoever holds this instance (tests, a single
 * process that needs no durability). Payloads are copied in and out, so a caller reusing its buffers
 * never changes what was stored. Nothing survives `stop()`.
 */
import { systemClock, type Clock } from '../clock.ts'
import {
  DEFAULT_MAX_EVENT_BYTES,
  type Journal,
  type JournalEvent,
  type ReadOptions,
  type Snapshot,
} from './journal.ts'
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

export interface MemoryJournalOptions {
  /** Stamps events and snapshots. Default: the system clock. */
  clock?: Clock
  /** Largest payload (and snapshot) accepted. Default: DEFAULT_MAX_EVENT_BYTES. */
  maxEventBytes?: number
}

interface Stream {
  /** events[i] has seq i + 1; deleted ones stay (as the file journal keeps them) but are skipped. */
  events: JournalEvent[]
  deletedTo: number
  snapshot: Snapshot | undefined
}

export class MemoryJournal implements Journal {
  readonly name = 'memory'
  readonly #lifecycle = new Lifecycle('memory')
  readonly #streams = new Map<string, Stream>()
  readonly #clock: Clock
  readonly #maxEventBytes: number

  constructor(options: MemoryJournalOptions = {}) {
    this.#clock = options.clock ?? systemClock
    this.#maxEventBytes = positiveOption('maxEventBytes', options.maxEventBytes, DEFAULT_MAX_EVENT_BYTES)
  }

  async start(): Promise<void> {
    this.#lifecycle.start()
  }

  async stop(): Promise<void> {
    if (this.#lifecycle.stop()) this.#streams.clear()
  }

  async append(persistenceId: string, payloads: readonly Uint8Array[], expectedSeq: number): Promise<number> {
    this.#lifecycle.assertLive()
    const id = checkPersistenceId(persistenceId)
    checkPayloads(payloads, this.#maxEventBytes)
    checkSeq('expectedSeq', expectedSeq)
    const stream = this.#stream(id)
    if (expectedSeq !== stream.events.length) throw conflict(id, expectedSeq, stream.events.length)
    const ts = this.#clock.now()
    for (const payload of payloads)
      stream.events.push({ seq: stream.events.length + 1, payload: new Uint8Array(payload), ts })
    return stream.events.length
  }

  async read(persistenceId: string, fromSeq: number, options?: ReadOptions): Promise<JournalEvent[]> {
    this.#lifecycle.assertLive()
    const id = checkPersistenceId(persistenceId)
    const from = checkSeq('fromSeq', fromSeq)
    const { toSeq, max } = checkReadOptions(options)
    const stream = this.#streams.get(id)
    if (!stream) return []
    const first = Math.max(from, stream.deletedTo + 1, 1)
    const last = Math.min(toSeq, stream.events.length, first + max - 1)
    return stream.events
      .slice(first - 1, Math.max(first - 1, last))
      .map((e) => ({ ...e, payload: new Uint8Array(e.payload) }))
  }

  async highestSeq(persistenceId: string): Promise<number> {
    this.#lifecycle.assertLive()
    return this.#streams.get(checkPersistenceId(persistenceId))?.events.length ?? 0
  }

  async saveSnapshot(persistenceId: string, seq: number, bytes: Uint8Array): Promise<void> {
    this.#lifecycle.assertLive()
    const id = checkPersistenceId(persistenceId)
    checkSeq('seq', seq)
    checkBytes('snapshot', bytes, this.#maxEventBytes)
    const stream = this.#stream(id)
    if (seq > stream.events.length) throw snapshotAhead(id, seq, stream.events.length)
    stream.snapshot = { seq, bytes: new Uint8Array(bytes), ts: this.#clock.now() }
  }

  async loadSnapshot(persistenceId: string): Promise<Snapshot | undefined> {
    this.#lifecycle.assertLive()
    const snapshot = this.#streams.get(checkPersistenceId(persistenceId))?.snapshot
    return snapshot && { ...snapshot, bytes: new Uint8Array(snapshot.bytes) }
  }

  async deleteTo(persistenceId: string, seq: number): Promise<void> {
    this.#lifecycle.assertLive()
    const id = checkPersistenceId(persistenceId)
    checkSeq('seq', seq)
    const stream = this.#streams.get(id)
    if (stream) stream.deletedTo = Math.max(stream.deletedTo, Math.min(seq, stream.events.length))
  }

  #stream(id: string): Stream {
    let stream = this.#streams.get(id)
    if (!stream) this.#streams.set(id, (stream = { events: [], deletedTo: 0, snapshot: undefined }))
    return stream
  }
}
