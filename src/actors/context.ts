/**
 * The actor context: the narrow view a handler gets of its actor and the kernel. One per activation,
 * created on first use; metadata and deadline are those of the message being handled. An ask made
 * from a handler inherits the remaining deadline of the ask being served unless it sets its own.
 */
import { deadlineOf, NO_METADATA } from './delivery.ts'
import type { ActorCell } from './cell.ts'
import type { MachineReply } from './machine.ts'
import type { ActorEnvironment } from './environment.ts'
import type {
  ActorContext,
  ActorRef,
  AnyActorDefinition,
  AskOptions,
  Metadata,
  PublishOptions,
  SendOptions,
} from './types.ts'

export class CellContext implements ActorContext<unknown> {
  readonly #cell: ActorCell
  readonly #env: ActorEnvironment

  constructor(cell: ActorCell, env: ActorEnvironment) {
    this.#cell = cell
    this.#env = env
  }

  get self(): string {
    return this.#cell.address
  }

  get kind(): string {
    return this.#cell.kind.name
  }

  get id(): string {
    return this.#cell.id
  }

  get state(): unknown {
    return this.#cell.state
  }

  set state(value: unknown) {
    this.#cell.state = value
  }

  get metadata(): Readonly<Metadata> {
    return this.#cell.current?.md ?? NO_METADATA
  }

  get deadline(): number {
    const current = this.#cell.current
    return current === undefined ? 0 : deadlineOf(current, this.#env.clock)
  }

  send(to: string, handler: string, msg?: unknown, options?: SendOptions): void {
    if (this.#cell.holdsEffects) this.#cell.effect(() => this.#env.send(to, handler, msg, options))
    else this.#env.send(to, handler, msg, options)
  }

  ask<R = unknown>(to: string, handler: string, msg?: unknown, options?: AskOptions): Promise<R> {
    const inherited = this.deadline
    if (inherited !== 0 && options?.deadline === undefined && options?.timeout === undefined) {
      options = { ...options, deadline: inherited }
    }
    return this.#env.ask(to, handler, msg, options) as Promise<R>
  }

  ref<D extends AnyActorDefinition = AnyActorDefinition>(address: string): ActorRef<D> {
    return this.#env.ref(address) as ActorRef<D>
  }

  spawn<D extends AnyActorDefinition>(definition: D | string | URL, id?: string): Promise<ActorRef<D>> {
    return this.#env.spawn(definition, id) as Promise<ActorRef<D>>
  }

  publish(topic: string, msg: unknown, options?: PublishOptions): void {
    if (this.#cell.holdsEffects) this.#cell.effect(() => this.#env.publish(topic, msg, options))
    else this.#env.publish(topic, msg, options)
  }

  persist(event: unknown): void {
    this.#cell.persist(event)
  }

  /** Machine kinds: their generated handlers forward events here. */
  machineSend(type: string, msg: unknown): MachineReply {
    return this.#cell.machineSend(type, msg)
  }

  stop(): void {
    this.#cell.requestStop()
  }
}
