/**
 * ActorCell: the runtime shell around one activation — its state's lifecycle over the turn engine
 * (CellLoop, ./cell-loop.ts: mailbox, dispatch loop, turns). Here: the lifecycle messages and their
 * hooks (`started`, `stopped`, restart, stop, passivation), what a failed turn means (its error
 * stamped for the caller, the kind's supervisor deciding resume, restart with backoff or stop), and
 * the end of the activation (finalize, abort). Persistent kinds run in a PersistentCell.
 */
import { BadRequestError, ErrorCode, MicaError, leftHandler, UnavailableError } from '../errors.ts'
import type { TimerHandle } from '../clock.ts'
import { CellContext } from './context.ts'
import { CellLoop, IDLE, RUNNING, STOPPED, SUSPENDED, isThenable, type CellOwner } from './cell-loop.ts'
import {
  SYS_PASSIVATE,
  SYS_RECOVER,
  SYS_RESTART,
  SYS_STARTED,
  SYS_STOP,
  systemDelivery,
  type Delivery,
} from './delivery.ts'
import type { KindEntry } from './kind.ts'
import type { Effect } from './persistence.ts'
import type { MachineReply } from './machine.ts'

export { isThenable, type CellOwner } from './cell-loop.ts'

export class ActorCell extends CellLoop {
  #stopping = false
  #restarts: number[] | undefined
  #backoffTimer: TimerHandle | undefined
  #context: CellContext | undefined

  /** `recovering`: a persistent activation reads its journal before anything else. */
  constructor(owner: CellOwner, kind: KindEntry, id: string, address: string, recovering = false) {
    super(owner, kind, id, address)
    if (recovering) this.enqueueSystem(systemDelivery(SYS_RECOVER))
    if (kind.definition.started !== undefined) this.enqueueSystem(systemDelivery(SYS_STARTED))
  }

  /** `ctx.persist`: refused here; persistent kinds run in a PersistentCell. */
  persist(_event: unknown): void {
    throw new BadRequestError(ErrorCode.BAD_REQUEST, `${this.kind.name} is not persistent (it has no apply)`)
  }

  /** Whether sends and publishes go through `effect` (held back by a persistent turn). */
  get holdsEffects(): boolean {
    return false
  }

  effect(run: Effect): void {
    run()
  }

  /** Machine kinds only (their PersistentCell drives the machine). */
  machineSend(_type: string, _msg: unknown): MachineReply {
    throw new BadRequestError(ErrorCode.BAD_REQUEST, `${this.kind.name} is no machine`)
  }

  /** Passivation: an idle actor leaves at once; a busy one when its mailbox is empty. */
  passivate(): void {
    if (this.stopIdle()) {
      this.owner.removed(this)
      return
    }
    this.enqueueSystem(systemDelivery(SYS_PASSIVATE))
  }

  get context(): CellContext {
    return (this.#context ??= new CellContext(this, this.owner.env))
  }

  /**
   * Stops an idle activation without a `stopped` hook at once (kernel stop of many idle actors);
   * false when it must stop through its mailbox instead.
   */
  stopIdle(): boolean {
    if (this.status !== IDLE || this.mailbox.size !== 0 || this.kind.definition.stopped !== undefined)
      return false
    this.status = STOPPED
    return true
  }

  enqueueSystem(d: Delivery): void {
    if (this.status === STOPPED) return
    this.mailbox.pushSystem(d)
    this.schedule()
  }

  /** Ends this activation after the current turn: the stopped hook runs, queued messages are lost. */
  requestStop(): void {
    if (this.#stopping || this.status === STOPPED) return
    this.#stopping = true
    if (this.status === SUSPENDED) {
      this.#backoffTimer?.cancel()
      this.#backoffTimer = undefined
      this.status = RUNNING
      queueMicrotask(this.runner)
    }
    this.enqueueSystem(systemDelivery(SYS_STOP))
  }

  /** Ends this activation now, abandoning a turn in progress (kernel stop after its drain timeout). */
  abort(): void {
    if (this.status === STOPPED) return
    // the caller of an abandoned turn (an ask, a stream) hears it now instead of at its deadline;
    // the handler had started: stamped with its endpoint, so no caller retries it elsewhere
    const abandoned = this.abandonTurn()
    const endpoint = abandoned === undefined ? undefined : `${this.kind.name}.${abandoned.handler}`
    const detail = `${this.address} stopped mid-turn`
    abandoned?.reply?.fail(new UnavailableError(ErrorCode.KERNEL_STOPPED, detail, endpoint))
    if (this.status === IDLE) this.owner.busy(1) // finalize accounts for one busy slot
    this.finalize()
  }

  /** A turn that threw, timed out or could not finish: its fault goes to supervision. */
  protected failTurn(d: Delivery, err: unknown): void {
    this.fault(d, err)
  }

  /** System messages beyond the lifecycle ones (a persistent cell's recovery and machine turns). */
  protected systemTurn(_d: Delivery): boolean {
    return false
  }

  /** After a supervision restart reset the state, before `started` runs again. */
  protected afterRestart(): void {}

  /** When the activation ends. */
  protected onFinalize(): void {}

  protected fault(d: Delivery, err: unknown): void {
    const error = leftHandler(MicaError.from(err, this.address), `${this.kind.name}.${d.handler}`)
    if (d.reply !== undefined) {
      if (!d.reply.settled) d.reply.fail(error)
    } else if (d.handler.charCodeAt(0) !== 36) {
      this.owner.lose(this, d, 'handler-error', error)
    }
    if (err instanceof MicaError && err.status < 500) return // a business answer, not a fault
    const directive = this.kind.supervisor.decide(err)
    this.owner.env.warn(
      `${this.address}: ${d.handler} failed (${directive}): ${error.detail}`,
      error.cause ?? err,
    )
    if (directive === 'restart') this.#restart()
    else if (directive === 'stop') this.requestStop()
  }

  #restart(): void {
    const delay = this.kind.supervisor.nextRestart((this.#restarts ??= []), this.owner.env.clock.now())
    if (delay < 0) {
      this.owner.env.warn(`${this.address}: restart budget spent, stopping`)
      this.requestStop()
      return
    }
    this.status = SUSPENDED
    this.#backoffTimer = this.owner.env.clock.setTimeout(() => {
      this.#backoffTimer = undefined
      if (this.status !== SUSPENDED) return
      this.status = RUNNING
      this.mailbox.pushSystem(systemDelivery(SYS_RESTART))
      this.runLoop()
    }, delay)
  }

  /** Lifecycle messages; true when a hook started an async turn. */
  protected system(d: Delivery): boolean {
    const def = this.kind.definition
    switch (d.handler) {
      case SYS_STARTED:
        return this.#hook(d, def.started, true, () => {})
      case SYS_RESTART:
        return this.#hook(d, def.stopped, false, () => {
          this.state = this.kind.initialState(this.id)
          this.afterRestart()
          if (def.started !== undefined) this.mailbox.pushSystem(systemDelivery(SYS_STARTED))
        })
      case SYS_STOP:
        return this.#hook(d, def.stopped, false, () => this.finalize())
      case SYS_PASSIVATE:
        if (this.mailbox.size > 0 || this.#stopping) {
          this.owner.retrack(this)
          return false
        }
        return this.#hook(d, def.stopped, false, () => this.finalize())
      default:
        return this.systemTurn(d)
    }
  }

  /** Runs a lifecycle hook as a turn; `then` runs after it. A failing `started` is a fault. */
  #hook(
    d: Delivery,
    hook: ((ctx: CellContext) => unknown) | undefined,
    faultOnError: boolean,
    then: () => void,
  ): boolean {
    const failed = (err: unknown): void => {
      if (faultOnError) this.fault(d, err)
      else this.owner.env.warn(`${this.address}: ${d.handler} hook failed`, err)
      then()
    }
    let result: unknown
    try {
      result = hook?.(this.context)
    } catch (err) {
      failed(err)
      return false
    }
    if (!isThenable(result)) {
      then()
      return false
    }
    this.awaitTurn(d, result, then, failed)
    return true
  }

  protected finalize(cause?: MicaError): void {
    if (this.status === STOPPED) return
    this.status = STOPPED
    this.onFinalize()
    this.cancelTurnTimer()
    this.#backoffTimer?.cancel()
    if (this.mailbox.size > 0) {
      const error = cause ?? this.stoppedError()
      for (const d of this.mailbox.drain()) {
        if (d.handler.charCodeAt(0) !== 36) this.owner.lose(this, d, 'actor-stopped', error)
      }
    }
    this.owner.busy(-1)
    this.owner.removed(this)
  }
}
