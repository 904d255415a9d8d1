/**
 * The envelopes of Remote (./remote.ts): an ask waiting for another node's answer, the answer of an
 * ask served here going back on the connection it came in on, and a stream's frames to a peer.
 */
import type { MicaError } from '../errors.ts'
import type { Envelope, Peer } from '../transport/transport.ts'
import type { EncodedAnswer, EncodedReply } from './local.ts'
import type { EncodedStreamSink } from './stream-open.ts'
import { PendingAsk } from './pending.ts'

/** How an ask served here is answered: the reply or error envelope, sent back to `peer`. */
export interface Answerer {
  answer(peer: Peer, reply: Envelope): void
}

/** An ask waiting for another node. */
export class RemoteAsk extends PendingAsk {
  readonly peer: string
  /**
   * The peer's connection count when the ask was queued, or -1 when it was queued on an established
   * connection: if the peer goes down with the count unchanged, the frame never left this process.
   */
  queuedAt = -1
  readonly #table: Map<number, RemoteAsk>
  readonly #id: number

  constructor(
    target: string,
    signal: AbortSignal | undefined,
    peer: string,
    table: Map<number, RemoteAsk>,
    id: number,
  ) {
    super(target, signal)
    this.peer = peer
    this.#table = table
    this.#id = id
  }

  protected override settling(): void {
    this.#table.delete(this.#id)
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
