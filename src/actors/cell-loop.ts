/**
 * CellLoop: the turn engine under an actor cell — its mailbox, the dispatch loop and the turns.
 * Turn-based: exactly one message is handled at a time; an async handler holds the turn until it
 * settles (or until the kind's turn timeout, which counts as a fault). After `throughput` messages
 * the loop yields to the event loop. What a failed turn or a lifecycle message means (supervision,
 * hooks, stopping) is the ActorCell's (./cell.ts); the loop never dies.
 */
import {
  BadRequestError,
  ErrorCode,
  InternalError,
  MicaError,
  NotFoundError,
  TimeoutError,
  TooManyRequestsError,
  UnavailableError,
} from '../errors.ts'
import { Mailbox } from '../mailbox/mailbox.ts'
import type { DeadLetterReason } from '../mailbox/dead-letters.ts'
import type { TimerHandle } from '../clock.ts'
import type { CellContext } from './context.ts'
import { deadlineOf, type Delivery, type Reply } from './delivery.ts'
import type { ActorEnvironment } from './environment.ts'
import type { KindEntry } from './kind.ts'

export const IDLE = 0
export const RUNNING = 1
export const SUSPENDED = 2
export const STOPPED = 3

/** What a cell needs from the host that owns it. */
export interface CellOwner {
  readonly env: ActorEnvironment
  /** Moves when persistent actors must catch up with their journals (see ActorHost.catchUp). */
  readonly epoch: number
  busy(delta: 1 | -1): void
  removed(cell: CellLoop): void
  /** A passivation found the actor busy: keep tracking it. */
  retrack(cell: CellLoop): void
  lose(cell: CellLoop, d: Delivery, reason: DeadLetterReason, error: MicaError | undefined): void
}

export abstract class CellLoop {
  readonly address: string
  readonly id: string
  readonly kind: KindEntry
  state: unknown
  /** The message being handled (its metadata and deadline are visible in the context). */
  current: Delivery | undefined
  protected readonly owner: CellOwner
  protected readonly mailbox: Mailbox<Delivery>
  /** IDLE, RUNNING, SUSPENDED (a restart's backoff) or STOPPED. */
  protected status = IDLE
  #turn = 0
  #turnTimer: TimerHandle | undefined
  #boundRun: (() => void) | undefined
  /** Whether the turn in progress runs under the turn timeout (a journal append bounds its own). */
  protected turnTimed = true

  constructor(owner: CellOwner, kind: KindEntry, id: string, address: string) {
    this.owner = owner
    this.kind = kind
    this.id = id
    this.address = address
    this.mailbox = new Mailbox<Delivery>(kind.capacity, kind.overflow)
    this.state = kind.initialState(id)
  }

  /** What handlers see as `ctx` (made on first use). */
  abstract get context(): CellContext

  get depth(): number {
    return this.mailbox.size
  }

  get stopped(): boolean {
    return this.status === STOPPED
  }

  enqueue(d: Delivery): void {
    if (this.status === STOPPED) {
      this.owner.lose(this, d, 'actor-stopped', this.stoppedError())
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
    if (this.status !== IDLE || this.mailbox.size !== 0) return false
    this.status = RUNNING
    this.owner.busy(1)
    if (this.#process(d)) return true // an async turn: the loop resumes when it settles
    if (this.status === RUNNING) {
      if (this.mailbox.size === 0) {
        this.status = IDLE
        this.owner.busy(-1)
      } else {
        queueMicrotask(this.#runner) // messages the handler sent to itself
      }
    }
    return true
  }

  // the loop's own calls are private (statically bound); the cell's lifecycle reaches it through
  // the protected doors below, off the per-message path

  /** Starts the loop if it is idle (a lifecycle message was queued). */
  protected schedule(): void {
    this.#schedule()
  }

  /** Runs the loop now (a restart's backoff ended). */
  protected runLoop(): void {
    this.#run()
  }

  /** The loop as a callback, for a microtask. */
  protected get runner(): () => void {
    return this.#runner
  }

  #schedule(): void {
    if (this.status !== IDLE) return
    this.status = RUNNING
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
      if (this.status !== RUNNING) return
      const d = this.mailbox.shift()
      if (d === undefined) {
        this.status = IDLE
        this.owner.busy(-1)
        return
      }
      if (this.#process(d)) return // an async turn: the loop resumes when it settles
    }
    setImmediate(this.#runner) // yield to I/O between bursts
  }

  /** Handles one message; true when it started an async turn. */
  #process(d: Delivery): boolean {
    if (d.handler.charCodeAt(0) === 36 /* $ */) return this.system(d)
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

  /** A lifecycle (system, `$`) message; true when it started an async turn. */
  protected abstract system(d: Delivery): boolean

  /** Before a handler runs (a persistent cell notes the state to go back to). */
  protected beginTurn(): void {}

  /** A handler's result, or what the turn waits for instead (a persistent cell's append). */
  protected completeTurn(result: unknown): unknown {
    return result
  }

  /** A turn that threw, timed out or could not finish. */
  protected abstract failTurn(d: Delivery, err: unknown): void

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
    if (this.status === RUNNING) this.#run()
  }

  /** Leaves the turn in progress (its settling will be ignored) and returns its message: an abort. */
  protected abandonTurn(): Delivery | undefined {
    this.#turn++
    const abandoned = this.current
    this.current = undefined
    return abandoned
  }

  /** The activation ends: a turn timeout still armed must not fire. */
  protected cancelTurnTimer(): void {
    this.#turnTimer?.cancel()
  }

  protected stoppedError(): MicaError {
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
