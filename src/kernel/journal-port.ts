/**
 * The kernel's journal as its actors see it. The kernel owns the journal it is given: it starts it
 * with the kernel and stops it after the last actor stopped. A kernel given none makes an in-memory
 * one the first time a persistent actor needs it, and says once that nothing will survive the
 * process (a silent loss would be worse than a log line).
 */
import type { JournalPort } from '../actors/persistence.ts'
import type { Journal, JournalEvent, ReadOptions, Snapshot } from '../journal/journal.ts'
import { MemoryJournal } from '../journal/memory.ts'
import type { Logger } from './options.ts'

export class KernelJournal implements JournalPort {
  readonly #configured: Journal | undefined
  readonly #logger: Logger
  #journal: Journal | undefined
  #starting: Promise<Journal> | undefined

  constructor(configured: Journal | undefined, logger: Logger) {
    this.#configured = configured
    this.#logger = logger
  }

  /** Starts the configured journal (kernel start); an implicit one starts on first use. */
  async start(): Promise<void> {
    if (this.#configured !== undefined) await this.#ready()
  }

  async stop(): Promise<void> {
    const starting = this.#starting
    if (starting === undefined) return
    const journal = await starting.catch(() => undefined)
    await journal?.stop()
  }

  append(persistenceId: string, payloads: readonly Uint8Array[], expectedSeq: number): Promise<number> {
    const j = this.#journal
    if (j !== undefined) return j.append(persistenceId, payloads, expectedSeq)
    return this.#ready().then((r) => r.append(persistenceId, payloads, expectedSeq))
  }

  read(persistenceId: string, fromSeq: number, options?: ReadOptions): Promise<JournalEvent[]> {
    return this.#ready().then((r) => r.read(persistenceId, fromSeq, options))
  }

  highestSeq(persistenceId: string): Promise<number> {
    return this.#ready().then((r) => r.highestSeq(persistenceId))
  }

  saveSnapshot(persistenceId: string, seq: number, bytes: Uint8Array): Promise<void> {
    return this.#ready().then((r) => r.saveSnapshot(persistenceId, seq, bytes))
  }

  loadSnapshot(persistenceId: string): Promise<Snapshot | undefined> {
    return this.#ready().then((r) => r.loadSnapshot(persistenceId))
  }

  #ready(): Promise<Journal> {
    this.#starting ??= this.#open()
    return this.#starting
  }

  async #open(): Promise<Journal> {
    let journal = this.#configured
    if (journal === undefined) {
      this.#logger.warn(
        'a persistent actor uses the in-memory journal: its events are lost with this process ' +
          '(pass `journal: new FileJournal({ dir })` to keep them)',
      )
      journal = new MemoryJournal()
    }
    await journal.start()
    this.#journal = journal
    return journal
  }
}
