/** ActorRef: an address bound to whatever routes from here (the kernel, or a worker's port). */
import type { ActorRef, AskOptions, SendOptions, StreamOptions } from '../actors/types.ts'
import type { Stream } from './stream.ts'
import type { Address } from './address.ts'

export interface Router {
  streamTo(to: Address, handler: string, options: StreamOptions | undefined): Stream<unknown, unknown>
  sendTo(to: Address, handler: string, msg: unknown, options: SendOptions | undefined): void
  askTo(to: Address, handler: string, msg: unknown, options: AskOptions | undefined): Promise<unknown>
}

export class Ref implements ActorRef {
  // the typed signatures live on ActorRef; a Ref is always handed out as one
  readonly address: string
  readonly #to: Address
  readonly #router: Router

  constructor(router: Router, to: Address) {
    this.#router = router
    this.#to = to
    this.address = to.node === undefined ? to.key : `${to.key}@${to.node}`
  }

  send(handler: string, msg?: unknown, options?: SendOptions): void {
    this.#router.sendTo(this.#to, handler, msg, options)
  }

  ask(handler: string, msg?: unknown, options?: AskOptions): Promise<never> {
    return this.#router.askTo(this.#to, handler, msg, options) as Promise<never>
  }

  stream(handler: string, options?: StreamOptions): Stream<unknown, unknown> {
    return this.#router.streamTo(this.#to, handler, options)
  }

  toString(): string {
    return this.address
  }
}
