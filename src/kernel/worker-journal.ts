/**
 * The journal as actors on a worker thread see it: every call goes to the main thread, which owns
 * the kernel's journal (one writer per journal directory or connection), as a control frame, and
 * its answer comes back the same way. Events cross as the bytes the actor's codec made.
 */
import type { JournalPort } from '../actors/persistence.ts'
import type { JournalEvent, ReadOptions, Snapshot } from '../journal/journal.ts'

/** A journal call as it crosses the thread hop: the method's name and its arguments. */
export interface JournalCall {
  method: 'append' | 'read' | 'highestSeq' | 'saveSnapshot' | 'loadSnapshot'
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

export class WorkerJournal implements JournalPort {
  readonly #call: (call: JournalCall) => Promise<unknown>

  constructor(call: (call: JournalCall) => Promise<unknown>) {
    this.#call = call
  }

  append(persistenceId: string, payloads: readonly Uint8Array[], expectedSeq: number): Promise<number> {
    return this.#call({ method: 'append', args: [persistenceId, payloads, expectedSeq] }) as Promise<number>
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
export function runJournalCall(journal: JournalPort, payload: unknown): Promise<unknown> {
  const call = payload as Partial<JournalCall> | null
  const args = Array.isArray(call?.args) ? call.args : []
  const [pid, a, b] = args as [string, unknown, unknown]
  switch (call?.method) {
    case 'append':
      return journal.append(pid, a as Uint8Array[], b as number)
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
