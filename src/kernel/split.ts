/**
 * The runtime of a kernel with workers: every kind runs on the worker pool except those defined
 * with `thread: 'main'`, which run inline on the main thread. A main-thread kind is for actors that
 * need the main thread's own objects (a service's `Debug` reads the kernel; an adapter owns a client
 * connection): its definition never has to be importable by a worker. Routing is by kind name, so
 * one actor's messages always take one path.
 */
import type { ActorDefinition } from '../actors/types.ts'
import type { Address } from './address.ts'
import type { StreamEnd } from './stream.ts'
import type { EncodedStreamSink, StreamRequest } from './stream-open.ts'
import type {
  EncodedAnswer,
  EncodedMessage,
  EncodedReply,
  LocalRuntime,
  LocalStats,
  Outgoing,
} from './local.ts'

export class SplitRuntime implements LocalRuntime {
  readonly #workers: LocalRuntime
  readonly #main: LocalRuntime
  readonly #onMain = new Set<string>()

  constructor(workers: LocalRuntime, main: LocalRuntime) {
    this.#workers = workers
    this.#main = main
  }

  #of(to: Address): LocalRuntime {
    return this.#onMain.size !== 0 && this.#onMain.has(to.kind) ? this.#main : this.#workers
  }

  async start(): Promise<void> {
    await Promise.all([this.#workers.start(), this.#main.start()])
  }

  addKind(definition: ActorDefinition): Promise<void> {
    if (definition.thread !== 'main') return this.#workers.addKind(definition)
    this.#onMain.add(definition.kind)
    return this.#main.addKind(definition)
  }

  activate(to: Address): Promise<void> {
    return this.#of(to).activate(to)
  }

  post(to: Address, out: Outgoing): void {
    this.#of(to).post(to, out)
  }

  request(to: Address, out: Outgoing, deadline: number, signal: AbortSignal | undefined): Promise<unknown> {
    return this.#of(to).request(to, out, deadline, signal)
  }

  postEncoded(to: Address, msg: EncodedMessage): void {
    this.#of(to).postEncoded(to, msg)
  }

  requestEncoded(to: Address, msg: EncodedMessage, deadline: number): Promise<EncodedReply> {
    return this.#of(to).requestEncoded(to, msg, deadline)
  }

  answerEncoded(to: Address, msg: EncodedMessage, deadline: number, answer: EncodedAnswer): void {
    this.#of(to).answerEncoded(to, msg, deadline, answer)
  }

  openStream(to: Address, req: StreamRequest): StreamEnd {
    return this.#of(to).openStream(to, req)
  }

  openStreamEncoded(to: Address, req: StreamRequest, toCaller: EncodedStreamSink): EncodedStreamSink {
    return this.#of(to).openStreamEncoded(to, req, toCaller)
  }

  async catchUp(): Promise<void> {
    await Promise.all([this.#workers.catchUp(), this.#main.catchUp()])
  }

  async drain(until: number): Promise<void> {
    await Promise.all([this.#workers.drain(until), this.#main.drain(until)])
  }

  async stop(until: number): Promise<void> {
    await Promise.all([this.#workers.stop(until), this.#main.stop(until)])
  }

  async stats(): Promise<LocalStats> {
    const [w, m] = await Promise.all([this.#workers.stats(), this.#main.stats()])
    const handlers = { ...w.handlers }
    for (const [name, c] of Object.entries(m.handlers)) handlers[name] = c
    return {
      actors: w.actors + m.actors,
      streams: w.streams + m.streams,
      pendingAsks: w.pendingAsks + m.pendingAsks,
      mailboxes: [...w.mailboxes, ...m.mailboxes].sort((a, b) => b.depth - a.depth),
      handlers,
    }
  }
}
