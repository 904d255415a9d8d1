/**
 * The journal as actors on a worker thread see it: every call goes to the main thread, which owns
 * the kernel's journal (one writer per journal directory or connection), as a control frame, and
 * its answer comes back the same way. Events cross as the bytes the actor's codec made.
 */
import type { JournalPort } from '../actors/persistence.ts'
import type { JournalEvent, ReadOptions, Snapshot } from '../journal/journal.ts'
import { MicaError, type WireError } from '../errors.ts'

/** A journal call as it crosses the thread hop: the method's name and its arguments. */
export interface JournalCall {
  method: 'appendMany' | 'read' | 'highestSeq' | 'saveSnapshot' | 'loadSnapshot'
  args: unknown[]
}

export const JOURNAL_CONTROL_OP = 'journal'

/**
 * Events as a read crosses the thread hop: three arrays instead of an object per event (a recovery
 * page is 8,192 events, and packing and unpacking maps was most of its cost on both threads).
 */
type PackedEvents = [seqs: number[], stamps: number[], payloads: Uint8Array[]]

function packed(events: JournalEvent[]): PackedEvents {
  return [events.map((e) => e.seq), events.map((e) => e.ts), events.map((e) => e.payload)]
}

/** One append waiting for the batch of its tick. */
interface QueuedAppend {
  args: [persistenceId: string, payloads: readonly Uint8Array[], expectedSeq: number]
  resolve(seq: number): void
  reject(error: unknown): void
}

/** One append's outcome in a batch reply: the new highest sequence, or the error as it travels. */
type AppendOutcome = [ok: true, seq: number] | [ok: false, error: WireError]

export class WorkerJournal implements JournalPort {
  readonly #call: (call: JournalCall) => Promise<unknown>
  #queued: QueuedAppend[] = []

  constructor(call: (call: JournalCall) => Promise<unknown>) {
    this.#call = call
  }

  /**
   * Appends of one tick (the turns a batch of frames ran) go to the main thread as one call: one
   * control frame and one pending reply instead of one each, the main thread's journal then groups
   * them into one write as it would anyway.
   */
  append(persistenceId: string, payloads: readonly Uint8Array[], expectedSeq: number): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      if (this.#queued.length === 0) queueMicrotask(() => this.#flush())
      this.#queued.push({ args: [persistenceId, payloads, expectedSeq], resolve, reject })
    })
  }

  #flush(): void {
    const batch = this.#queued
    this.#queued = []
    this.#call({ method: 'appendMany', args: batch.map((q) => q.args) }).then(
      (outcomes) => {
        ;(outcomes as AppendOutcome[]).forEach((o, i) => {
          if (o[0]) batch[i]!.resolve(o[1])
          else batch[i]!.reject(MicaError.fromWire(o[1]))
        })
      },
      (err: unknown) => {
        for (const q of batch) q.reject(err)
      },
    )
  }

  async read(persistenceId: string, fromSeq: number, options?: ReadOptions): Promise<JournalEvent[]> {
    const args = [persistenceId, fromSeq, options ?? null]
    const [seqs, stamps, payloads] = (await this.#call({ method: 'read', args })) as PackedEvents
    return seqs.map((seq, i) => ({ seq, ts: stamps[i]!, payload: payloads[i]! }))
  }

  highestSeq(persistenceId: string): Promise<number> {
    return this.#call({ method: 'highestSeq', args: [persistenceId] }) as Promise<number>
  }

  async saveSnapshot(persistenceId: string, seq: number, bytes: Uint8Array): Promise<void> {
    await this.#call({ method: 'saveSnapshot', args: [persistenceId, seq, bytes] })
  }

  async loadSnapshot(persistenceId: string): Promise<Snapshot | undefined> {
    // msgpack has no undefined: "no snapshot" arrives as null
    return ((await this.#call({ method: 'loadSnapshot', args: [persistenceId] })) ?? undefined) as
      Snapshot | undefined
  }
}

/** Runs a call from a worker against the kernel's journal; a malformed call is a 400. */
export async function runJournalCall(journal: JournalPort, payload: unknown): Promise<unknown> {
  const call = payload as Partial<JournalCall> | null
  const args = Array.isArray(call?.args) ? call.args : []
  const [pid, a, b] = args as [string, unknown, unknown]
  switch (call?.method) {
    case 'appendMany': {
      const appends = args as [string, Uint8Array[], number][]
      return Promise.all(
        appends.map(([id, payloads, expected]) =>
          journal.append(id, payloads, expected).then(
            (seq): AppendOutcome => [true, seq],
            (err: unknown): AppendOutcome => [false, MicaError.from(err).toWire()],
          ),
        ),
      )
    }
    case 'read':
      return journal.read(pid, a as number, (b ?? undefined) as ReadOptions | undefined).then(packed)
    case 'highestSeq':
      return journal.highestSeq(pid)
    case 'saveSnapshot':
      return journal.saveSnapshot(pid, a as number, b as Uint8Array).then(() => null)
    case 'loadSnapshot':
      return journal.loadSnapshot(pid).then((s) => s ?? null)
    default:
      return Promise.reject(new Error(`unknown journal call ${String(call?.method)}`))
  }
}
