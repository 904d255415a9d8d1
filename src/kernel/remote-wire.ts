/**
 * The envelopes of Remote (./remote.ts): an ask waiting for another node's answer, the answer of an
 * ask served here going back on the connection it came in on, and a stream's frames to a peer.
 */
import type { MicaError } from '../errors.ts'
import type { Envelope, Peer } from '../transport/transport.ts'
import type { RegistryNode } from '../registry/registry.ts'
import type { Address } from './address.ts'
import type { EncodedAnswer, EncodedMessage, EncodedReply } from './local.ts'
import type { EncodedStreamSink } from './stream-open.ts'
import { PendingAsk } from './pending.ts'
import type { IdTable } from './id-table.ts'

/** How an ask served here is answered: the reply or error envelope, sent back to `peer`. */
export interface Answerer {
  answer(peer: Peer, reply: Envelope): void
}

/** Takes over a failed attempt of an ask when it may be retried (Remote): true when it did. */
export interface AskRetrier {
  retry(ask: RemoteAsk, error: MicaError): boolean
}

/**
 * An ask waiting for another node. It carries what a retry needs, and a failure goes to the retrier
 * first, so one ask is one promise however many attempts it takes (an async retry loop around each
 * attempt cost a promise and two microtask turns per ask).
 */
export class RemoteAsk extends PendingAsk {
  /** The node of the current attempt and its address (both change when it is retried elsewhere). */
  node: RegistryNode
  peer: string
  /** The correlation id of the current attempt. */
  id = 0
  /** Attempts made before the current one. */
  retried = 0
  /**
   * The peer's connection count when the ask was queued, or -1 when it was queued on an established
   * connection: if the peer goes down with the count unchanged, the frame never left this process.
   */
  queuedAt = -1
  readonly to: Address
  readonly msg: EncodedMessage
  readonly deadline: number
  readonly signal: AbortSignal | undefined
  readonly #table: IdTable<RemoteAsk>
  #retrier: AskRetrier | undefined

  constructor(
    to: Address,
    node: RegistryNode,
    msg: EncodedMessage,
    deadline: number,
    signal: AbortSignal | undefined,
    table: IdTable<RemoteAsk>,
    retrier: AskRetrier | undefined,
  ) {
    super(to.key, signal)
    this.to = to
    this.node = node
    this.peer = node.address
    this.msg = msg
    this.deadline = deadline
    this.signal = signal
    this.#table = table
    this.#retrier = retrier
  }

  override fail(error: MicaError): void {
    if (this.settled) return
    const retrier = this.#retrier
    if (retrier !== undefined && retrier.retry(this, error)) return
    super.fail(error)
  }

  /** No more retries: the next failure is final. */
  final(): void {
    this.#retrier = undefined
  }

  protected override settling(): void {
    this.#table.delete(this.id)
  }
}

/** Stream envelopes to a peer; `ended` counts this side's end, `forget` drops the route. */
export function envelopeSink(
  peer: () => Peer,
  id: number,
  ended: () => void,
  forget: () => void,
): EncodedStreamSink {
  const send = (env: Envelope): void => {
    if (!peer().send(env)) forget()
  }
  return {
    data: (b) => send({ t: 'stream-data', id, b }),
    end: () => {
      send({ t: 'stream-end', id })
      ended()
    },
    cancel: (e) => {
      send({ t: 'stream-cancel', id, e })
      forget()
    },
    credit: (n) => send({ t: 'stream-credit', id, n }),
  }
}

/** Where the outcome of an ask served here goes: back to the asking node as a reply or error frame. */
export class PeerAnswer implements EncodedAnswer {
  readonly #remote: Answerer
  readonly #peer: Peer
  readonly #id: number

  constructor(remote: Answerer, peer: Peer, id: number) {
    this.#remote = remote
    this.#peer = peer
    this.#id = id
  }

  reply(reply: EncodedReply): void {
    this.#remote.answer(this.#peer, replyEnvelope(this.#id, reply))
  }

  fail(error: MicaError): void {
    this.#remote.answer(this.#peer, errorEnvelope(this.#id, error))
  }
}

function replyEnvelope(id: number, reply: EncodedReply): Envelope {
  return reply.ct === null
    ? { t: 'reply', id, b: reply.bytes }
    : { t: 'reply', id, b: reply.bytes, ct: reply.ct }
}

export function errorEnvelope(id: number, error: MicaError): Envelope {
  return { t: 'error', id, e: error.toWire() }
}
