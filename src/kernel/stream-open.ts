/**
 * Opening a stream on this node's actors: the server end a streaming handler receives, how its
 * completion ends the stream, and the encoded sink through which a stream from another node (or a
 * worker) talks to it. Shared by the inline and worker runtimes.
 */
import { MicaError } from '../errors.ts'
import type { Reply } from '../actors/delivery.ts'
import type { Metadata } from '../actors/types.ts'
import type { Codec } from '../codec/codec.ts'
import type { WireError } from '../errors.ts'
import type { StreamEnd, StreamLink } from './stream.ts'

/** One side of a stream as bytes: what crosses a thread or a socket. */
export interface EncodedStreamSink {
  data(bytes: Uint8Array): void
  end(): void
  cancel(error: WireError): void
  credit(n: number): void
}

export interface StreamRequest {
  readonly handler: string
  readonly md: Metadata | undefined
  /** Content type of the messages both ways; null for the default. */
  readonly ct: string | null
  /** Absolute deadline for the stream to be accepted, 0 for none. */
  readonly dl: number
  readonly window: number
}

/** The handler's outcome ends the server's side (it returned) or cancels the stream (it failed). */
export class StreamReply implements Reply {
  settled = false
  readonly #end: StreamEnd

  constructor(end: StreamEnd) {
    this.#end = end
  }

  ok(): void {
    if (this.settled) return
    this.settled = true
    this.#end.end()
  }

  fail(error: MicaError): void {
    if (this.settled) return
    this.settled = true
    this.#end.abort(error)
  }
}

/** A link that encodes values into a sink (the side that holds values talks to bytes). */
export function encodingLink(codec: Codec, sink: EncodedStreamSink): StreamLink {
  return {
    data: (v) => sink.data(codec.encode(v)),
    end: () => sink.end(),
    cancel: (e) => sink.cancel(e.toWire()),
    credit: (n) => sink.credit(n),
  }
}

/** A sink that decodes bytes into an end (bytes arriving for the side that holds values). */
export function decodingSink(codec: Codec, end: () => StreamEnd | undefined): EncodedStreamSink {
  return {
    data: (b) => {
      const e = end()
      if (e === undefined) return
      let value: unknown
      try {
        value = codec.decode(b)
      } catch (err) {
        e.abort(MicaError.from(err))
        return
      }
      e.onData(value)
    },
    end: () => end()?.onEnd(),
    cancel: (w) => end()?.onCancel(MicaError.fromWire(w)),
    credit: (n) => end()?.onCredit(n),
  }
}

/** A sink that drops everything: the stream failed before it had a target. */
export const NO_SINK: EncodedStreamSink = { data() {}, end() {}, cancel() {}, credit() {} }

/** A sink whose target is found later (placement waiting on discovery): calls wait, in order, until bound. */
export class DeferredSink implements EncodedStreamSink {
  #target: EncodedStreamSink | undefined
  #queued: ((t: EncodedStreamSink) => void)[] = []

  bind(target: EncodedStreamSink): void {
    this.#target = target
    for (const call of this.#queued.splice(0)) call(target)
  }

  data(bytes: Uint8Array): void {
    this.#call((t) => t.data(bytes))
  }
  end(): void {
    this.#call((t) => t.end())
  }
  cancel(error: WireError): void {
    this.#call((t) => t.cancel(error))
  }
  credit(n: number): void {
    this.#call((t) => t.credit(n))
  }

  #call(fn: (t: EncodedStreamSink) => void): void {
    if (this.#target !== undefined) fn(this.#target)
    else this.#queued.push(fn)
  }
}
