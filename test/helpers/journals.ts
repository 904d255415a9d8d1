// Journals for kernel tests: one that fails on demand and records what was read, and a view that lets
// several kernels share one journal (each kernel starts and stops the journal it is given).
import type { Journal, JournalEvent, ReadOptions, Snapshot } from '../../src/journal/journal.ts'
import { MemoryJournal } from '../../src/journal/memory.ts'
import { errors } from '../../src/errors.ts'

export class ProbeJournal implements Journal {
  readonly name = 'probe'
  readonly inner: Journal
  /** Appends to refuse from now on (each refusal counts one down). */
  failAppends = 0
  /** Appends to hold until `release()`. */
  holdAppends = false
  readonly reads: { persistenceId: string; fromSeq: number }[] = []
  /** Every call that reads (`read`, `highestSeq`, `loadSnapshot`), as `<call> <persistenceId>`. */
  readonly lookups: string[] = []
  readonly #held: (() => void)[] = []
  readonly #shared: boolean

  /** With `shared`, start and stop do nothing: the owner of `inner` manages it. */
  constructor(inner: Journal = new MemoryJournal(), shared = false) {
    this.inner = inner
    this.#shared = shared
  }

  start(): Promise<void> {
    return this.#shared ? Promise.resolve() : this.inner.start()
  }

  stop(): Promise<void> {
    return this.#shared ? Promise.resolve() : this.inner.stop()
  }

  release(): void {
    this.holdAppends = false
    for (const go of this.#held.splice(0)) go()
  }

  async append(persistenceId: string, payloads: readonly Uint8Array[], expectedSeq: number): Promise<number> {
    if (this.holdAppends) await new Promise<void>((resolve) => this.#held.push(resolve))
    if (this.failAppends > 0) {
      this.failAppends--
      throw errors.unavailable('journal down (test)')
    }
    return this.inner.append(persistenceId, payloads, expectedSeq)
  }

  read(persistenceId: string, fromSeq: number, options?: ReadOptions): Promise<JournalEvent[]> {
    this.reads.push({ persistenceId, fromSeq })
    this.lookups.push(`read ${persistenceId}`)
    return this.inner.read(persistenceId, fromSeq, options)
  }

  highestSeq(persistenceId: string): Promise<number> {
    this.lookups.push(`highestSeq ${persistenceId}`)
    return this.inner.highestSeq(persistenceId)
  }

  saveSnapshot(persistenceId: string, seq: number, bytes: Uint8Array): Promise<void> {
    return this.inner.saveSnapshot(persistenceId, seq, bytes)
  }

  loadSnapshot(persistenceId: string): Promise<Snapshot | undefined> {
    this.lookups.push(`loadSnapshot ${persistenceId}`)
    return this.inner.loadSnapshot(persistenceId)
  }

  deleteTo(persistenceId: string, seq: number): Promise<void> {
    return this.inner.deleteTo(persistenceId, seq)
  }
}
