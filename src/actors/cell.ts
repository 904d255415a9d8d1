/**
 * ActorCell: the runtime shell around one activation — its mailbox, its state and the dispatch loop.
 * Turn-based: exactly one message is handled at a time; an async handler holds the turn until it
 * settles (or until the kind's turn timeout, which counts as a fault). After `throughput` messages
 * the loop yields to the event loop. Faults go to the kind's supervisor; the loop never dies.
 */
import {
  BadRequestError,
  ErrorCode,
  InternalError,
  MicaError,
  leftHandler,
  NotFoundError,
  TimeoutError,
  TooManyRequestsError,
  UnavailableError,
} from '../errors.ts'
import { Mailbox } from '../mailbox/mailbox.ts'
import type { DeadLetterReason } from '../mailbox/dead-letters.ts'
import type { TimerHandle } from '../clock.ts'
import { CellContext } from './context.ts'
import {
  deadlineOf,
  SYS_PASSIVATE,
  SYS_RECOVER,
  SYS_RESTART,
  SYS_STARTED,
  SYS_STOP,
  systemDelivery,
  type Delivery,
  type Reply,
} from './delivery.ts'
import type { ActorEnvironment } from './environment.ts'
import type { KindEntry } from './kind.ts'
import type { Effect } from './persistence.ts'
import type { MachineReply } from './machine.ts'

const IDLE = 0
const RUNNING = 1
const SUSPENDED = 2
const STOPPED = 3

/** What a cell needs from the host that owns it. */
export interface CellOwner {
  readonly env: ActorEnvironment
  /** Moves when persistent actors must catch up with their journals (see ActorHost.catchUp). */
  readonly epoch: number
  busy(delta: 1 | -1): void
  removed(cell: ActorCell): void
  /** A passivation found the actor busy: keep tracking it. */
  retrack(cell: ActorCell): void
  lose(cell: ActorCell, d: Delivery, reason: DeadLetterReason, error: MicaError | undefined): void
}

export class ActorCell {
  readonly address: string
  readonly id: string
  readonly kind: KindEntry
  state: unknown
  /** The message being handled (its metadata and deadline are visible in the context). */
  current: Delivery | undefined
  protected readonly owner: CellOwner
  protected readonly mailbox: Mailbox<Delivery>
  #status = IDLE
  #turn = 0
  #stopping = false
  #restarts: number[] | undefined
  #turnTimer: TimerHandle | undefined
  #backoffTimer: TimerHandle | undefined
  #context: CellContext | undefined
  #boundRun: (() => void) | undefined
  /** Whether the turn in progress runs under the turn timeout (a journal append bounds its own). */
  protected turnTimed = true

  /** `recovering`: a persistent activation reads its journal before anything else. */
  constructor(owner: CellOwner, kind: KindEntry, id: string, address: string, recovering = false) {
    this.owner = owner
    this.kind = kind
    this.id = id
    this.address = address
    this.mailbox = new Mailbox<Delivery>(kind.capacity, kind.overflow)
    this.state = kind.initialState(id)
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

  get depth(): number {
    return this.mailbox.size
  }

  get stopped(): boolean {
    return this.#status === STOPPED
  }

  enqueue(d: Delivery): void {
    if (this.#status === STOPPED) {
      this.owner.lose(this, d, 'actor-stopped', this.#stoppedError())
      return
    }
    if (d.dl < 0) deadlineOf(d, this.owner.env.clock) // it waits: anchor its deadline now
    const overflowed = this.mailbox.push(d)
    if (overflowed !== undefined) {
      const error = new TooManyRequestsError(
        ErrorCode.MAILBOX_FULL,
        `${this.address}: mailbox full`,
        this.address,
      )
      this.owner.lose(this, overflowed.lost, overflowed.reason, error)
    }
    this.#schedule()
  }

  /**
   * Runs `d` at once, in the caller's stack, when the actor is idle with an empty mailbox: the turn
   * is the same as from the mailbox, without the scheduling hop (how an inline ask gets within reach
   * of a plain function call). Returns false, doing nothing, when the actor is busy or has a backlog.
   */
  runNow(d: Delivery): boolean {
    if (this.#status !== IDLE || this.mailbox.size !== 0) return false
    this.#status = RUNNING
    this.owner.busy(1)
    if (this.#process(d)) return true // an async turn: the loop resumes when it settles
    if (this.#status === RUNNING) {
      if (this.mailbox.size === 0) {
        this.#status = IDLE
        this.owner.busy(-1)
      } else {
        queueMicrotask(this.#runner) // messages the handler sent to itself
      }
    }
    return true
  }

  /**
   * Stops an idle activation without a `stopped` hook at once (kernel stop of many idle actors);
   * false when it must stop through its mailbox instead.
   */
  stopIdle(): boolean {
    if (this.#status !== IDLE || this.mailbox.size !== 0 || this.kind.definition.stopped !== undefined)
      return false
    this.#status = STOPPED
    return true
  }

  enqueueSystem(d: Delivery): void {
    if (this.#status === STOPPED) return
    this.mailbox.pushSystem(d)
    this.#schedule()
  }

  /** Ends this activation after the current turn: the stopped hook runs, queued messages are lost. */
  requestStop(): void {
    if (this.#stopping || this.#status === STOPPED) return
    this.#stopping = true
    if (this.#status === SUSPENDED) {
      this.#backoffTimer?.cancel()
      this.#backoffTimer = undefined
      this.#status = RUNNING
      queueMicrotask(this.#runner)
    }
    this.enqueueSystem(systemDelivery(SYS_STOP))
  }

  /** Ends this activation now, abandoning a turn in progress (kernel stop after its drain timeout). */
  abort(): void {
    if (this.#status === STOPPED) return
    this.#turn++
    // the caller of an abandoned turn (an ask, a stream) hears it now instead of at its deadline;
    // the handler had started: stamped with its endpoint, so no caller retries it elsewhere
    const abandoned = this.current
    this.current = undefined
    const endpoint = abandoned === undefined ? undefined : `${this.kind.name}.${abandoned.handler}`
    const detail = `${this.address} stopped mid-turn`
    abandoned?.reply?.fail(new UnavailableError(ErrorCode.KERNEL_STOPPED, detail, endpoint))
    if (this.#status === IDLE) this.owner.busy(1) // #finalize accounts for one busy slot
    this.finalize()
  }

  #schedule(): void {
    if (this.#status !== IDLE) return
    this.#status = RUNNING
    this.owner.busy(1)
    queueMicrotask(this.#runner)
  }

  /** The loop as a callback, made on first use: a million idle actors should not carry a closure each. */
  get #runner(): () => void {
    return (this.#boundRun ??= () => this.#run())
  }

  #run(): void {
    const limit = this.kind.throughput
    for (let n = 0; n < limit; n++) {
      if (this.#status !== RUNNING) return
      const d = this.mailbox.shift()
      if (d === undefined) {
        this.#status = IDLE
        this.owner.busy(-1)
        return
      }
      if (this.#process(d)) return // an async turn: the loop resumes when it settles
    }
    setImmediate(this.#runner) // yield to I/O between bursts
  }

  /** Handles one message; true when it started an async turn. */
  #process(d: Delivery): boolean {
    if (d.handler.charCodeAt(0) === 36 /* $ */) return this.#system(d)
    const reply = d.reply
    if (reply !== undefined && reply.settled) {
      this.owner.lose(this, d, 'expired', undefined)
      return false
    }
    // an unanchored (negative) deadline was set in this very call stack: it cannot have passed
    if (d.dl > 0 && d.dl <= this.owner.env.clock.now()) {
      const error = new TimeoutError(
        ErrorCode.TIMEOUT,
        `${this.address}: deadline passed before ${d.handler} ran`,
      )
      this.owner.lose(this, d, 'expired', error)
      return false
    }
    const handler = this.kind.handler(d.handler)
    if (handler === undefined) {
      const error = new NotFoundError(
        ErrorCode.HANDLER_NOT_FOUND,
        `${this.kind.name} has no handler ${d.handler}`,
      )
      this.owner.lose(this, d, 'handler-not-found', error)
      return false
    }
    let msg = d.body
    if (d.ct !== undefined) {
      try {
        msg = this.owner.env.codecs.get(d.ct).decode(d.body as Uint8Array)
      } catch (err) {
        this.owner.lose(this, d, 'decode-failed', MicaError.from(err, this.address))
        return false
      }
    }
    this.current = d
    this.beginTurn()
    const counts = this.kind.count(d.handler)
    counts.count++
    let result: unknown
    try {
      result = handler(msg as never, this.context)
    } catch (err) {
      this.current = undefined
      counts.errors++
      this.failTurn(d, err)
      return false
    }
    result = this.completeTurn(result)
    if (isThenable(result)) {
      this.awaitTurn(
        d,
        result,
        (value) => this.#answer(d.reply, value),
        (err) => {
          counts.errors++
          this.failTurn(d, err)
        },
        this.turnTimed,
      )
      return true
    }
    this.current = undefined
    if (reply !== undefined) this.#answer(reply, result)
    return false
  }

  /** Before a handler runs (a persistent cell notes the state to go back to). */
  protected beginTurn(): void {}

  /** A handler's result, or what the turn waits for instead (a persistent cell's append). */
  protected completeTurn(result: unknown): unknown {
    return result
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

  #answer(reply: Reply | undefined, value: unknown): void {
    if (reply === undefined || reply.settled) return
    const env = this.owner.env
    if (env.copyReplies) {
      try {
        const codec = env.codecs.get(this.current?.ct)
        const bytes = codec.encode(value)
        if (bytes.byteLength > env.maxMessageBytes) {
          const detail = `reply of ${bytes.byteLength} bytes exceeds the limit of ${env.maxMessageBytes} bytes`
          throw new BadRequestError(ErrorCode.MESSAGE_TOO_LARGE, detail, this.address)
        }
        value = codec.decode(bytes)
      } catch (err) {
        reply.fail(MicaError.from(err, this.address))
        return
      }
    }
    reply.ok(value)
  }

  /** Waits for an async turn; a rejection or the turn timeout goes to `onError`. */
  protected awaitTurn(
    d: Delivery,
    pending: PromiseLike<unknown>,
    onValue: (value: unknown) => void,
    onError: (err: unknown) => void,
    timed = true,
  ): void {
    const token = ++this.#turn
    const ms = this.kind.turnTimeoutMs
    if (timed && d.stream !== true)
      this.#turnTimer = this.owner.env.clock.setTimeout(() => {
        if (token !== this.#turn) return
        this.#endTurn()
        const detail = `${this.address}: ${d.handler} did not settle within ${ms} ms`
        onError(new InternalError(ErrorCode.TIMEOUT, detail, this.address))
        this.#resume()
      }, ms)
    pending.then(
      (value) => {
        if (token !== this.#turn) return
        this.#endTurn()
        onValue(value)
        this.#resume()
      },
      (err: unknown) => {
        if (token !== this.#turn) return
        this.#endTurn()
        onError(err)
        this.#resume()
      },
    )
  }

  #endTurn(): void {
    this.#turn++
    this.#turnTimer?.cancel()
    this.#turnTimer = undefined
    this.current = undefined
  }

  #resume(): void {
    if (this.#status === RUNNING) this.#run()
  }

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
    this.#status = SUSPENDED
    this.#backoffTimer = this.owner.env.clock.setTimeout(() => {
      this.#backoffTimer = undefined
      if (this.#status !== SUSPENDED) return
      this.#status = RUNNING
      this.mailbox.pushSystem(systemDelivery(SYS_RESTART))
      this.#run()
    }, delay)
  }

  /** Lifecycle messages; true when a hook started an async turn. */
  #system(d: Delivery): boolean {
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
    if (this.#status === STOPPED) return
    this.#status = STOPPED
    this.onFinalize()
    this.#turnTimer?.cancel()
    this.#backoffTimer?.cancel()
    if (this.mailbox.size > 0) {
      const error = cause ?? this.#stoppedError()
      for (const d of this.mailbox.drain()) {
        if (d.handler.charCodeAt(0) !== 36) this.owner.lose(this, d, 'actor-stopped', error)
      }
    }
    this.owner.busy(-1)
    this.owner.removed(this)
  }

  #stoppedError(): MicaError {
    return new UnavailableError(ErrorCode.ACTOR_STOPPED, `${this.address} stopped`, this.address)
  }
}

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  )
}
