/** A kind as a host runs it: the definition plus its resolved options. */
import { DEFAULT_MAILBOX_CAPACITY, DEFAULT_OVERFLOW, type OverflowPolicy } from '../mailbox/mailbox.ts'
import { PersistentKind } from './persistence.ts'
import { Supervisor } from './supervision.ts'
import type { ActorDefinition, Handler } from './types.ts'

export const DEFAULT_TURN_TIMEOUT_MS = 30_000
export const DEFAULT_THROUGHPUT = 256

/** How often a handler ran on one thread, and how often its turn failed. */
export interface HandlerCount {
  count: number
  errors: number
}

export class KindEntry {
  readonly name: string
  readonly definition: ActorDefinition
  readonly supervisor: Supervisor
  readonly capacity: number
  readonly overflow: OverflowPolicy
  readonly turnTimeoutMs: number
  readonly throughput: number
  /** Set for an event-sourced kind (one with `apply`). */
  readonly persistent: PersistentKind | undefined
  /** Turns and failed turns per handler on this thread (what `kernel.stats()` reports). */
  readonly counts = new Map<string, HandlerCount>()
  /** The handlers without a prototype: a lookup needs no `hasOwn` check. */
  readonly #handlers: Record<string, Handler<unknown> | undefined>

  constructor(definition: ActorDefinition) {
    this.name = definition.kind
    this.definition = definition
    this.supervisor = new Supervisor(definition.supervision)
    this.capacity = definition.mailbox?.capacity ?? DEFAULT_MAILBOX_CAPACITY
    this.overflow = definition.mailbox?.overflow ?? DEFAULT_OVERFLOW
    this.turnTimeoutMs = definition.turnTimeoutMs ?? DEFAULT_TURN_TIMEOUT_MS
    this.throughput = definition.throughput ?? DEFAULT_THROUGHPUT
    this.persistent = PersistentKind.of(definition)
    this.#handlers = Object.assign(
      Object.create(null) as Record<string, Handler<unknown>>,
      definition.handlers,
    )
  }

  /** The handler called `name`: own properties only (never `constructor` or `__proto__`). */
  handler(name: string): Handler<unknown> | undefined {
    return this.#handlers[name]
  }

  /** The counters of handler `name` (a known handler: the map stays as small as the definition). */
  count(name: string): HandlerCount {
    let c = this.counts.get(name)
    if (c === undefined) this.counts.set(name, (c = { count: 0, errors: 0 }))
    return c
  }

  initialState(id: string): unknown {
    const machine = this.persistent?.machine
    return machine === undefined ? this.definition.initial?.(id) : machine.initial(id)
  }
}
