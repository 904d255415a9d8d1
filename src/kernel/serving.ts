/**
 * The serving door: envelopes from other nodes (asks, sends, streams) enter the local runtime
 * here, after the same checks as local traffic (kernel running, kind hosted, handler known). An
 * address pinned to this node (`kind/id@here`) is served as the local address.
 */
import { MicaError } from '../errors.ts'
import type { CodecTable } from '../codec/table.ts'
import type { Address } from './address.ts'
import type { EncodedAnswer, EncodedMessage, EncodedReply, LocalRuntime } from './local.ts'
import type { EncodedStreamSink, StreamRequest } from './stream-open.ts'

export interface ServingDoorOptions {
  nodeId: string
  local: LocalRuntime
  codecs: CodecTable
  /** Why `to`/`handler` cannot be served here, or undefined when it can. */
  refuse(to: Address, handler: string): MicaError | undefined
  serveStream(to: Address, req: StreamRequest, toCaller: EncodedStreamSink): EncodedStreamSink
}

export class ServingDoor {
  readonly #o: ServingDoorOptions

  constructor(options: ServingDoorOptions) {
    this.#o = options
  }

  /** Serves an ask or send that arrived from another node. */
  serveEncoded(
    to: Address,
    msg: EncodedMessage,
    deadline: number,
    ask: boolean,
  ): Promise<EncodedReply | undefined> {
    const local = this.#servable(to, msg.handler)
    if (local instanceof MicaError) return Promise.reject(local)
    if (!ask) {
      this.#o.local.postEncoded(local, msg)
      return Promise.resolve(undefined)
    }
    return this.#o.local.requestEncoded(local, msg, deadline)
  }

  /** Serves an ask that arrived from another node; its outcome goes to `answer`. */
  answerEncoded(to: Address, msg: EncodedMessage, deadline: number, answer: EncodedAnswer): void {
    const local = this.#servable(to, msg.handler)
    if (local instanceof MicaError) answer.fail(local)
    else this.#o.local.answerEncoded(local, msg, deadline, answer)
  }

  /** An ask whose placement moved to this node during a retry. */
  async askHere(to: Address, msg: EncodedMessage, deadline: number): Promise<unknown> {
    const reply = await this.serveEncoded(to, msg, deadline, true)
    return this.#o.codecs.get(reply?.ct).decode(reply?.bytes ?? new Uint8Array(0))
  }

  /** A stream another node opened to an actor here; throws when it cannot be served. */
  serveStream(to: Address, req: StreamRequest, toCaller: EncodedStreamSink): EncodedStreamSink {
    return this.#o.serveStream(to, req, toCaller)
  }

  /** The local address an envelope from another node is served at, or why it cannot be. */
  #servable(to: Address, handler: string): Address | MicaError {
    const pinnedHere = to.node === undefined || to.node === this.#o.nodeId
    const local: Address = pinnedHere ? to : { ...to, node: undefined }
    return this.#o.refuse(local, handler) ?? local
  }
}
