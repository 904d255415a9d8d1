/** A kind as a host runs it: the definition plus its resolved options. */
import { DEFAULT_MAILBOX_CAPACITY, DEFAULT_OVERFLOW, type OverflowPolicy } from '../mailbox/mailbox.ts'
import { PersistentKind } from './persistence.ts'
import { Supervisor } from './supervision.ts'
import type { ActorDefinition, Handler } from './types.ts'

export const DEFAULT_TURN_TIMEOUT_MS = 30_000
export const DEFAULT_THROUGHPUT = 256

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

  initialState(id: string): unknown {
    const machine = this.persistent?.machine
    return machine === undefined ? this.definition.initial?.(id) : machine.initial(id)
  }
}
