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
import type { MsgHdrs, NatsConnection, Subscription as NatsSubscription } from '@nats-io/transport-node'
import { openNatsLink, type NatsConnectionOptions, type NatsLink } from '../nats/connection.ts'
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

export interface NatsBrokerOptions extends BrokerBaseOptions, NatsConnectionOptions {
  /** Longest wait for the server to confirm a subscribe, unsubscribe or the last publishes at stop. */
  flushTimeoutMs?: number
}

export const DEFAULT_FLUSH_TIMEOUT_MS = 2000

/** Checks what every NATS broker needs: somewhere to connect. */
export function checkNatsBrokerOptions(options: NatsBrokerOptions, who: string): void {
  if (options.connection === undefined && options.servers === undefined)
    throw new BadRequestError(
      ErrorCode.INVALID_OPTIONS,
      `${who} broker options: servers or connection is required`,
    )
  const flush = options.flushTimeoutMs
  if (flush !== undefined && !(Number.isFinite(flush) && flush > 0))
    throw new BadRequestError(ErrorCode.INVALID_OPTIONS, `${who} broker options: flushTimeoutMs must be > 0`)
}

export class NatsBroker implements Broker {
  readonly name = 'nats'
  readonly #guard: BrokerGuard
  readonly #options: NatsBrokerOptions
  readonly #flushTimeoutMs: number
  #link: NatsLink | undefined
  #headers: (() => MsgHdrs) | undefined
  readonly #byContentType = new Map<string, MsgHdrs>()

  constructor(options: NatsBrokerOptions) {
    checkNatsBrokerOptions(options, 'nats')
    this.#options = options
    this.#flushTimeoutMs = options.flushTimeoutMs ?? DEFAULT_FLUSH_TIMEOUT_MS
    this.#guard = new BrokerGuard('nats', options.onError)
  }

  get handlerErrors(): number {
    return this.#guard.errors
  }

  async start(): Promise<void> {
    this.#guard.beginStart()
    let link: NatsLink
    try {
      const client = await import('@nats-io/transport-node')
      this.#headers = () => client.headers()
      link = await openNatsLink(this.#options, 'broker')
    } catch (error) {
      this.#guard.failed()
      throw error
    }
    if (!this.#guard.started()) {
      await link.close()
      throw new UnavailableError(ErrorCode.UNAVAILABLE, 'broker nats stopped while starting', 'broker')
    }
    this.#link = link
  }

  async stop(): Promise<void> {
    if (!this.#guard.stop()) return
    const link = this.#link
    this.#link = undefined
    if (!link) return
    await this.#settle(link.nc) // send what is buffered when the server is there; never hang when it is not
    await link.close()
  }

  async publish(topic: string, message: PublishMessage): Promise<void> {
    checkTopic(topic, false)
    const checked = checkMessage(topic, message)
    const nc = this.#live()
    let headers: MsgHdrs | undefined
    if (checked.contentType !== undefined || hasEntries(checked.metadata)) {
      headers = this.#shared(checked)
      if (headers === undefined) {
        headers = this.#headers!()
        writeHeaders(checked, headers)
      }
    }
    try {
      nc.publish(topic, checked.body, headers === undefined ? NO_OPTIONS : { headers })
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
    return this.#link!.nc
  }

  /** Waits until the server has seen everything sent so far, at most flushTimeoutMs, never throws. */
  async #settle(nc: NatsConnection): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.#flushTimeoutMs)
    })
    try {
      await Promise.race([nc.flush().catch(() => undefined), timeout])
    } finally {
      clearTimeout(timer)
    }
  }
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

/**
 * Publish options of a message with neither content type nor metadata: no headers, and no header
 * object made. Shared: the client only fills in `reply: ''` on it.
 */
const NO_OPTIONS = {}

function hasEntries(metadata: Record<string, string>): boolean {
  for (const _ in metadata) return true
  return false
}
