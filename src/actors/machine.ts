/**
 * xstate machines as behaviours (`machine:` instead of `handlers:`). Each message is an xstate event
 * (the handler name is its `type`, the message's fields ride along) and an ask answers with the
 * machine's snapshot after the transition.
 *
 * Event sourcing, as DESIGN says: every event the root actor receives — external messages, delayed
 * (`after`) events, results of invoked children — is recorded through xstate's `inspect` and stored
 * in the journal; recovery folds them with the pure `transition` (no action runs twice), then starts
 * a live actor from that snapshot. xstate does not re-arm `after` timers of a restored snapshot, so
 * the kernel does (with their full delay: when the state was entered is not recorded). Timers fire
 * into the actor's mailbox, so a delayed event is a turn like any message and is journaled likewise.
 */
import {
  createActor,
  initialTransition,
  transition,
  type AnyActor,
  type AnyMachineSnapshot,
  type AnyStateMachine,
  type InspectionEvent,
} from 'xstate'
import { BadRequestError, ErrorCode } from '../errors.ts'
import type { TimerHandle, Clock } from '../clock.ts'
import type { ActorContext, HandlerMap } from './types.ts'

/** What an ask of a machine actor answers: the snapshot after the transition. */
export interface MachineReply {
  value: unknown
  context: unknown
  status: string
  output?: unknown
}

/** The handler that reads the snapshot without sending an event. */
export const MACHINE_SNAPSHOT_HANDLER = 'snapshot'

/** The context of a machine actor also forwards events to its machine. */
export interface MachineDriver {
  machineSend(type: string, msg: unknown): MachineReply
}

/** One handler per event type a transition names, plus `snapshot`; built once per definition. */
export function machineHandlers(kind: string, machine: AnyStateMachine): HandlerMap<unknown> {
  const types = new Set<string>()
  const visit = (node: AnyStateMachine['root']): void => {
    for (const type of Object.keys(node.config.on ?? {})) types.add(type)
    for (const child of Object.values(node.states ?? {})) visit(child)
  }
  visit(machine.root)
  if (types.has(MACHINE_SNAPSHOT_HANDLER)) {
    throw new BadRequestError(
      ErrorCode.INVALID_OPTIONS,
      `invalid actor definition: ${kind}: the event type "${MACHINE_SNAPSHOT_HANDLER}" is reserved`,
    )
  }
  const handlers: Record<string, (msg: never, ctx: ActorContext<unknown>) => unknown> = Object.create(null)
  for (const type of types) {
    if (type.includes('*') || type.startsWith('$') || type.startsWith('xstate.')) continue
    handlers[type] = (msg, ctx) => (ctx as unknown as MachineDriver).machineSend(type, msg)
  }
  handlers[MACHINE_SNAPSHOT_HANDLER] = (_msg, ctx) => replyOf(ctx.state as AnyMachineSnapshot)
  return handlers
}

export function replyOf(snapshot: AnyMachineSnapshot): MachineReply {
  const reply: MachineReply = { value: snapshot.value, context: snapshot.context, status: snapshot.status }
  if (snapshot.output !== undefined) reply.output = snapshot.output
  return reply
}

/** The pure side: initial snapshot, one event folded, snapshots to and from stored form. */
export class MachineLogic {
  constructor(readonly machine: AnyStateMachine) {}

  initial(id: string): AnyMachineSnapshot {
    return initialTransition(this.machine, { id })[0] as AnyMachineSnapshot
  }

  apply(snapshot: unknown, event: unknown): AnyMachineSnapshot {
    return transition(this.machine, snapshot as AnyMachineSnapshot, event as { type: string })[0]
  }

  persisted(snapshot: unknown): unknown {
    return this.machine.getPersistedSnapshot(snapshot as AnyMachineSnapshot)
  }

  /** A stored snapshot back as a live one (an actor that is never started materialises it). */
  restore(persisted: unknown, id: string): AnyMachineSnapshot {
    const snapshot = persisted as Parameters<AnyStateMachine['restoreSnapshot']>[0]
    return createActor(this.machine, { snapshot, input: { id } }).getSnapshot() as AnyMachineSnapshot
  }
}

/** What a machine needs from its cell. */
export interface MachineHost {
  readonly clock: Clock
  /** Every event the root actor received, in order (the cell journals it). */
  record(event: { type: string }): void
  /** A due timer: run `fire` as a turn of this actor. */
  timer(fire: () => void): void
}

/** The live xstate actor of one activation. */
export class MachineRunner {
  #actor: AnyActor | undefined
  readonly #timers = new Set<TimerHandle & { cancelled?: boolean }>()

  constructor(
    readonly logic: MachineLogic,
    readonly id: string,
    readonly host: MachineHost,
  ) {}

  get snapshot(): AnyMachineSnapshot {
    return this.#actor!.getSnapshot() as AnyMachineSnapshot
  }

  /** Starts fresh (entry actions run, timers arm) or from a recovered snapshot (timers re-armed). */
  start(recovered: AnyMachineSnapshot | undefined): void {
    this.stop()
    const clock = {
      setTimeout: (fn: () => void, ms: number) => this.#arm(fn, ms),
      clearTimeout: (handle: TimerHandle & { cancelled?: boolean }) => {
        handle.cancelled = true
        handle.cancel()
        this.#timers.delete(handle)
      },
    }
    const actor = createActor(this.logic.machine, {
      input: { id: this.id },
      clock,
      inspect: (ev: InspectionEvent) => {
        if (ev.type === '@xstate.event' && ev.actorRef === this.#actor && ev.event.type !== 'xstate.init')
          this.host.record(ev.event)
      },
      ...(recovered === undefined ? {} : { snapshot: this.logic.persisted(recovered) as never }),
    })
    this.#actor = actor
    actor.start()
    if (recovered !== undefined) this.#rearm(actor, recovered)
  }

  send(type: string, msg: unknown): MachineReply {
    if (msg !== undefined && (typeof msg !== 'object' || msg === null || Array.isArray(msg))) {
      throw new BadRequestError(
        ErrorCode.BAD_REQUEST,
        `the message of machine event ${type} must be an object`,
      )
    }
    this.#actor!.send({ ...(msg as object), type })
    return replyOf(this.snapshot)
  }

  stop(): void {
    for (const t of this.#timers) t.cancel()
    this.#timers.clear()
    this.#actor?.stop()
    this.#actor = undefined
  }

  #arm(fn: () => void, ms: number): TimerHandle & { cancelled?: boolean } {
    const handle: TimerHandle & { cancelled?: boolean } = this.host.clock.setTimeout(() => {
      this.#timers.delete(handle)
      // the state may be left before the turn runs: its exit cancels the timer, and then it is skipped
      this.host.timer(() => {
        if (handle.cancelled !== true) fn()
      })
    }, ms)
    this.#timers.add(handle)
    return handle
  }

  /** Schedules the `after` transitions of the active states again, the way their entry would. */
  #rearm(actor: AnyActor, snapshot: AnyMachineSnapshot): void {
    const delays = (this.logic.machine.implementations.delays ?? {}) as Record<string, unknown>
    const armed = new Set<string>()
    for (const node of snapshot._nodes) {
      for (const t of node.after) {
        const type = t.eventType
        if (armed.has(type)) continue // one timer per delay, as the state's entry arms it
        armed.add(type)
        let ms: unknown = t.delay
        if (typeof ms === 'string') {
          const impl = delays[ms]
          ms = typeof impl === 'function' ? impl({ context: snapshot.context, event: { type } }) : impl
        }
        if (typeof ms !== 'number' || !Number.isFinite(ms)) continue
        actor.system.scheduler.schedule(actor, actor, { type }, ms, type)
      }
    }
  }
}
