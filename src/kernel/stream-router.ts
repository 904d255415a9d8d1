/**
 * Where a stream goes: checked like an ask at the door, then to an actor on this node (value ends
 * inline, frames to a worker) or to the node it lives on (bytes both ways, bound once placed).
 */
import { BadRequestError, ErrorCode, MicaError } from '../errors.ts'
import type { Clock } from '../clock.ts'
import type { CodecTable } from '../codec/table.ts'
import type { StreamOptions } from '../actors/types.ts'
import type { Address } from './address.ts'
import { checkMetadata, frameContentType } from './body.ts'
import type { LocalRuntime } from './local.ts'
import type { Where } from './placement.ts'
import type { Remote } from './remote.ts'
import { DEFAULT_STREAM_WINDOW, failedStream, StreamEnd, type Stream } from './stream.ts'
import {
  decodingSink,
  DeferredSink,
  encodingLink,
  NO_SINK,
  type EncodedStreamSink,
  type StreamRequest,
} from './stream-open.ts'

/** Largest stream window a caller may ask for. */
export const MAX_STREAM_WINDOW = 4_096

/** What the router needs from the kernel. */
export interface StreamPorts {
  readonly codecs: CodecTable
  readonly clock: Clock
  readonly local: LocalRuntime
  readonly remote: Remote | undefined
  /** undefined = here; an error = nowhere. */
  placement(to: Address): Where | Promise<Where> | MicaError | undefined
  /** Why `to`/`handler` cannot be served here, if it cannot. */
  refused(to: Address, handler: string, fromActor: boolean): MicaError | undefined
  parse(to: string): Address
  /** An ask-style deadline: absolute, or a negative timeout from now. */
  deadline(options: StreamOptions): number
}

export class StreamRouter {
  readonly #p: StreamPorts

  constructor(ports: StreamPorts) {
    this.#p = ports
  }

  /** `ref.stream(handler, options)`: the caller's end, failed at once when it cannot open. */
  open(to: Address, handler: string, options: StreamOptions | undefined): Stream<unknown, unknown> {
    let req: StreamRequest
    try {
      req = this.#request(handler, options)
    } catch (err) {
      return failedStream(MicaError.from(err))
    }
    const place = this.#p.placement(to)
    if (place instanceof MicaError) return failedStream(place)
    if (place === undefined || place === 'local') {
      const refused = this.#p.refused(to, req.handler, false)
      return refused !== undefined ? failedStream(refused) : this.#p.local.openStream(to, req)
    }
    // elsewhere, or not known yet: the caller's end talks bytes to the target once it is placed
    const codec = this.#p.codecs.get(req.ct)
    const deferred = new DeferredSink()
    const caller = new StreamEnd(encodingLink(codec, deferred), req.window)
    deferred.bind(
      this.#placed(
        to,
        req,
        place,
        decodingSink(codec, () => caller),
      ),
    )
    return caller
  }

  /** A stream whose caller talks bytes (an actor on a worker); failures go to `toCaller.cancel`. */
  encoded(to: string, req: StreamRequest, toCaller: EncodedStreamSink): EncodedStreamSink {
    let address: Address
    try {
      address = this.#p.parse(to)
    } catch (err) {
      toCaller.cancel(MicaError.from(err).toWire())
      return NO_SINK
    }
    const place = this.#p.placement(address)
    if (place instanceof MicaError) {
      toCaller.cancel(place.toWire())
      return NO_SINK
    }
    return this.#placed(address, req, place, toCaller)
  }

  /** A stream another node opened to an actor here; throws when it cannot be served. */
  serve(to: Address, req: StreamRequest, toCaller: EncodedStreamSink, nodeId: string): EncodedStreamSink {
    const local: Address = to.node === undefined || to.node === nodeId ? to : { ...to, node: undefined }
    const refused = this.#p.refused(local, req.handler, false)
    if (refused !== undefined) throw refused
    return this.#p.local.openStreamEncoded(local, req, toCaller)
  }

  #placed(
    to: Address,
    req: StreamRequest,
    place: Where | Promise<Where> | undefined,
    toCaller: EncodedStreamSink,
  ): EncodedStreamSink {
    const open = (p: Where | undefined): EncodedStreamSink => {
      if (p !== undefined && p !== 'local') return this.#p.remote!.openStream(to, p, req, toCaller)
      const refused = this.#p.refused(to, req.handler, true)
      if (refused === undefined) return this.#p.local.openStreamEncoded(to, req, toCaller)
      toCaller.cancel(refused.toWire())
      return NO_SINK
    }
    if (!(place instanceof Promise)) return open(place)
    const deferred = new DeferredSink()
    place.then(
      (p) => deferred.bind(open(p)),
      (err: unknown) => toCaller.cancel(MicaError.from(err).toWire()),
    )
    return deferred
  }

  #request(handler: string, options: StreamOptions | undefined): StreamRequest {
    const codec = this.#p.codecs.get(options?.contentType)
    const window = options?.window ?? DEFAULT_STREAM_WINDOW
    if (!(Number.isInteger(window) && window > 0 && window <= MAX_STREAM_WINDOW)) {
      throw new BadRequestError(
        ErrorCode.BAD_REQUEST,
        `window must be an integer from 1 to ${MAX_STREAM_WINDOW}`,
      )
    }
    const dl =
      options?.timeout === undefined && options?.deadline === undefined ? 0 : this.#p.deadline(options)
    return {
      handler,
      md: checkMetadata(options?.metadata),
      ct: frameContentType(this.#p.codecs, codec.contentType),
      dl: dl < 0 ? this.#p.clock.now() - dl : dl,
      window,
    }
  }
}
