/**
 * Topic publish/subscribe (Go Micro's `broker`). This file is the contract only: the message shape,
 * the Broker interface every implementation (memory, nats; later the direct broker and jetstream)
 * honours, and the limits a message must respect. Implementations live beside it; the kernel fans
 * topics into actor mailboxes on top of this, so nothing here knows about actors.
 *
 * Topics are NATS subjects: dot-separated tokens (`orders.eu.created`). A subscription may use
 * wildcards as whole tokens: `*` matches exactly one token, `>` (last token only) one or more.
 * Publishing to a wildcard is refused.
 *
 * Delivery: every subscription on a matching topic gets the message (broadcast), except that the
 * subscriptions sharing a `queue` name form a group in which exactly one member gets each message.
 * The guarantee is each implementation's own and documented there: memory and nats deliver
 * at-most-once (a message published while nobody listens, or lost with a connection, is gone);
 * jetstream at-least-once (stored, acked after the handler resolves, redelivered otherwise).
 *
 * A handler that throws (or rejects) never ends its subscription: the failure goes to the broker's
 * `onError` (default: a console warning, since a silent loss is worse than a noisy one) and is
 * counted in `handlerErrors`; the next message is delivered as usual.
 *
 * Every method rejects with the catalogue's errors only: BadRequestError (400) for a topic, queue or
 * message that breaks the rules below (`bad_request`, or `message_too_large` for sizes),
 * UnavailableError (503, retryable) when the broker is not started, stopped, or cannot reach its
 * backend.
 */

/** What a subscriber receives: `topic` is the concrete topic it was published to, never a pattern. */
export interface BrokerMessage {
  topic: string
  body: Uint8Array
  contentType?: string
  metadata: Record<string, string>
  /**
   * Present only from durable (at-least-once) brokers such as jetstream; memory and nats leave it
   * out. `attempt` is 1 on the first delivery and grows with each redelivery; `nack` asks for a
   * redelivery (after `delayMs`, else the broker's backoff) instead of the ack that would follow
   * the handler's success. Calls after the first settle nothing more.
   */
  delivery?: MessageDelivery
}

export interface MessageDelivery {
  readonly attempt: number
  nack(delayMs?: number): void
}

/** What a publisher hands over; metadata defaults to `{}`. */
export interface PublishMessage {
  body: Uint8Array
  contentType?: string
  metadata?: Record<string, string>
}

/** May be async; a returned promise is awaited only to catch its rejection (handlers may overlap). */
export type BrokerHandler = (message: BrokerMessage) => void | Promise<void>

export interface SubscribeOptions {
  /** Subscriptions with the same queue name share the messages: one member gets each. */
  queue?: string
  /**
   * Durable brokers only (others ignore it): the name of the server-side consumer that remembers
   * what was acked, so a subscriber that starts again resumes where it stopped. `[A-Za-z0-9_-]`.
   */
  durable?: string
}

export interface Subscription {
  /** The pattern subscribed to (may hold wildcards). */
  readonly topic: string
  readonly queue?: string
  /** Stops delivery to this handler; idempotent. A message already in flight may still arrive. */
  unsubscribe(): Promise<void>
}

/** Called with what a handler threw and the message it was handling. */
export type BrokerErrorHandler = (error: unknown, message: BrokerMessage) => void

/** Options every implementation accepts. */
export interface BrokerBaseOptions {
  /** Where handler failures go. Default: `console.warn`. */
  onError?: BrokerErrorHandler
}

export interface Broker {
  readonly name: string
  /** Handler failures seen so far (thrown or rejected). */
  readonly handlerErrors: number
  /** Connects whatever the broker needs; call once before anything else. */
  start(): Promise<void>
  /** Ends every subscription and releases every handle; idempotent. A stopped broker stays stopped. */
  stop(): Promise<void>
  /** Resolves once the message is handed to the broker (not once it is delivered). */
  publish(topic: string, message: PublishMessage): Promise<void>
  /** Resolves once the subscription is live: messages published after that reach it. */
  subscribe(topic: string, handler: BrokerHandler, options?: SubscribeOptions): Promise<Subscription>
}

/** The rules a topic, queue or message must follow (BadRequestError otherwise). */
export const LIMITS = {
  /** Characters of a topic or pattern. */
  topicLength: 256,
  /** Queue names follow `[A-Za-z0-9_.-]`, 1..128 characters. */
  queueLength: 128,
  /** Bytes of one body; NATS's default max_payload is 1 MiB, leave room for headers. */
  bodyBytes: 1024 * 1024 - 16 * 1024,
  /** Printable ASCII, 1..128 characters. */
  contentTypeLength: 128,
  metadataEntries: 64,
  /** Keys follow `[A-Za-z0-9_.-]`, 1..128 characters (they become NATS header names). */
  metadataKeyLength: 128,
  /** UTF-8 bytes of all keys and values of one metadata map. */
  metadataBytes: 8192,
} as const
