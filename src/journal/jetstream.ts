/**
 * The jetstream journal: events in one JetStream stream, snapshots and deleted marks in one KV
 * bucket, shared by every process connected to the same NATS (several nodes, one source of truth).
 * Durable once the server has acked the publish, with the stream's replicas.
 *
 * - Subjects: the events of an id are on `<subjectPrefix>.<token>` (token: jetstream-subjects.ts).
 * - Atomicity: one append is one message holding all its events (jetstream-codec.ts), since
 *   nats-server 2.9 has no atomic batch publish; a reader sees all of them or none.
 * - One writer per id, enforced by the server: every publish carries
 *   `Nats-Expected-Last-Subject-Sequence`, the STREAM sequence of the last message on the subject,
 *   which the journal knows for `expectedSeq` from its cache of each id's last message (journal
 *   sequence in the `Mica-Seq` header ↔ stream sequence), or asks the server for (`last_by_subj`)
 *   when the cache is cold or behind. Another writer's message in between makes the server answer
 *   'wrong last sequence': ConflictError. Appends to one id from this instance run one after the
 *   other (each needs the stream sequence the previous one got), different ids in parallel.
 * - De-duplication: `Nats-Msg-Id` is `<token>:<first seq>`, so a publish retried (by the client,
 *   or resent after a lost ack) within the stream's duplicate window is stored once. The server
 *   checks that id before the expected sequence, so a duplicate ack is only a success when the
 *   stored message carries this append's own `Mica-Append` id; another writer's is a conflict.
 * - deleteTo: the mark is KV key `<token>.deleted` (raised with compare-and-set, never lowered;
 *   reads skip what is under it). Whole messages under the mark are then purged from the stream,
 *   always keeping the subject's last message, so `highestSeq` survives any deleteTo.
 * - After an UnavailableError the outcome of an append is unknown (the ack may be what was lost):
 *   read `highestSeq` before appending again.
 */
import { randomUUID } from 'node:crypto'
import { systemClock, type Clock } from '../clock.ts'
import { BadRequestError, ErrorCode, UnavailableError } from '../errors.ts'
import {
  APPEND_HEADER,
  SEQ_HEADER,
  appendSize,
  decodeSnapshot,
  encodeAppend,
  encodeSnapshot,
  snapshotSize,
} from './jetstream-codec.ts'
import {
  assertConnected,
  closeLink,
  isWrongLastSequence,
  journalError,
  openLink,
  type JetStreamJournalOptions,
  type Link,
  type LinkSettings,
} from './jetstream-link.ts'
import { deletedTo, raiseMark } from './jetstream-marks.ts'
import { fetchTip, lastSeqOf, locate, readRange, type ReadContext, type Tip } from './jetstream-reader.ts'
import {
  DEFAULT_SNAPSHOT_BUCKET,
  DEFAULT_STREAM,
  DEFAULT_SUBJECT_PREFIX,
  checkName,
  checkSubjectPrefix,
  namesFor,
  type IdNames,
} from './jetstream-subjects.ts'
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

export type { JetStreamJournalOptions } from './jetstream-link.ts'
export const DEFAULT_REQUEST_TIMEOUT_MS = 5000
/** Room left in a message for its headers (ids, sequences, expectations) under max_payload. */
const HEADER_ROOM = 1024

export class JetStreamJournal implements Journal {
  readonly name = 'jetstream'
  readonly #lifecycle = new Lifecycle('jetstream')
  readonly #settings: LinkSettings
  readonly #clock: Clock
  readonly #givenMaxEventBytes: number | undefined
  #maxEventBytes = DEFAULT_MAX_EVENT_BYTES
  #link: Link | undefined
  #opened = false
  /** Per token: the last message this instance knows of (never lowered). */
  readonly #tips = new Map<string, Tip>()
  /** Per token: the tail of this instance's queue of appends to that id. */
  readonly #queues = new Map<string, Promise<unknown>>()
  readonly #inflight = new Set<Promise<unknown>>()

  constructor(options: JetStreamJournalOptions) {
    const o = options
    if (o.connection === undefined && o.servers === undefined)
      throw new BadRequestError(
        ErrorCode.INVALID_OPTIONS,
        'journal options: servers or connection is required',
      )
    const replicas = positiveOption('replicas', o.replicas, 1)
    if (o.storage !== undefined && o.storage !== 'file' && o.storage !== 'memory')
      throw new BadRequestError(
        ErrorCode.INVALID_OPTIONS,
        "journal options: storage must be 'file' or 'memory'",
      )
    this.#givenMaxEventBytes =
      o.maxEventBytes === undefined ? undefined : positiveOption('maxEventBytes', o.maxEventBytes, 1)
    this.#clock = o.clock ?? systemClock
    const { connection, servers, noRandomize, name, user, pass, token, credsFile, tls } = o
    const { reconnect, maxReconnectAttempts, reconnectTimeWaitMs, connectTimeoutMs } = o
    this.#settings = {
      connection: {
        connection,
        servers,
        noRandomize,
        name,
        user,
        pass,
        token,
        credsFile,
        tls,
        reconnect,
        maxReconnectAttempts,
        reconnectTimeWaitMs,
        connectTimeoutMs,
      },
      stream: checkName('stream', o.stream ?? DEFAULT_STREAM),
      subjectPrefix: checkSubjectPrefix(o.subjectPrefix ?? DEFAULT_SUBJECT_PREFIX),
      snapshotBucket: checkName('snapshotBucket', o.snapshotBucket ?? DEFAULT_SNAPSHOT_BUCKET),
      replicas,
      storage: o.storage ?? 'file',
      timeout: positiveOption('requestTimeoutMs', o.requestTimeoutMs, DEFAULT_REQUEST_TIMEOUT_MS),
    }
  }

  async start(): Promise<void> {
    if (this.#opened)
      throw new UnavailableError(ErrorCode.UNAVAILABLE, 'journal jetstream is already started', 'journal')
    this.#opened = true
    this.#lifecycle.begin()
    const link = await openLink(this.#settings)
    if (this.#lifecycle.stopped) {
      await closeLink(link)
      this.#lifecycle.start() // throws: stopped while starting
    }
    const room = link.maxPayload - HEADER_ROOM - appendSize([new Uint8Array(0)])
    this.#maxEventBytes = this.#givenMaxEventBytes ?? Math.min(DEFAULT_MAX_EVENT_BYTES, room)
    this.#link = link
    this.#lifecycle.start()
  }

  async stop(): Promise<void> {
    if (!this.#lifecycle.stop()) return
    await Promise.allSettled([...this.#inflight])
    const link = this.#link
    this.#link = undefined
    this.#tips.clear()
    if (link) await closeLink(link)
  }

  append(persistenceId: string, payloads: readonly Uint8Array[], expectedSeq: number): Promise<number> {
    return this.#call(() => {
      const id = checkPersistenceId(persistenceId)
      checkPayloads(payloads, this.#maxEventBytes)
      checkSeq('expectedSeq', expectedSeq)
      this.#checkSize('an append', appendSize(payloads))
      const names = this.#names(id)
      // Encoded now: the caller may reuse its buffers as soon as this returns.
      const body = payloads.length === 0 ? undefined : encodeAppend(payloads, this.#clock.now())
      const count = payloads.length
      const previous = this.#queues.get(names.token) ?? Promise.resolve()
      const run = previous.then(() => this.#append(id, names, body, count, expectedSeq))
      const tail = run.catch(() => undefined)
      this.#queues.set(names.token, tail)
      void tail.then(() => {
        if (this.#queues.get(names.token) === tail) this.#queues.delete(names.token)
      })
      return run
    })
  }

  async #append(
    id: string,
    names: IdNames,
    body: Uint8Array | undefined,
    count: number,
    expectedSeq: number,
  ): Promise<number> {
    const link = this.#connected()
    const ctx = this.#ctx(link, names)
    let tip = this.#tips.get(names.token)
    // An empty append only checks, so it always asks; a cold or behind cache asks too.
    if (!tip || tip.seq < expectedSeq || !body) tip = this.#remember(names.token, await fetchTip(ctx))
    if (tip.seq !== expectedSeq) throw conflict(id, expectedSeq, tip.seq)
    if (!body) return expectedSeq
    const last = expectedSeq + count
    const nonce = randomUUID()
    const headers = link.headers()
    headers.set(SEQ_HEADER, String(last))
    headers.set(APPEND_HEADER, nonce)
    let ack
    try {
      ack = await link.js.publish(names.subject, body, {
        headers,
        msgID: `${names.token}:${expectedSeq + 1}`,
        expect: { lastSubjectSequence: tip.streamSeq },
        timeout: this.#settings.timeout,
      })
    } catch (error) {
      this.#tips.delete(names.token) // whatever happened, the next append asks the server
      if (!isWrongLastSequence(error)) throw journalError(error, `cannot append to ${names.subject}`)
      const now = await fetchTip(ctx)
      throw conflict(id, expectedSeq, Math.max(now.seq, expectedSeq + 1))
    }
    if (ack.duplicate) {
      // The msg id was stored before: our own publish resent, or another writer's same sequence.
      const stored = await link.jsm.streams.getMessage(this.#settings.stream, { seq: ack.seq })
      if (stored?.header.get(APPEND_HEADER) !== nonce) {
        this.#tips.delete(names.token)
        throw conflict(id, expectedSeq, stored ? lastSeqOf(stored) : expectedSeq + 1)
      }
    }
    this.#remember(names.token, { seq: last, streamSeq: ack.seq })
    return last
  }

  read(persistenceId: string, fromSeq: number, options?: ReadOptions): Promise<JournalEvent[]> {
    return this.#call(async () => {
      const id = checkPersistenceId(persistenceId)
      const from = checkSeq('fromSeq', fromSeq)
      const { toSeq, max } = checkReadOptions(options)
      const link = this.#connected()
      const names = this.#names(id)
      const ctx = this.#ctx(link, names)
      const [deleted, tip] = await Promise.all([deletedTo(link.kv, names), fetchTip(ctx)])
      const first = Math.max(from, deleted + 1, 1)
      const end = Math.min(toSeq, tip.seq, first + max - 1)
      if (max === 0 || first > end) return []
      return readRange(ctx, first, end, tip)
    })
  }

  highestSeq(persistenceId: string): Promise<number> {
    return this.#call(async () => {
      const names = this.#names(checkPersistenceId(persistenceId))
      const link = this.#connected()
      return this.#remember(names.token, await fetchTip(this.#ctx(link, names))).seq
    })
  }

  saveSnapshot(persistenceId: string, seq: number, bytes: Uint8Array): Promise<void> {
    return this.#call(async () => {
      const id = checkPersistenceId(persistenceId)
      checkSeq('seq', seq)
      checkBytes('snapshot', bytes, this.#maxEventBytes)
      this.#checkSize('a snapshot', snapshotSize(bytes))
      const names = this.#names(id)
      const ts = this.#clock.now()
      const value = encodeSnapshot({ seq, bytes, ts }) // copied before the first await
      const link = this.#connected()
      const tip = await fetchTip(this.#ctx(link, names))
      if (seq > tip.seq) throw snapshotAhead(id, seq, tip.seq)
      try {
        await link.kv.put(names.snapshotKey, value)
      } catch (error) {
        throw journalError(error, `cannot save the snapshot of ${names.subject}`)
      }
    })
  }

  loadSnapshot(persistenceId: string): Promise<Snapshot | undefined> {
    return this.#call(async () => {
      const names = this.#names(checkPersistenceId(persistenceId))
      const link = this.#connected()
      let entry
      try {
        entry = await link.kv.get(names.snapshotKey)
      } catch (error) {
        throw journalError(error, `cannot load the snapshot of ${names.subject}`)
      }
      if (!entry || entry.operation !== 'PUT') return undefined
      return decodeSnapshot(entry.value, names.snapshotKey)
    })
  }

  deleteTo(persistenceId: string, seq: number): Promise<void> {
    return this.#call(async () => {
      const id = checkPersistenceId(persistenceId)
      checkSeq('seq', seq)
      const link = this.#connected()
      const names = this.#names(id)
      const ctx = this.#ctx(link, names)
      const tip = await fetchTip(ctx)
      const target = Math.min(seq, tip.seq)
      if (target === 0 || !(await raiseMark(link.kv, names, target))) return
      // Reclaim whole messages under the mark; the subject's last message always stays.
      try {
        if (target >= tip.seq)
          await link.jsm.streams.purge(this.#settings.stream, { filter: names.subject, keep: 1 })
        else {
          const from = await locate(ctx, target + 1, tip)
          // Purges below `seq`; skipped at 1, which nats-server 2.9 takes as "purge the subject".
          if (from.seq > 1)
            await link.jsm.streams.purge(this.#settings.stream, { filter: names.subject, seq: from.seq })
        }
      } catch (error) {
        throw journalError(error, `cannot purge ${names.subject}`)
      }
    })
  }

  /** Checks liveness, runs `body`, and tracks it so `stop()` waits for it. */
  #call<T>(body: () => Promise<T>): Promise<T> {
    let promise: Promise<T>
    try {
      this.#lifecycle.assertLive()
      promise = body()
    } catch (error) {
      return Promise.reject(error)
    }
    this.#inflight.add(promise)
    const done = () => this.#inflight.delete(promise)
    promise.then(done, done)
    return promise
  }

  #checkSize(what: string, size: number): void {
    const limit = this.#link!.maxPayload - HEADER_ROOM
    if (size > limit)
      throw new BadRequestError(
        ErrorCode.MESSAGE_TOO_LARGE,
        `journal jetstream: ${what} of ${size} bytes is one message, more than the server's ${limit}`,
        'journal',
      )
  }

  #remember(token: string, tip: Tip): Tip {
    const known = this.#tips.get(token)
    if (known && known.seq >= tip.seq) return known
    this.#tips.set(token, { seq: tip.seq, streamSeq: tip.streamSeq })
    return tip
  }

  #names(id: string): IdNames {
    return namesFor(this.#settings.subjectPrefix, id)
  }

  #ctx(link: Link, names: IdNames): ReadContext {
    const { stream, timeout } = this.#settings
    return { js: link.reader, jsm: link.jsm, stream, subject: names.subject, timeout }
  }

  #connected(): Link {
    this.#lifecycle.assertLive()
    const link = this.#link!
    assertConnected(link)
    return link
  }
}
