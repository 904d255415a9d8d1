/**
 * Event sourcing for one activation: what a persistent cell keeps besides its state (the highest
 * sequence it wrote or read, the events of the turn in progress, the effects held back until they
 * are durable), recovery from the journal, and the commit at the end of a turn.
 *
 * Why the order is what it is: events are applied at once (so the handler reads the new state and
 * can return it), appended in one `append` when the turn ends (atomic: all or none), and only then
 * do the reply, the sends and the publishes of that turn leave. A failed append therefore leaves no
 * trace outside the actor, and inside it the cell goes back to the state before the turn and reads
 * its journal again before its next message (`stale`), so the state is always the fold of what is
 * stored, even when `apply` mutated the state it was given.
 *
 * Catch-up (`catchUp`) is the cheap read for an activation that may have been bypassed: the journal's
 * end first, and only when another writer moved it, the events after what this activation knew. It
 * folds them onto the live state rather than starting over from the snapshot, because the live state
 * is the fold of everything up to `seq` already (a failed turn's mutations were undone by a full
 * recovery, `stale`, which a catch-up then defers to).
 */
import { BadRequestError, ErrorCode } from '../errors.ts'
import type { Codec } from '../codec/codec.ts'
import type { Journal } from '../journal/journal.ts'
import type { ActorDefinition, EventApplier } from './types.ts'
import { MachineLogic } from './machine.ts'

/** What an actor host needs of a journal (the kernel's own, or its proxy on a worker thread). */
export type JournalPort = Pick<Journal, 'append' | 'read' | 'highestSeq' | 'saveSnapshot' | 'loadSnapshot'>

/** Events read per `read` call during recovery: bounds one thread-hop frame and one allocation. */
export const RECOVERY_PAGE = 8192

/** The persistence settings of a kind, resolved once. */
export class PersistentKind {
  readonly apply: (state: unknown, event: unknown) => unknown
  readonly snapshotEvery: number
  /** Set for a machine kind: its state is an xstate snapshot, folded with the pure `transition`. */
  readonly machine: MachineLogic | undefined

  constructor(definition: ActorDefinition) {
    this.snapshotEvery = definition.snapshotEvery ?? 0
    if (definition.machine !== undefined) {
      const logic = new MachineLogic(definition.machine)
      this.machine = logic
      this.apply = (state, event) => logic.apply(state, event)
    } else {
      this.machine = undefined
      this.apply = applierOf(definition.kind, definition.apply as EventApplier<unknown>)
    }
  }

  static of(definition: ActorDefinition): PersistentKind | undefined {
    return definition.apply === undefined && definition.machine === undefined
      ? undefined
      : new PersistentKind(definition)
  }

  /** The state as a snapshot stores it. */
  stored(state: unknown): unknown {
    return this.machine === undefined ? state : this.machine.persisted(state)
  }

  /** A stored snapshot's state back. */
  fromStored(value: unknown, id: string): unknown {
    return this.machine === undefined ? value : this.machine.restore(value, id)
  }
}

/** A deferred effect of a turn: released once its events are stored, dropped when the append fails. */
export type Effect = () => void

/** One activation's journal bookkeeping. */
export class PersistentState {
  /** Highest sequence stored for this persistence id, as far as this activation knows. */
  seq = 0
  snapshotSeq = 0
  /** Set after a failed append: the state must be read again before the next message. */
  stale = false
  // Made on the first event or effect of a turn and dropped when it ends: most live activations are
  // idle, and two empty arrays with their backing stores cost more than the rest of the bookkeeping.
  #events: Uint8Array[] | undefined
  #effects: Effect[] | undefined
  #before: unknown
  #inTurn = false
  /** The turn persisted something (still true while its append is in flight). */
  #wrote = false

  constructor(
    readonly persistenceId: string,
    readonly kind: PersistentKind,
  ) {}

  get inTurn(): boolean {
    return this.#inTurn
  }

  /** An event already applied (a machine's), stored with the next commit. */
  record(bytes: Uint8Array): void {
    ;(this.#events ??= []).push(bytes)
    this.#wrote = true
  }

  /** Pending events or effects of the current turn. */
  get dirty(): boolean {
    return this.#events !== undefined || this.#effects !== undefined
  }

  beginTurn(state: unknown): void {
    this.#inTurn = true
    this.#wrote = false
    this.#before = state
  }

  /** Encodes and applies one event; returns the new state. Throws a 400 outside a handler's turn. */
  persist(state: unknown, event: unknown, codec: Codec): unknown {
    if (!this.#inTurn) {
      throw new BadRequestError(ErrorCode.BAD_REQUEST, `${this.persistenceId}: persist outside a handler`)
    }
    const bytes = codec.encode(event)
    const next = this.kind.apply(state, event)
    ;(this.#events ??= []).push(bytes)
    this.#wrote = true
    return next
  }

  /** Holds an effect until the turn's events are stored (runs it at once outside a turn). */
  defer(effect: Effect): void {
    if (this.#inTurn) (this.#effects ??= []).push(effect)
    else effect()
  }

  /** Appends the turn's events; releases its effects on success. */
  commit(journal: JournalPort): Promise<void> {
    const events = this.#events
    const effects = this.#effects
    this.#events = undefined
    this.#effects = undefined
    this.#inTurn = false
    if (events === undefined) {
      this.#stored(this.seq, effects)
      return Promise.resolve()
    }
    // an inline arrow, not a named local: tsx (tests, benches) wraps every named function it creates
    return journal.append(this.persistenceId, events, this.seq).then((seq) => this.#stored(seq, effects))
  }

  #stored(seq: number, effects: Effect[] | undefined): void {
    this.seq = seq
    this.#wrote = false
    this.#before = undefined
    if (effects !== undefined) for (const effect of effects) effect()
  }

  /**
   * Ends a failed turn: its events and effects are dropped. True when it had persisted something:
   * the cell then goes back to `before` and reads its journal again (`stale`).
   */
  rollback(): boolean {
    const wrote = this.#wrote
    this.#events = undefined
    this.#effects = undefined
    this.#inTurn = false
    this.#wrote = false
    if (wrote) this.stale = true
    return wrote
  }

  /** The state when the turn began. */
  get before(): unknown {
    return this.#before
  }

  /** Ends a turn that persisted nothing (its effects leave now). */
  endTurn(): void {
    this.#inTurn = false
    this.#before = undefined
    const effects = this.#effects
    if (effects === undefined) return
    this.#effects = undefined
    for (const effect of effects) effect()
  }

  /** Whether a snapshot is due after the last commit. */
  get snapshotDue(): boolean {
    return this.kind.snapshotEvery > 0 && this.seq - this.snapshotSeq >= this.kind.snapshotEvery
  }

  /** Rebuilds the state: the latest snapshot (else `initial`), then every later event folded through `apply`. */
  async recover(journal: JournalPort, codec: Codec, initial: () => unknown, id: string): Promise<unknown> {
    // one round trip for a new actor (no snapshot, nothing stored): both questions at once, no read
    const [snapshot, highest] = await Promise.all([
      journal.loadSnapshot(this.persistenceId),
      journal.highestSeq(this.persistenceId),
    ])
    const start = snapshot === undefined ? initial() : this.kind.fromStored(codec.decode(snapshot.bytes), id)
    // what deleteTo removed without a snapshot is simply not there: fold what is
    const { state, seq } = await this.#fold(journal, codec, start, snapshot?.seq ?? 0, highest, false)
    this.seq = Math.max(seq, highest)
    this.snapshotSeq = snapshot?.seq ?? 0
    this.stale = false
    return state
  }

  /**
   * Brings `state` up to the end of the journal, where another activation may have written since
   * this one last read or wrote it. One `highestSeq` when nobody did (the common case: resolves
   * `UNCHANGED`); otherwise the events after `seq` folded onto `state`, in pages. Resolves `FULL`
   * when that fold is not possible from here and the caller must recover from scratch: a machine kind
   * (its live xstate actor cannot take events from outside), a journal shorter than what this
   * activation knew, or a gap (events removed by `deleteTo` under a newer snapshot).
   */
  async catchUp(journal: JournalPort, codec: Codec, state: unknown): Promise<CaughtUp> {
    const highest = await journal.highestSeq(this.persistenceId)
    if (highest === this.seq) return UNCHANGED
    if (highest < this.seq || this.kind.machine !== undefined) return FULL
    const folded = await this.#fold(journal, codec, state, this.seq, highest, true)
    if (folded.gap) return FULL
    this.seq = folded.seq
    return { state: folded.state }
  }

  /**
   * Folds the events after `seq` up to `highest` onto `state`, read in pages so a long journal never
   * sits in memory at once. A gap (a page that is empty, or `strict` and not starting at `seq + 1`)
   * ends the fold with `gap` set.
   */
  async #fold(
    journal: JournalPort,
    codec: Codec,
    state: unknown,
    seq: number,
    highest: number,
    strict: boolean,
  ): Promise<{ state: unknown; seq: number; gap: boolean }> {
    while (seq < highest) {
      const page = await journal.read(this.persistenceId, seq + 1, { toSeq: highest, max: RECOVERY_PAGE })
      if (page.length === 0 || (strict && page[0]!.seq !== seq + 1)) return { state, seq, gap: true }
      for (const event of page) state = this.kind.apply(state, codec.decode(event.payload))
      seq = page[page.length - 1]!.seq
    }
    return { state, seq, gap: false }
  }
}

/** What a catch-up found: nothing new, the state with the new events folded in, or "recover in full". */
export type CaughtUp = typeof UNCHANGED | typeof FULL | { readonly state: unknown }
export const UNCHANGED = 'unchanged'
export const FULL = 'full'

function applierOf(kind: string, apply: EventApplier<unknown>): (state: unknown, event: unknown) => unknown {
  type Fold = (state: unknown, event: unknown) => unknown
  if (typeof apply === 'function') return apply as Fold
  const table = Object.assign(Object.create(null) as Record<string, Fold>, apply as Record<string, Fold>)
  return (state, event) => {
    const type = (event as { type?: unknown } | null)?.type
    const fn = typeof type === 'string' ? table[type] : undefined
    if (fn === undefined) {
      const shown = typeof type === 'string' ? `type "${type}"` : 'no string type'
      throw new BadRequestError(ErrorCode.BAD_REQUEST, `${kind}: no apply for an event with ${shown}`)
    }
    return fn(state, event)
  }
}
