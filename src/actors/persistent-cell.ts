/**
 * PersistentCell: the activation of an event-sourced kind (`apply` or `machine`). Same turns as any
 * cell, plus the journal: recovery is the first turn, a handler's events are appended when its turn
 * ends (then its reply, sends and publishes leave), a failed turn goes back to the state before it
 * and reads the journal again, and a machine kind drives its xstate actor, whose timers and
 * children's results become turns of their own. See persistence.ts and machine.ts for why.
 *
 * Catch-up: the cell remembers its host's epoch when it last read its journal (`epoch`). When this
 * node may have been routed around, the host moves its epoch (ActorHost.catchUp), and the next
 * message delivered to a cell with an older one is preceded by a catch-up turn: one `highestSeq`
 * when nobody else wrote, else the other writer's events folded in (or, for a machine or a gap, a
 * full recovery). Reads are then answered from the journal's state, not from what this activation
 * held before another node served the actor. A journal that cannot be read ends the activation, as
 * a failed recovery does: its queued messages fail with that error rather than read a state nobody
 * can vouch for.
 */
import type { AnyMachineSnapshot } from 'xstate'
import { MicaError } from '../errors.ts'
import { ActorCell, isThenable, type CellOwner } from './cell.ts'
import {
  SYS_CATCH_UP,
  SYS_COMMIT,
  SYS_RECOVER,
  SYS_TIMER,
  systemDelivery,
  type Delivery,
} from './delivery.ts'
import type { KindEntry } from './kind.ts'
import { MachineRunner, type MachineHost, type MachineReply } from './machine.ts'
import { FULL, PersistentState, UNCHANGED, type Effect } from './persistence.ts'

export class PersistentCell extends ActorCell {
  /** Journal bookkeeping of this activation. */
  readonly #journal: PersistentState
  /** The live xstate actor of a machine kind. */
  readonly #machine: MachineRunner | undefined
  #commitQueued = false
  /** The host's epoch when this activation last read its journal (its recovery reads it at once). */
  epoch: number

  constructor(owner: CellOwner, kind: KindEntry, id: string, address: string) {
    super(owner, kind, id, address, true)
    this.epoch = owner.epoch
    this.#journal = new PersistentState(address, kind.persistent!)
    const logic = kind.persistent!.machine
    this.#machine = logic && new MachineRunner(logic, id, this.#machineHost())
  }

  override persist(event: unknown): void {
    this.state = this.#journal.persist(this.state, event, this.owner.env.codecs.get(undefined))
  }

  override get holdsEffects(): boolean {
    return true
  }

  /** A send or publish: the turn holds it until its events are stored. */
  override effect(run: Effect): void {
    this.#journal.defer(() => {
      try {
        run()
      } catch (err) {
        this.owner.env.warn(`${this.address}: a send or publish held for the journal failed`, err)
      }
    })
  }

  override machineSend(type: string, msg: unknown): MachineReply {
    if (this.#machine === undefined) return super.machineSend(type, msg)
    const reply = this.#machine.send(type, msg)
    this.state = this.#machine.snapshot
    return reply
  }

  protected override beginTurn(): void {
    this.#journal.beginTurn(this.state)
  }

  /**
   * The turn waits for its append. A sync handler's append is bounded by the journal itself (its
   * own timeouts): no turn timer, which would be a Node timer per persisted message.
   */
  protected override completeTurn(result: unknown): unknown {
    this.turnTimed = true
    if (isThenable(result)) return Promise.resolve(result).then((v) => this.#commit(v))
    if (!this.#journal.dirty) {
      this.#journal.endTurn()
      return result
    }
    this.turnTimed = false
    return this.#commit(result)
  }

  /** Reads the journal again before the next message: the host's epoch moved past this cell's. */
  catchUp(epoch: number): void {
    this.epoch = epoch
    this.enqueueSystem(systemDelivery(SYS_CATCH_UP))
  }

  /** Nothing of a failed turn leaves; when it had persisted, the journal is read again. */
  protected override failTurn(d: Delivery, err: unknown): void {
    if (this.#journal.rollback()) {
      this.state = this.#journal.before
      this.mailbox.pushSystem(systemDelivery(SYS_RECOVER))
    }
    super.failTurn(d, err)
  }

  protected override systemTurn(d: Delivery): boolean {
    switch (d.handler) {
      case SYS_RECOVER:
        return this.#recover(d)
      case SYS_CATCH_UP:
        return this.#catchUp(d)
      case SYS_TIMER:
      case SYS_COMMIT:
        return this.#machineTurn(d)
      default:
        return false
    }
  }

  /** A persistent actor restarts from its journal, not from its initial state. */
  protected override afterRestart(): void {
    this.mailbox.pushSystem(systemDelivery(SYS_RECOVER))
  }

  protected override onFinalize(): void {
    this.#machine?.stop()
  }

  /** Stores the turn's events (then its effects leave); resolves with the reply value. */
  #commit(value: unknown): unknown {
    const ps = this.#journal
    if (!ps.dirty) {
      ps.endTurn()
      return value
    }
    // one promise chain, no async frames: this runs once per persisted message
    return ps.commit(this.owner.env.journal).then(() => {
      if (ps.snapshotDue) this.#snapshot()
      return value
    })
  }

  /** Saves a snapshot of the state as it is now; a failure only delays the next one. */
  #snapshot(): void {
    const ps = this.#journal
    const seq = ps.seq
    let bytes: Uint8Array
    try {
      bytes = this.owner.env.codecs.get(undefined).encode(ps.kind.stored(this.state))
    } catch (err) {
      this.owner.env.warn(`${this.address}: cannot encode a snapshot`, err)
      return
    }
    ps.snapshotSeq = seq
    this.owner.env.journal.saveSnapshot(ps.persistenceId, seq, bytes).catch((err: unknown) => {
      if (ps.snapshotSeq === seq) ps.snapshotSeq = 0
      this.owner.env.warn(`${this.address}: snapshot at ${seq} failed`, err)
    })
  }

  /**
   * Reads the journal into the state, as a turn: messages wait behind it. When the journal cannot be
   * read the activation ends and its queued messages fail with that error; the next message starts a
   * new activation that tries again.
   */
  #recover(d: Delivery): boolean {
    const ps = this.#journal
    const env = this.owner.env
    this.#machine?.stop()
    const initial = () => this.kind.initialState(this.id)
    const reading = ps.recover(env.journal, env.codecs.get(undefined), initial, this.id)
    this.awaitTurn(
      d,
      reading,
      (state) => this.#restored(state),
      (err) => this.#unreadable(err),
    )
    return true
  }

  /**
   * A catch-up turn: the journal's end, and what others wrote since this activation last knew it;
   * a full recovery in the same turn when their events cannot be folded in from here (a machine's
   * live actor stops only then). A failed append already asked for a full recovery (`stale`).
   */
  #catchUp(d: Delivery): boolean {
    const ps = this.#journal
    if (ps.stale) return this.#recover(d)
    const env = this.owner.env
    const codec = env.codecs.get(undefined)
    let full = false
    const reading = ps.catchUp(env.journal, codec, this.state).then((found) => {
      if (found === UNCHANGED) return this.state
      if (found !== FULL) return found.state
      full = true
      this.#machine?.stop()
      return ps.recover(env.journal, codec, () => this.kind.initialState(this.id), this.id)
    })
    this.awaitTurn(
      d,
      reading,
      (state) => {
        if (full) this.#restored(state)
        else this.state = state
      },
      (err) => this.#unreadable(err),
    )
    return true
  }

  /** The state read from the journal; a machine kind starts its xstate actor from it. */
  #restored(state: unknown): void {
    this.state = state
    const machine = this.#machine
    if (machine === undefined) return
    try {
      // a journal with nothing in it: a fresh start (entry actions run, as for any new actor)
      machine.start(this.#journal.seq === 0 ? undefined : (state as AnyMachineSnapshot))
      this.state = machine.snapshot
    } catch (err) {
      const error = MicaError.from(err, this.address)
      this.owner.env.warn(`${this.address}: the machine did not start: ${error.detail}`, err)
      this.finalize(error)
    }
  }

  /** The journal could not be read: the activation ends, its queued messages fail with the error. */
  #unreadable(err: unknown): void {
    const error = MicaError.from(err, this.address)
    this.owner.env.warn(`${this.address}: recovery failed: ${error.detail}`, error.cause ?? err)
    this.finalize(error)
  }

  /** A due machine timer, or events that arrived between turns: a turn that stores what happened. */
  #machineTurn(d: Delivery): boolean {
    const ps = this.#journal
    const machine = this.#machine
    if (d.handler === SYS_COMMIT) this.#commitQueued = false
    if (machine === undefined) return false
    ps.beginTurn(this.state)
    try {
      if (d.handler === SYS_TIMER) (d.body as () => void)()
      this.state = machine.snapshot
    } catch (err) {
      this.failTurn(d, err)
      return false
    }
    if (!ps.dirty) {
      ps.endTurn()
      return false
    }
    this.awaitTurn(
      d,
      this.#commit(undefined) as Promise<unknown>,
      () => {},
      (err) => this.failTurn(d, err),
      false,
    )
    return true
  }

  #machineHost(): MachineHost {
    return {
      clock: this.owner.env.clock,
      record: (event) => {
        const ps = this.#journal
        try {
          ps.record(this.owner.env.codecs.get(undefined).encode(event))
        } catch (err) {
          this.owner.env.warn(`${this.address}: cannot journal machine event ${event.type}`, err)
          return
        }
        // an event outside a turn (an invoked child's result): stored by a turn of its own
        if (!ps.inTurn && !this.#commitQueued) {
          this.#commitQueued = true
          this.enqueueSystem(systemDelivery(SYS_COMMIT))
        }
      },
      timer: (fire) => this.enqueueSystem({ ...systemDelivery(SYS_TIMER), body: fire }),
    }
  }
}
