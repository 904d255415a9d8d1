/**
 * EncodedRoutes: where a message whose body is already encoded goes — a topic's message into an
 * actor (pubsub fan-out), a durable broker's delivery — and what becomes of a send that cannot be
 * routed. Here, through the door's checks, or to the node the address lives on; a dead letter when
 * neither takes it. The kernel keeps the decision of where an address lives (`placement`); this
 * file only follows it.
 */
import { ErrorCode, MicaError, UnavailableError } from '../errors.ts'
import type { DeadLetters } from '../mailbox/dead-letters.ts'
import { deadLetterOf } from '../mailbox/dead-letters.ts'
import type { RegistryNode } from '../registry/registry.ts'
import type { Address } from './address.ts'
import type { Refusal } from './door.ts'
import type { EncodedMessage, LocalRuntime } from './local.ts'
import type { Remote } from './remote.ts'

/** Where an address lives: another node, a lookup still under way, or (undefined) this node. */
export type Placement = RegistryNode | Promise<'local' | RegistryNode>

export interface EncodedRoutesPorts {
  readonly local: LocalRuntime
  readonly remote: Remote | undefined
  readonly deadLetters: DeadLetters
  placement(to: Address): Placement | MicaError | undefined
  refuse(to: Address, handler: string, fromActor: boolean): Refusal | undefined
  /** The deadline of an ask that brings none (now + the kernel's ask timeout). */
  askDeadline(): number
}

export class EncodedRoutes {
  readonly #p: EncodedRoutesPorts

  constructor(ports: EncodedRoutesPorts) {
    this.#p = ports
  }

  /** A send whose body is already encoded (a topic's message): here, or to the node it lives on. */
  send(to: Address, msg: EncodedMessage): void {
    const place = this.#p.placement(to)
    if (place instanceof MicaError) {
      this.unroutable(to, msg.handler, undefined, place)
      return
    }
    if (place === undefined) return this.#postHere(to, msg)
    if (place instanceof Promise) {
      place.then(
        (p) => (p === 'local' ? this.#postHere(to, msg) : this.sendRemote(to, p, msg)),
        (err: unknown) => this.unroutable(to, msg.handler, undefined, MicaError.from(err)),
      )
      return
    }
    this.sendRemote(to, place, msg)
  }

  /** An encoded ask of a local actor (a durable broker's delivery); elsewhere, a send. */
  request(to: Address, msg: EncodedMessage): Promise<unknown> {
    if (this.#p.placement(to) !== undefined) {
      this.send(to, msg)
      return Promise.resolve()
    }
    const refused = this.#p.refuse(to, msg.handler, true)
    if (refused !== undefined) return Promise.reject(refused.error)
    return this.#p.local.requestEncoded(to, msg, this.#p.askDeadline())
  }

  /** A send to another node; one its transport refuses becomes a dead letter. */
  sendRemote(to: Address, node: RegistryNode, encoded: EncodedMessage): void {
    if (!this.#p.remote!.post(to, node, encoded)) {
      const error = new UnavailableError(ErrorCode.UNAVAILABLE, `cannot reach ${node.id}`)
      this.#p.deadLetters.publish(
        deadLetterOf(to.key, encoded.handler, 'rejected', false, undefined, error.toWire()),
      )
    }
  }

  /** A send no node takes: a dead letter saying why. */
  unroutable(to: Address, handler: string, msg: unknown, error: MicaError): void {
    const reason = error.code === ErrorCode.KIND_NOT_FOUND ? 'kind-not-found' : 'rejected'
    this.#p.deadLetters.publish(deadLetterOf(to.key, handler, reason, false, msg, error.toWire()))
  }

  /**
   * A method, not a closure made per message (this runs for every topic message into a local actor,
   * and tsx, which runs the tests and benches, wraps each named function it creates in `__name`).
   */
  #postHere(to: Address, msg: EncodedMessage): void {
    const refused = this.#p.refuse(to, msg.handler, true)
    if (refused === undefined) this.#p.local.postEncoded(to, msg)
    else this.unroutable(to, msg.handler, undefined, refused.error)
  }
}
