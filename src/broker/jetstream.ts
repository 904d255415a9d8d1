/**
 * The durable broker: NATS JetStream, at-least-once. A publish resolves once the server has stored
 * the message; a subscriber's message is acked only after its handler resolves, so a handler that
 * fails, or a process that dies mid-handler, gets the message again (after a nak's backoff, or after
 * `ackWaitMs` when nothing answered). Handlers must therefore be idempotent.
 *
 * Storage: one stream per first topic token (`orders.created` is kept by `MICA_orders`, subjects
 * `orders` and `orders.>`), created by the first publish or subscribe that needs it. A pattern whose
 * first token is a wildcard (`>`, `*.created`) is refused: one consumer reads one stream.
 *
 * Consumers are pull consumers read with `consume()`. A queue group is one durable consumer its
 * members share (each message goes to one member); `durable` names one explicitly (it survives
 * unsubscribe and restarts and resumes where it was acked); otherwise the subscription gets an
 * ephemeral consumer, deleted on unsubscribe. A new consumer starts with messages published after
 * it was created (deliver policy `new`), like the other brokers.
 *
 * Poison messages: the `maxDeliver`-th failed delivery (or a delivery that arrives after more than
 * `maxDeliver` without an ack) is published to the dead-letter subject with `Mica-Dead-*` headers,
 * then terminated. The server's own `max_deliver` stays unlimited on purpose: it would stop
 * delivering silently, leaving no chance to retry a dead-letter publish that failed.
 */
import type { MsgHdrs, NatsConnection } from '@nats-io/transport-node'
import type { ConsumerConfig, ConsumerInfo, JetStreamClient, JetStreamManager } from '@nats-io/jetstream'
import { BadRequestError, ConflictError, ErrorCode, UnavailableError } from '../errors.ts'
import type { Broker, BrokerHandler, PublishMessage, SubscribeOptions, Subscription } from './broker.ts'
import { BrokerGuard } from './guard.ts'
import {
  checkDurable,
  checkStreamPrefix,
  DEFAULT_STREAM_PREFIX,
  queueDurable,
  streamFor,
} from './jetstream-names.ts'
import { writeHeaders } from './nats-headers.ts'
import { deliver, type DeliveryContext } from './jetstream-delivery.ts'
export { DEAD_HEADERS } from './jetstream-delivery.ts'
import {
  checkNatsBrokerOptions,
  clientError,
  DEFAULT_FLUSH_TIMEOUT_MS,
  type NatsBrokerOptions,
} from './nats.ts'
import { openNatsLink, type NatsLink } from '../nats/connection.ts'
import { checkQueue, checkTopic } from './topic.ts'
import { checkMessage } from './validate.ts'

export interface JetStreamBrokerOptions extends NatsBrokerOptions {
  /** Streams are named `<prefix><first topic token>`. Default `MICA_`. */
  streamPrefix?: string
  /** How long the server waits for an ack before it redelivers. Default 30 s. */
  ackWaitMs?: number
  /** Deliveries before a message is dead-lettered. Default 5. */
  maxDeliver?: number
  /** Delay before the n-th redelivery of a failed message (the last entry repeats). */
  backoffMs?: number[]
  /** Where a poison message goes. Default `mica.dead.<topic>`. */
  deadLetterSubject?: (topic: string) => string
  /** Longest wait for a JetStream API answer or a publish ack. Default 5 s. */
  requestTimeoutMs?: number
  /**
   * Copies the server keeps of each stream this broker creates: 1 (the default) on one server, 3 on
   * a 3-server cluster. A stream that exists already keeps its own setting.
   */
  replicas?: number
}

function jetstreamDefaults() {
  return {
    flushTimeoutMs: DEFAULT_FLUSH_TIMEOUT_MS,
    streamPrefix: DEFAULT_STREAM_PREFIX,
    ackWaitMs: 30_000,
    maxDeliver: 5,
    backoffMs: [100, 1000, 5000],
    deadLetterSubject: (topic: string) => `mica.dead.${topic}`,
    requestTimeoutMs: 5000,
    replicas: 1,
  }
}
type Resolved = JetStreamBrokerOptions & ReturnType<typeof jetstreamDefaults>

/** What start opens; one object so a stopped broker drops all of it at once. */
interface Jet {
  link: NatsLink
  nc: NatsConnection
  js: JetStreamClient
  jsm: JetStreamManager
  headers: () => MsgHdrs
}

// An ephemeral consumer left by a crashed process is removed by the server after this long.
const EPHEMERAL_INACTIVE_MS = 60_000
const NANOS_PER_MS = 1_000_000

export class JetStreamBroker implements Broker {
  readonly name = 'jetstream'
  readonly #guard: BrokerGuard
  readonly #options: Resolved
  /** Stream name by name we asked for, shared by concurrent callers; a failure is forgotten. */
  readonly #streams = new Map<string, Promise<string>>()
  readonly #closers = new Set<() => Promise<void>>()
  #jet: Jet | undefined

  constructor(options: JetStreamBrokerOptions) {
    checkNatsBrokerOptions(options, 'jetstream')
    // An option given as undefined keeps its default (a spread alone would overwrite it).
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined))
    this.#options = { ...jetstreamDefaults(), ...(given as JetStreamBrokerOptions) }
    checkStreamPrefix(this.#options.streamPrefix)
    const { maxDeliver, ackWaitMs, backoffMs, replicas } = this.#options
    if (!Number.isInteger(replicas) || replicas < 1 || replicas > 5) invalid('replicas must be 1..5')
    if (!Number.isInteger(maxDeliver) || maxDeliver < 1) invalid('maxDeliver must be an integer >= 1')
    if (!(ackWaitMs >= 1)) invalid('ackWaitMs must be >= 1')
    if (!backoffMs.every((ms) => ms >= 0)) invalid('backoffMs must hold numbers >= 0')
    this.#guard = new BrokerGuard('jetstream', options.onError)
  }

  get handlerErrors(): number {
    return this.#guard.errors
  }

  async start(): Promise<void> {
    this.#guard.beginStart()
    let link: NatsLink | undefined
    let jet: Jet
    try {
      const [client, jetstream] = await Promise.all([
        import('@nats-io/transport-node'),
        import('@nats-io/jetstream'),
      ])
      link = await openNatsLink(this.#options, 'jetstream')
      const nc = link.nc
      const timeout = this.#options.requestTimeoutMs
      // The manager asks for the account's JetStream info: a server without -js fails start here.
      const jsm = await jetstream.jetstreamManager(nc, { timeout })
      jet = { link, nc, jsm, js: jetstream.jetstream(nc, { timeout }), headers: () => client.headers() }
    } catch (error) {
      this.#guard.failed()
      await link?.close()
      if (error instanceof UnavailableError) throw error
      const detail = `cannot reach jetstream at ${String(this.#options.servers ?? 'the given connection')}: ${text(error)}`
      throw new UnavailableError(ErrorCode.UNAVAILABLE, detail, 'broker', { cause: error })
    }
    if (!this.#guard.started()) {
      await link.close()
      throw unavailable('stopped while starting')
    }
    this.#jet = jet
  }

  async stop(): Promise<void> {
    if (!this.#guard.stop()) return
    const jet = this.#jet
    this.#jet = undefined
    await Promise.all([...this.#closers].map((close) => close()))
    if (!jet) return
    // Acks are fire-and-forget: let the server see the last ones before the socket goes.
    await bounded(jet.nc.flush(), this.#options.flushTimeoutMs)
    await jet.link.close()
  }

  async publish(topic: string, message: PublishMessage): Promise<void> {
    const tokens = checkTopic(topic, false)
    const checked = checkMessage(topic, message)
    const jet = this.#live()
    const headers = jet.headers()
    const withHeaders = writeHeaders(checked, headers)
    await this.#store(jet, tokens, topic, checked.body, withHeaders ? headers : undefined)
  }

  async subscribe(
    topic: string,
    handler: BrokerHandler,
    options: SubscribeOptions = {},
  ): Promise<Subscription> {
    const tokens = checkTopic(topic, true)
    const queue = checkQueue(options.queue)
    const durable =
      checkDurable(options.durable) ?? (queue === undefined ? undefined : queueDurable(queue, topic))
    const jet = this.#live()
    const stream = await this.#stream(jet, streamFor(this.#options.streamPrefix, tokens))
    const info = await this.#consumer(jet, stream, topic, durable)
    const ctx = this.#delivery(jet)
    let messages
    try {
      messages = await jet.js.consumers
        .getConsumerFromInfo(info)
        .consume({ callback: (m) => deliver(ctx, m, handler) })
    } catch (error) {
      throw unavailable(`cannot consume ${stream}/${info.name}: ${text(error)}`, error)
    }
    let closed = false
    const close = async (): Promise<void> => {
      if (closed) return
      closed = true
      this.#closers.delete(close)
      await bounded(messages.close(), this.#options.flushTimeoutMs)
      // A durable outlives its subscription (that is its point); an ephemeral one is ours alone.
      if (durable === undefined) {
        await bounded(jet.jsm.consumers.delete(stream, info.name), this.#options.requestTimeoutMs)
      }
    }
    this.#closers.add(close)
    if (!this.#guard.live) {
      await close()
      throw unavailable('stopped while subscribing')
    }
    const unsubscribe = close
    return queue === undefined ? { topic, unsubscribe } : { topic, queue, unsubscribe }
  }

  async #store(
    jet: Jet,
    tokens: string[],
    topic: string,
    body: Uint8Array,
    headers?: MsgHdrs,
  ): Promise<void> {
    const wanted = streamFor(this.#options.streamPrefix, tokens)
    await this.#stream(jet, wanted)
    try {
      await jet.js.publish(topic, body, headers ? { headers } : {})
    } catch (error) {
      this.#streams.delete(wanted.name) // it may have been deleted under us: the next publish recreates it
      const mapped = clientError(error)
      if (mapped instanceof BadRequestError) throw mapped
      throw unavailable(`jetstream could not store "${topic}": ${text(error)}`, error)
    }
  }

  /** The stream that stores these subjects: created if missing, else whichever already stores them. */
  #stream(jet: Jet, wanted: { name: string; subjects: string[] }): Promise<string> {
    let known = this.#streams.get(wanted.name)
    if (!known) {
      known = (async () => {
        try {
          const { replicas } = this.#options
          await jet.jsm.streams.add({ name: wanted.name, subjects: wanted.subjects, num_replicas: replicas })
          return wanted.name
        } catch (error) {
          // 'already in use' (other settings) or subjects owned by another stream: use the owner.
          const owner = await jet.jsm.streams.find(wanted.subjects[0]!).catch(() => undefined)
          if (owner) return owner
          throw unavailable(`cannot create stream ${wanted.name}: ${text(error)}`, error)
        }
      })()
      this.#streams.set(wanted.name, known)
      known.catch(() => this.#streams.delete(wanted.name))
    }
    return known
  }

  async #consumer(jet: Jet, stream: string, topic: string, durable?: string): Promise<ConsumerInfo> {
    const config: Partial<ConsumerConfig> = {
      ack_policy: 'explicit',
      deliver_policy: 'new',
      filter_subject: topic,
      ack_wait: this.#options.ackWaitMs * NANOS_PER_MS,
      max_deliver: -1,
      ...(durable === undefined
        ? { inactive_threshold: EPHEMERAL_INACTIVE_MS * NANOS_PER_MS }
        : { durable_name: durable }),
    }
    // Checked first: nats-server 2.9 takes an add on an existing durable as an update, even of its
    // filter, which would silently move another subscriber's durable to this topic.
    const existing =
      durable === undefined ? undefined : await jet.jsm.consumers.info(stream, durable).catch(() => undefined)
    if (existing && existing.config.filter_subject !== topic) {
      const detail = `durable "${durable}" already reads "${existing.config.filter_subject ?? ''}", not "${topic}"`
      throw new ConflictError(ErrorCode.CONFLICT, detail, 'broker')
    }
    try {
      // Creates it, or updates what may change (ack wait): the latest subscriber's settings win.
      return await jet.jsm.consumers.add(stream, config)
    } catch (error) {
      if (existing) return existing // a server that refuses the change: keep reading as it is
      throw unavailable(`cannot create a consumer on ${stream}: ${text(error)}`, error)
    }
  }

  /** What deliveries on `jet` need (one per subscription). */
  #delivery(jet: Jet): DeliveryContext {
    const o = this.#options
    return {
      guard: this.#guard,
      maxDeliver: o.maxDeliver,
      backoffMs: o.backoffMs,
      deadLetterSubject: o.deadLetterSubject,
      onError: o.onError,
      headers: jet.headers,
      store: (subject, body, headers) => this.#store(jet, checkTopic(subject, false), subject, body, headers),
    }
  }

  #live(): Jet {
    this.#guard.assertLive()
    return this.#jet!
  }
}

function text(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

function invalid(detail: string): never {
  throw new BadRequestError(ErrorCode.INVALID_OPTIONS, detail, 'broker')
}

function unavailable(detail: string, cause?: unknown): UnavailableError {
  return new UnavailableError(ErrorCode.UNAVAILABLE, `broker jetstream: ${detail}`, 'broker', { cause })
}

/** Waits for `promise` at most `ms`; never throws (used where a dead server must not hang a stop). */
async function bounded(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms)
  })
  try {
    await Promise.race([promise.catch(() => undefined), timeout])
  } finally {
    clearTimeout(timer)
  }
}
