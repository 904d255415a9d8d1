/**
 * The main thread's table of streams that cross the thread hop: streams it opened to a worker (ids
 * from the runtime's counter, positive) and streams actors on a worker opened (negative ids, keyed
 * by worker). A bridge forgets its route once both sides ended or either cancelled; a worker that
 * dies cancels every stream through it.
 */
import type { MicaError } from '../errors.ts'
import type { CodecTable } from '../codec/table.ts'
import { F_STREAM_OPEN, type Frame, type StreamFrame, type StreamOpenFrame } from './frames.ts'
import type { KernelServices } from './local.ts'
import { StreamEnd } from './stream.ts'
import { dispatchStreamFrame, frameSink } from './stream-frames.ts'
import {
  decodingSink,
  encodingLink,
  NO_SINK,
  type EncodedStreamSink,
  type StreamRequest,
} from './stream-open.ts'

interface Route {
  readonly slot: number
  sink: EncodedStreamSink
  ends: number
}

export class WorkerStreams {
  readonly #routes = new Map<number | string, Route>()
  readonly #codecs: CodecTable
  readonly #services: KernelServices
  readonly #post: (slot: number, frame: Frame) => void

  constructor(codecs: CodecTable, services: KernelServices, post: (slot: number, frame: Frame) => void) {
    this.#codecs = codecs
    this.#services = services
    this.#post = post
  }

  get size(): number {
    return this.#routes.size
  }

  /** A stream from this thread to an actor on worker `slot`: the caller's end. */
  open(slot: number, sid: number, to: string, req: StreamRequest): StreamEnd {
    const codec = this.#codecs.get(req.ct)
    const caller = new StreamEnd(encodingLink(codec, this.#toWorker(slot, sid)), req.window)
    this.#routes.set(sid, { slot, sink: decodingSink(codec, () => caller), ends: 0 })
    caller.onClose = () => this.#routes.delete(sid)
    this.#post(slot, openFrame(sid, to, req))
    return caller
  }

  /** A stream from another node to an actor on worker `slot`: bytes both ways. */
  openEncoded(
    slot: number,
    sid: number,
    to: string,
    req: StreamRequest,
    toCaller: EncodedStreamSink,
  ): EncodedStreamSink {
    const route: Route = { slot, sink: NO_SINK, ends: 0 }
    this.#routes.set(sid, route)
    this.#post(slot, openFrame(sid, to, req))
    route.sink = this.#counted(sid, route, toCaller)
    return this.#counted(sid, route, this.#toWorker(slot, sid))
  }

  /** An actor on worker `slot` opened a stream: bridge its frames to wherever the target lives. */
  fromWorker(slot: number, f: StreamOpenFrame): void {
    const [, sid, to, h, dl, md, ct, window] = f
    const key = `${slot}:${sid}`
    const route: Route = { slot, sink: NO_SINK, ends: 0 }
    this.#routes.set(key, route)
    const toCaller = this.#counted(key, route, this.#toWorker(slot, sid))
    const toServer = this.#services.streamEncoded(
      to,
      { handler: h, md: md ?? undefined, ct, dl, window },
      toCaller,
    )
    route.sink = this.#counted(key, route, toServer)
  }

  /** A data/end/cancel/credit frame from worker `slot`. */
  frame(slot: number, f: StreamFrame): void {
    const key = f[1] < 0 ? `${slot}:${f[1]}` : f[1]
    const route = this.#routes.get(key)
    if (route !== undefined && dispatchStreamFrame(f, route.sink)) this.#routes.delete(key)
  }

  crashed(slot: number, error: MicaError): void {
    for (const [key, route] of this.#routes) {
      if (route.slot !== slot) continue
      this.#routes.delete(key)
      route.sink.cancel(error.toWire())
    }
  }

  #toWorker(slot: number, sid: number): EncodedStreamSink {
    return frameSink((f) => this.#post(slot, f), sid)
  }

  /** `sink`, counting ends toward forgetting the route (two ends, or one cancel, and it is over). */
  #counted(key: number | string, route: Route, sink: EncodedStreamSink): EncodedStreamSink {
    return {
      ...sink,
      end: () => {
        sink.end()
        if (++route.ends === 2) this.#routes.delete(key)
      },
      cancel: (e) => {
        this.#routes.delete(key)
        sink.cancel(e)
      },
    }
  }
}

function openFrame(sid: number, to: string, req: StreamRequest): StreamOpenFrame {
  return [F_STREAM_OPEN, sid, to, req.handler, req.dl, req.md ?? null, req.ct, req.window]
}
