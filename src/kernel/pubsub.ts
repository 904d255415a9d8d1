/**
 * Pubsub in the kernel: topics fan out into mailboxes. A definition's `topics` subscribe its kind
 * (queue group = the kind by default, so each message is handled once per kind across nodes, by its
 * stateless instance `kind/`); `kernel.subscribe` binds a topic to any ref's handler or to a plain
 * function; `kernel.publish` and `ctx.publish` publish through the broker. Message bodies stay
 * encoded up to the handler's thread; a body that does not decode or a handler that throws becomes
 * a dead letter, and the subscription keeps running.
 */
import { BadRequestError, ErrorCode } from '../errors.ts'
import type { CodecTable } from '../codec/table.ts'
import type { Broker, BrokerMessage, PublishMessage, Subscription } from '../broker/broker.ts'
import type { ActorDefinition, ActorRef, Metadata, PublishOptions } from '../actors/types.ts'
import type { Address } from './address.ts'
import { checkMetadata, checkSize, frameContentType } from './body.ts'
import type { EncodedMessage } from './local.ts'
import type { Logger } from './options.ts'

/** Who receives a topic through `kernel.subscribe`. */
export type TopicTarget = ActorRef | ((msg: unknown, info: TopicInfo) => void | Promise<void>)

export interface TopicInfo {
  readonly topic: string
  readonly metadata: Readonly<Metadata>
  readonly contentType: string | undefined
}

export interface TopicSubscribeOptions {
  /** With a ref: the handler that receives the messages (required). */
  handler?: string
  /** Queue group: one member of the group gets each message. */
  queue?: string
}

export interface PubsubPorts {
  readonly broker: Broker
  readonly codecs: CodecTable
  readonly maxMessageBytes: number
  readonly logger: Logger
  /** A send of an encoded message to an address (local or on its node). */
  deliver(to: Address, msg: EncodedMessage): void
  /**
   * The same as an ask, resolved once the handler ran (rejected with its error): what a durable
   * broker's ack waits for. An actor on another node gets a send (acked once it left).
   */
  request(to: Address, msg: EncodedMessage): Promise<unknown>
  parse(address: string): Address
}

export class Pubsub {
  readonly #p: PubsubPorts
  readonly #subscriptions = new Set<Subscription>()

  constructor(ports: PubsubPorts) {
    this.#p = ports
  }

  start(): Promise<void> {
    return this.#p.broker.start()
  }

  /** Subscribes a hosted kind's `topics`. */
  async bind(def: ActorDefinition): Promise<void> {
    const to = this.#p.parse(`${def.kind}/`)
    for (const [topic, binding] of Object.entries(def.topics ?? {})) {
      const handler = typeof binding === 'string' ? binding : binding.handler
      const queue =
        typeof binding === 'string'
          ? def.kind
          : binding.queue === false
            ? undefined
            : (binding.queue ?? def.kind)
      const sub = await this.#p.broker.subscribe(
        topic,
        (m) => this.#into(to, handler, m),
        queue === undefined ? {} : { queue },
      )
      this.#subscriptions.add(sub)
    }
  }

  async subscribe(
    topic: string,
    target: TopicTarget,
    options: TopicSubscribeOptions = {},
  ): Promise<Subscription> {
    const queue = options.queue === undefined ? {} : { queue: options.queue }
    let sub: Subscription
    if (typeof target === 'function') {
      sub = await this.#p.broker.subscribe(
        topic,
        (m) => target(this.#p.codecs.get(m.contentType).decode(m.body), this.#info(m)),
        queue,
      )
    } else {
      const handler = options.handler
      if (handler === undefined)
        throw new BadRequestError(ErrorCode.BAD_REQUEST, 'subscribe with a ref needs a handler')
      const to = this.#p.parse(target.address)
      sub = await this.#p.broker.subscribe(topic, (m) => this.#into(to, handler, m), queue)
    }
    this.#subscriptions.add(sub)
    return {
      topic: sub.topic,
      ...(sub.queue === undefined ? {} : { queue: sub.queue }),
      unsubscribe: async () => {
        this.#subscriptions.delete(sub)
        await sub.unsubscribe()
      },
    }
  }

  publish(topic: string, msg: unknown, options?: PublishOptions): Promise<void> {
    const codec = this.#p.codecs.get(options?.contentType)
    const body = codec.encode(msg)
    checkSize(body, this.#p.maxMessageBytes)
    const ct = frameContentType(this.#p.codecs, codec.contentType)
    return this.publishEncoded(topic, body, ct, checkMetadata(options?.metadata))
  }

  /**
   * The default content type (`ct` null) is not sent, as in envelopes: a message without one is in
   * the receiver's default, which every node of a network shares. On NATS that saves writing and
   * parsing a header per message (about 15% of a subscriber's main thread).
   */
  publishEncoded(
    topic: string,
    body: Uint8Array,
    ct: string | null,
    md: Metadata | undefined,
  ): Promise<void> {
    const message: PublishMessage = { body }
    if (ct !== null) message.contentType = ct
    if (md !== undefined) message.metadata = md
    return this.#p.broker.publish(topic, message)
  }

  /** Stops receiving (first step of a kernel stop). */
  async unsubscribeAll(): Promise<void> {
    const subs = [...this.#subscriptions]
    this.#subscriptions.clear()
    await Promise.all(subs.map((s) => s.unsubscribe().catch(() => undefined)))
  }

  stop(): Promise<void> {
    return this.#p.broker.stop()
  }

  /**
   * A message into a mailbox. From an at-least-once broker (its messages carry `delivery`) the
   * broker's ack waits for the handler, so a message is never acked while it only sits in a mailbox
   * of a process that may die; from the others it is a send.
   */
  #into(to: Address, handler: string, m: BrokerMessage): void | Promise<void> {
    const msg = this.#encoded(handler, m)
    if (m.delivery === undefined) return this.#p.deliver(to, msg)
    return this.#p.request(to, msg).then(() => undefined)
  }

  #info(m: BrokerMessage): TopicInfo {
    const contentType = m.contentType ?? this.#p.codecs.defaultContentType
    return { topic: m.topic, metadata: m.metadata, contentType }
  }

  #encoded(handler: string, m: BrokerMessage): EncodedMessage {
    const ct = frameContentType(this.#p.codecs, m.contentType ?? this.#p.codecs.defaultContentType)
    const md = Object.keys(m.metadata).length === 0 ? undefined : m.metadata
    return { handler, bytes: m.body, ct, md }
  }
}
