/**
 * InlineRuntime (`workers: 0`): actors run on the main thread, messages go straight into mailboxes.
 * In `reference` mode values are passed as they are (no encoding: the fastest path, and the caller
 * must not mutate what it sent); in `encode` mode bodies and replies go through the codec exactly as
 * on a thread hop, so behaviour — isolation, unencodable messages, size limits — matches workers.
 */
import { ActorHost } from '../actors/host.ts'
import { deadlineOf, type Delivery } from '../actors/delivery.ts'
import type { ActorEnvironment } from '../actors/environment.ts'
import type { JournalPort } from '../actors/persistence.ts'
import type {
  ActorRef,
  AnyActorDefinition,
  AskOptions,
  SendOptions,
  ActorDefinition,
  PublishOptions,
} from '../actors/types.ts'
import { deadLetterOf, type DeadLetterReason } from '../mailbox/dead-letters.ts'
import { MicaError } from '../errors.ts'
import type { CodecTable } from '../codec/table.ts'
import type { Clock, TimerHandle } from '../clock.ts'
import type { Address } from './address.ts'
import { checkSize, encodeBody } from './body.ts'
import type {
  EncodedAnswer,
  EncodedMessage,
  EncodedReply,
  KernelServices,
  LocalRuntime,
  LocalStats,
  Outgoing,
} from './local.ts'
import { PendingAsk } from './pending.ts'
import { linkedPair, StreamEnd } from './stream.ts'
import {
  decodingSink,
  encodingLink,
  StreamReply,
  type EncodedStreamSink,
  type StreamRequest,
} from './stream-open.ts'

export class InlineRuntime implements LocalRuntime, ActorEnvironment {
  readonly clock: Clock
  readonly codecs: CodecTable
  readonly copyReplies: boolean
  readonly maxMessageBytes: number
  readonly journal: JournalPort
  readonly #services: KernelServices
  readonly #host: ActorHost
  readonly #encode: boolean

  constructor(services: KernelServices) {
    this.#services = services
    this.clock = services.clock
    this.codecs = services.codecs
    this.#encode = services.options.inlineMessages === 'encode'
    this.copyReplies = this.#encode
    this.maxMessageBytes = services.options.maxMessageBytes
    this.journal = services.journal
    this.#host = new ActorHost(this, services.options.passivation)
  }

  async start(): Promise<void> {}

  async addKind(definition: ActorDefinition): Promise<void> {
    this.#host.addKind(definition)
  }

  async activate(to: Address): Promise<void> {
    this.#host.activate(to.kind, to.id, to.key)
  }

  post(to: Address, out: Outgoing): void {
    this.#host.deliver(to.kind, to.id, to.key, this.#delivery(out, 0, undefined))
  }

  request(to: Address, out: Outgoing, deadline: number, signal: AbortSignal | undefined): Promise<unknown> {
    const pending = new PendingAsk(to.key, signal)
    let d: Delivery
    try {
      d = this.#delivery(out, deadline, pending)
    } catch (err) {
      pending.fail(err as MicaError)
      return pending.promise
    }
    this.#host.deliver(to.kind, to.id, to.key, d)
    // answered in the caller's stack (an idle actor, a synchronous handler): no deadline to watch
    if (!pending.settled) this.#services.wheel.add(pending, deadlineOf(d, this.clock))
    return pending.promise
  }

  postEncoded(to: Address, msg: EncodedMessage): void {
    let value: unknown
    try {
      value = this.codecs.get(msg.ct).decode(msg.bytes)
    } catch (err) {
      const letter = deadLetterOf(
        to.key,
        msg.handler,
        'decode-failed',
        false,
        undefined,
        MicaError.from(err).toWire(),
      )
      this.#services.deadLetters.publish(letter)
      return
    }
    this.post(to, { handler: msg.handler, msg: value, md: msg.md, contentType: msg.ct ?? undefined })
  }

  async requestEncoded(to: Address, msg: EncodedMessage, deadline: number): Promise<EncodedReply> {
    const codec = this.codecs.get(msg.ct)
    const value = await this.request(
      to,
      { handler: msg.handler, msg: codec.decode(msg.bytes), md: msg.md, contentType: msg.ct ?? undefined },
      deadline,
      undefined,
    )
    const bytes = codec.encode(value)
    checkSize(bytes, this.#services.options.maxMessageBytes)
    return { bytes, ct: msg.ct }
  }

  answerEncoded(to: Address, msg: EncodedMessage, deadline: number, answer: EncodedAnswer): void {
    this.requestEncoded(to, msg, deadline).then(
      (reply) => answer.reply(reply),
      (err: unknown) => answer.fail(MicaError.from(err)),
    )
  }

  openStream(to: Address, req: StreamRequest): StreamEnd {
    const codec = this.codecs.get(req.ct)
    const copy = this.#encode ? (v: unknown) => codec.decode(codec.encode(v)) : (v: unknown) => v
    const [caller, server] = linkedPair(req.window, copy)
    this.#openOn(to, req, server)
    return caller
  }

  openStreamEncoded(to: Address, req: StreamRequest, toCaller: EncodedStreamSink): EncodedStreamSink {
    const codec = this.codecs.get(req.ct)
    const server = new StreamEnd(encodingLink(codec, toCaller), req.window)
    this.#openOn(to, req, server)
    return decodingSink(codec, () => server)
  }

  #openOn(to: Address, req: StreamRequest, server: StreamEnd): void {
    const d: Delivery = {
      handler: req.handler,
      body: server,
      ct: undefined,
      md: req.md,
      dl: req.dl,
      reply: new StreamReply(server),
      stream: true,
    }
    this.#host.deliver(to.kind, to.id, to.key, d)
  }

  #delivery(out: Outgoing, dl: number, reply: PendingAsk | undefined): Delivery {
    if (!this.#encode) return { handler: out.handler, body: out.msg, ct: undefined, md: out.md, dl, reply }
    const { ct, bytes } = encodeBody(
      this.codecs,
      out.msg,
      out.contentType,
      this.#services.options.maxMessageBytes,
    )
    return { handler: out.handler, body: bytes, ct, md: out.md, dl, reply }
  }

  async catchUp(): Promise<void> {
    this.#host.catchUp()
  }

  async drain(until: number): Promise<void> {
    let timer: TimerHandle | undefined
    const late = new Promise<void>((resolve) => {
      timer = this.clock.setTimeout(resolve, Math.max(0, until - this.clock.now()))
    })
    await Promise.race([this.#host.idle(), late])
    timer?.cancel()
  }

  stop(until: number): Promise<void> {
    return this.#host.stopAll(until)
  }

  async stats(): Promise<LocalStats> {
    return {
      actors: this.#host.liveCount,
      streams: 0,
      pendingAsks: this.#services.wheel.size,
      mailboxes: this.#host.depths(),
      handlers: this.#host.handlerCounts(),
    }
  }

  // ---- ActorEnvironment: actors' traffic goes back through the kernel

  send(to: string, handler: string, msg: unknown, options?: SendOptions): void {
    this.#services.send(to, handler, msg, options)
  }

  ask(to: string, handler: string, msg: unknown, options?: AskOptions): Promise<unknown> {
    return this.#services.ask(to, handler, msg, options)
  }

  publish(topic: string, msg: unknown, options?: PublishOptions): void {
    this.#services.publish(topic, msg, options)
  }

  ref(address: string): ActorRef {
    return this.#services.ref(address)
  }

  spawn(definition: AnyActorDefinition | string | URL, id?: string): Promise<ActorRef> {
    return this.#services.spawn(definition, id)
  }

  deadLetter(address: string, d: Delivery, reason: DeadLetterReason, error: MicaError | undefined): void {
    const letters = this.#services.deadLetters
    let message = d.body
    if (d.ct !== undefined && letters.observed) {
      try {
        message = this.codecs.get(d.ct).decode(d.body as Uint8Array)
      } catch {
        message = undefined
      }
    }
    letters.publish(deadLetterOf(address, d.handler, reason, d.reply !== undefined, message, error?.toWire()))
  }

  warn(message: string, error?: unknown): void {
    // the stack of what the handler threw is the useful part; a MicaError has none (it is data)
    const detail = error instanceof Error && !(error instanceof MicaError) ? error.stack : undefined
    this.#services.logger.warn(message, detail)
  }
}
