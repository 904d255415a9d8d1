/**
 * The core NATS broker: topics are subjects (the same wildcards), queue groups are NATS queue
 * subscriptions, metadata and content type travel in headers (see nats-headers.ts). Delivery is
 * at-most-once: core NATS keeps nothing for a subscriber that is not connected at publish time.
 *
 * The client (`@nats-io/transport-node`) is imported when `start` runs, so code that never uses
 * NATS never loads it. The connection reconnects by itself when the server goes away: publishes made
 * meanwhile are buffered by the client (its defaults) and sent on reconnect, subscriptions are sent
 * again by the client, so nothing here has to replay them.
 */
import type {
  MsgHdrs,
  NatsConnection,
  NodeConnectionOptions,
  Subscription as NatsSubscription,
} from '@nats-io/transport-node'
import { BadRequestError, ErrorCode, InternalError, UnavailableError } from '../errors.ts'
import type {
  Broker,
  BrokerBaseOptions,
  BrokerHandler,
  PublishMessage,
  SubscribeOptions,
  Subscription,
} from './broker.ts'
import { BrokerGuard } from './guard.ts'
import { readMessage, writeHeaders } from './nats-headers.ts'
import { checkQueue, checkTopic } from './topic.ts'
import { checkMessage } from './validate.ts'

const EMPTY = new Uint8Array(0)

export interface NatsBrokerOptions extends BrokerBaseOptions {
  /** `nats://host:port`, or several for a cluster. */
  servers: string | string[]
  /** Connection name shown by the server's monitoring. */
  name?: string
  user?: string
  pass?: string
  token?: string
  tls?: NodeConnectionOptions['tls']
  reconnect?: boolean
  /** -1: try for ever. */
  maxReconnectAttempts?: number
  /** Pause between reconnect attempts to the same server. */
  reconnectTimeWaitMs?: number
  /** Longest wait for the server to confirm a subscribe, unsubscribe or the last publishes at stop. */
  flushTimeoutMs?: number
}

/** The client's own reconnect pause; tests shorten it. */
export const DEFAULT_RECONNECT_TIME_WAIT_MS = 2000
export const DEFAULT_FLUSH_TIMEOUT_MS = 2000

/** A fresh object per call: callers may spread it, never share it. */
export function natsDefaults() {
  return {
    name: 'mica',
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWaitMs: DEFAULT_RECONNECT_TIME_WAIT_MS,
    flushTimeoutMs: DEFAULT_FLUSH_TIMEOUT_MS,
  }
}

export class NatsBroker implements Broker {
  readonly name = 'nats'
  readonly #guard: BrokerGuard
  readonly #options: NatsBrokerOptions & ReturnType<typeof natsDefaults>
  #nc: NatsConnection | undefined
  #headers: (() => MsgHdrs) | undefined
  readonly #byContentType = new Map<string, MsgHdrs>()

  constructor(options: NatsBrokerOptions) {
    // An option given as undefined keeps its default (a spread alone would overwrite it).
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined))
    this.#options = { ...natsDefaults(), ...(given as NatsBrokerOptions) }
    this.#guard = new BrokerGuard('nats', options.onError)
  }

  get handlerErrors(): number {
    return this.#guard.errors
  }

  async start(): Promise<void> {
    this.#guard.beginStart()
    let nc: NatsConnection
    try {
      const client = await import('@nats-io/transport-node')
      this.#headers = () => client.headers()
      nc = await client.connect(this.#connectOptions())
    } catch (error) {
      this.#guard.failed()
      const detail = `cannot connect to nats ${String(this.#options.servers)}: ${message(error)}`
      throw new UnavailableError(ErrorCode.UNAVAILABLE, detail, 'broker', { cause: error })
    }
    if (!this.#guard.started()) {
      await nc.close()
      throw new UnavailableError(ErrorCode.UNAVAILABLE, 'broker nats stopped while starting', 'broker')
    }
    this.#nc = nc
  }

  async stop(): Promise<void> {
    if (!this.#guard.stop()) return
    const nc = this.#nc
    this.#nc = undefined
    if (!nc) return
    await this.#settle(nc) // send what is buffered when the server is there; never hang when it is not
    await nc.close()
  }

  async publish(topic: string, message: PublishMessage): Promise<void> {
    checkTopic(topic, false)
    const checked = checkMessage(topic, message)
    const nc = this.#live()
    let headers = this.#shared(checked)
    if (headers === undefined) {
      headers = this.#headers!()
      if (!writeHeaders(checked, headers)) headers = undefined
    }
    try {
      nc.publish(topic, checked.body, headers === undefined ? {} : { headers })
    } catch (error) {
      throw clientError(error)
    }
  }

  /**
   * Headers of a message with a content type and no metadata (the common case), made once per
   * content type and reused: the client encodes headers during `publish` and never keeps them, and
   * building them (canonical names, a map) cost more than the rest of a publish.
   */
  #shared(message: { contentType?: string; metadata: Record<string, string> }): MsgHdrs | undefined {
    const ct = message.contentType
    if (ct === undefined) return undefined
    for (const _ in message.metadata) return undefined
    let headers = this.#byContentType.get(ct)
    if (headers === undefined) {
      if (this.#byContentType.size >= 16) this.#byContentType.clear()
      headers = this.#headers!()
      writeHeaders({ topic: '', body: EMPTY, contentType: ct, metadata: {} }, headers)
      this.#byContentType.set(ct, headers)
    }
    return headers
  }

  async subscribe(
    topic: string,
    handler: BrokerHandler,
    options: SubscribeOptions = {},
  ): Promise<Subscription> {
    checkTopic(topic, true)
    const queue = checkQueue(options.queue)
    const nc = this.#live()
    let sub: NatsSubscription
    try {
      sub = nc.subscribe(topic, {
        ...(queue === undefined ? {} : { queue }),
        // err is set only when the server refuses the subscription (permissions): the client
        // closes it; there is no message to hand to onError, so there is nothing to deliver.
        callback: (err, msg) => {
          if (!err) this.#guard.run(handler, readMessage(msg))
        },
      })
    } catch (error) {
      throw clientError(error)
    }
    await this.#settle(nc)
    const unsubscribe = async (): Promise<void> => {
      if (sub.isClosed() || nc.isClosed()) return
      sub.unsubscribe()
      await this.#settle(nc)
    }
    return queue === undefined ? { topic, unsubscribe } : { topic, queue, unsubscribe }
  }

  #live(): NatsConnection {
    this.#guard.assertLive()
    return this.#nc!
  }

  /** Waits until the server has seen everything sent so far, at most flushTimeoutMs, never throws. */
  async #settle(nc: NatsConnection): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.#options.flushTimeoutMs)
    })
    try {
      await Promise.race([nc.flush().catch(() => undefined), timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  #connectOptions(): NodeConnectionOptions {
    return natsConnectOptions(this.#options)
  }
}

/** The client's options from the broker's (shared with the jetstream broker). */
export function natsConnectOptions(
  o: NatsBrokerOptions & ReturnType<typeof natsDefaults>,
): NodeConnectionOptions {
  const out: NodeConnectionOptions = {
    servers: o.servers,
    name: o.name,
    reconnect: o.reconnect,
    maxReconnectAttempts: o.maxReconnectAttempts,
    reconnectTimeWait: o.reconnectTimeWaitMs,
  }
  if (o.user !== undefined) out.user = o.user
  if (o.pass !== undefined) out.pass = o.pass
  if (o.token !== undefined) out.token = o.token
  if (o.tls !== undefined) out.tls = o.tls
  return out
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** The client's errors in the catalogue: closed or draining is unavailable, too big is a bad request. */
export function clientError(error: unknown): Error {
  const text = message(error)
  if (/max_payload/i.test(text)) return new BadRequestError(ErrorCode.MESSAGE_TOO_LARGE, text, 'broker')
  if (/closed|draining/i.test(text) || /Closed|Draining/.test(error instanceof Error ? error.name : '')) {
    return new UnavailableError(ErrorCode.UNAVAILABLE, `nats: ${text}`, 'broker', { cause: error })
  }
  return new InternalError(ErrorCode.INTERNAL, `nats: ${text}`, 'broker', { cause: error })
}
