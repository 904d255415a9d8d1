/**
 * WorkerRuntime: the actor host of one worker thread and its end of the port. Messages arrive as
 * frames with encoded bodies (decoded by the cell that runs the handler); replies, dead letters and
 * the actors' own sends and asks go back to the main thread, which routes them.
 */
import { ErrorCode, MicaError, NotFoundError, UnavailableError } from '../errors.ts'
import { systemClock } from '../clock.ts'
import { CodecTable } from '../codec/table.ts'
import { ActorHost } from '../actors/host.ts'
import type { Delivery, Reply } from '../actors/delivery.ts'
import type { ActorEnvironment } from '../actors/environment.ts'
import type {
  ActorRef,
  AnyActorDefinition,
  AskOptions,
  SendOptions,
  StreamOptions,
  PublishOptions,
} from '../actors/types.ts'
import type { Codec } from '../codec/codec.ts'
import type { DeadLetterReason } from '../mailbox/dead-letters.ts'
import { AddressCache, type Address } from './address.ts'
import { checkMetadata, encodeBody, frameContentType } from './body.ts'
import { PortChannel } from './channel.ts'
import { DeadlineWheel } from './deadlines.ts'
import { loadDefinition, moduleHref } from './definitions.ts'
import {
  F_STREAM_CANCEL,
  F_STREAM_CREDIT,
  F_STREAM_DATA,
  F_STREAM_END,
  F_STREAM_OPEN,
  type StreamOpenFrame,
  F_PUBLISH,
  F_ASK,
  F_CTRL,
  F_CTRL_REPLY,
  F_DEAD,
  F_ERROR,
  F_REPLY,
  F_SEND,
  CATCH_UP_CONTROL_OP,
  type ControlFrame,
  type Frame,
  type MessageFrame,
} from './frames.ts'
import { PendingAsk } from './pending.ts'
import { IdTable } from './id-table.ts'
import { DEFAULT_STREAM_WINDOW, failedStream, StreamEnd } from './stream.ts'
import { MAX_STREAM_WINDOW } from './stream-router.ts'
import { dispatchStreamFrame, frameSink } from './stream-frames.ts'
import { decodingSink, encodingLink, StreamReply, type EncodedStreamSink } from './stream-open.ts'
import { Ref, type Router } from './ref.ts'
import type { WorkerBootData } from './worker-entry.ts'
import { JOURNAL_CONTROL_OP, WorkerJournal } from './worker-journal.ts'

const CONTROL_TIMEOUT_MS = 60_000

/**
 * How an actor's ask (or journal call) still waiting on the main thread ends when the worker stops
 * or loses the main thread: it left this worker, and the main thread may have routed it to a
 * handler that ran, so it is `connection_lost` (not retried), never a refusal.
 */
function mayHaveRun(why: string): UnavailableError {
  return new UnavailableError(ErrorCode.CONNECTION_LOST, `${why} while the ask was out; it may have run`)
}

export class WorkerRuntime implements ActorEnvironment, Router {
  readonly clock = systemClock
  readonly codecs: CodecTable
  readonly copyReplies = false
  readonly journal: WorkerJournal
  readonly #data: WorkerBootData
  readonly #host: ActorHost
  readonly #channel: PortChannel
  readonly #wheel = new DeadlineWheel(systemClock)
  readonly #pending = new IdTable<PendingAsk>()
  readonly #addresses = new AddressCache()
  /** Kinds being imported; frames for them wait here in order. */
  readonly #loading = new Map<string, { frames: MessageFrame[]; done: Promise<void> }>()
  #nextId = 0
  readonly #streams = new Map<number, { sink: EncodedStreamSink }>()

  constructor(data: WorkerBootData) {
    this.#data = data
    this.codecs = new CodecTable(undefined, data.defaultContentType)
    this.#host = new ActorHost(this, data.passivation)
    this.journal = new WorkerJournal((call) => this.#callMain(JOURNAL_CONTROL_OP, call))
    this.#channel = new PortChannel(
      data.port,
      data.limits,
      (batch) => this.#onBatch(batch),
      () => this.#wheel.abandonAll(mayHaveRun('the main thread is gone')),
    )
  }

  // ---- frames from the main thread

  #onBatch(batch: unknown[]): void {
    for (let i = 1; i < batch.length; i++) {
      const f = batch[i] as Frame
      switch (f[0]) {
        case F_SEND:
        case F_ASK:
          this.#deliver(f)
          break
        case F_REPLY: {
          const p = this.#pending.get(f[1])
          if (p === undefined) break
          try {
            p.ok(this.codecs.get(f[3] ?? undefined).decode(f[2]))
          } catch (err) {
            p.fail(MicaError.from(err))
          }
          break
        }
        case F_ERROR:
        case F_CTRL_REPLY: {
          const p = this.#pending.get(f[1])
          if (p === undefined) break
          if (f[0] === F_CTRL_REPLY && f[2]) p.ok(f[3])
          else p.fail(MicaError.fromWire(f[0] === F_ERROR ? f[2] : f[3]))
          break
        }
        case F_CTRL:
          this.#control(f)
          break
        case F_STREAM_OPEN:
          this.#openStream(f)
          break
        case F_STREAM_DATA:
        case F_STREAM_END:
        case F_STREAM_CANCEL:
        case F_STREAM_CREDIT: {
          const s = this.#streams.get(f[1])
          if (s !== undefined) dispatchStreamFrame(f, s.sink)
          break
        }
      }
    }
  }

  #deliver(f: MessageFrame): void {
    const [t, id, to, , h, dl, md, ct, b] = f
    let addr: Address
    try {
      addr = this.#addresses.parse(to)
    } catch (err) {
      if (t === F_ASK) this.#push([F_ERROR, id, MicaError.from(err).toWire()])
      return
    }
    const loading = this.#loading.get(addr.kind)
    if (loading !== undefined) {
      loading.frames.push(f)
      return
    }
    const reply = t === F_ASK ? new WorkerReply(this, id, ct) : undefined
    const d: Delivery = {
      handler: h,
      body: b,
      ct: ct ?? this.codecs.defaultContentType,
      md: md ?? undefined,
      dl,
      reply,
    }
    this.#host.deliver(addr.kind, addr.id, addr.key, d)
  }

  /** A stream to an actor here: its handler gets the server end; the turn lasts as long as it runs. */
  #openStream(f: StreamOpenFrame): void {
    const [, sid, to, h, dl, md, ct, window] = f
    const codec = this.codecs.get(ct)
    const server = new StreamEnd(
      encodingLink(
        codec,
        frameSink((x) => this.#push(x), sid),
      ),
      window,
    )
    this.#streams.set(sid, { sink: decodingSink(codec, () => server) })
    server.onClose = () => this.#streams.delete(sid)
    const open = (): void => {
      let addr: Address
      try {
        addr = this.#addresses.parse(to)
      } catch (err) {
        server.abort(MicaError.from(err))
        return
      }
      const d: Delivery = {
        handler: h,
        body: server,
        ct: undefined,
        md: md ?? undefined,
        dl,
        reply: new StreamReply(server),
        stream: true,
      }
      this.#host.deliver(addr.kind, addr.id, addr.key, d)
    }
    const loading = this.#loading.get(to.slice(0, to.indexOf('/')))
    if (loading === undefined) open()
    else loading.done.then(open, (err: unknown) => server.abort(MicaError.from(err)))
  }

  #control(f: ControlFrame): void {
    const [, id, op, payload] = f
    this.#runControl(op, payload).then(
      (result) => this.#push([F_CTRL_REPLY, id, true, result ?? null]),
      (err: unknown) => this.#push([F_CTRL_REPLY, id, false, MicaError.from(err).toWire()]),
    )
  }

  async #runControl(op: string, payload: unknown): Promise<unknown> {
    const p = payload as { kind: string; module: string; id: string }
    switch (op) {
      case 'kind':
        return this.#loadKind(p.kind, p.module)
      case 'activate': {
        await this.#loading.get(p.kind)?.done
        const cell = this.#host.activate(p.kind, p.id, `${p.kind}/${p.id}`)
        if (cell === undefined) throw new NotFoundError(ErrorCode.KIND_NOT_FOUND, `no kind ${p.kind}`)
        return null
      }
      case 'drain': {
        // reports whether anything was still running, so the kernel repeats until a quiet round
        const busy = this.#host.depths(1).length > 0 || this.#pending.size > 0
        await this.#host.idle()
        return { busy }
      }
      case 'stop':
        await this.#host.stopAll((payload as { until: number }).until)
        this.#wheel.abandonAll(mayHaveRun('the kernel stopped'))
        return null
      case CATCH_UP_CONTROL_OP:
        this.#host.catchUp()
        return null
      case 'stats':
        return {
          live: this.#host.liveCount,
          depths: this.#host.depths(),
          pending: this.#pending.size,
          handlers: this.#host.handlerCounts(),
        }
      default:
        throw new NotFoundError(ErrorCode.HANDLER_NOT_FOUND, `unknown control op ${op}`)
    }
  }

  #loadKind(kind: string, module: string): Promise<void> {
    if (this.#host.kind(kind) !== undefined) return Promise.resolve()
    const existing = this.#loading.get(kind)
    if (existing !== undefined) return existing.done
    const frames: MessageFrame[] = []
    const done = loadDefinition(module, kind).then(
      (def) => {
        this.#host.addKind(def)
        this.#loading.delete(kind)
        for (const f of frames) this.#deliver(f)
      },
      (err: unknown) => {
        this.#loading.delete(kind)
        for (const f of frames) if (f[0] === F_ASK) this.#push([F_ERROR, f[1], MicaError.from(err).toWire()])
        throw err
      },
    )
    this.#loading.set(kind, { frames, done })
    return done
  }

  push(frame: Frame): void {
    this.#push(frame)
  }

  #push(frame: Frame): void {
    if (!this.#channel.push(frame)) this.warn('main thread backlog full, frame dropped')
  }

  // ---- ActorEnvironment: the way out of this worker

  get maxMessageBytes(): number {
    return this.#data.maxMessageBytes
  }

  send(to: string, handler: string, msg: unknown, options?: SendOptions): void {
    this.sendTo(this.#addresses.parse(to), handler, msg, options)
  }

  ask(to: string, handler: string, msg: unknown, options?: AskOptions): Promise<unknown> {
    let addr: Address
    try {
      addr = this.#addresses.parse(to)
    } catch (err) {
      return Promise.reject(err)
    }
    return this.askTo(addr, handler, msg, options)
  }

  sendTo(to: Address, handler: string, msg: unknown, options: SendOptions | undefined): void {
    const md = checkMetadata(options?.metadata)
    const { ct, bytes } = encodeBody(this.codecs, msg, options?.contentType, this.#data.maxMessageBytes)
    this.#push([
      F_SEND,
      0,
      addressText(to),
      '',
      handler,
      0,
      md ?? null,
      frameContentType(this.codecs, ct),
      bytes,
    ])
  }

  askTo(to: Address, handler: string, msg: unknown, options: AskOptions | undefined): Promise<unknown> {
    let frame: MessageFrame
    const dl = options?.deadline ?? this.clock.now() + (options?.timeout ?? this.#data.askTimeoutMs)
    const id = ++this.#nextId
    try {
      const md = checkMetadata(options?.metadata)
      const { ct, bytes } = encodeBody(this.codecs, msg, options?.contentType, this.#data.maxMessageBytes)
      frame = [
        F_ASK,
        id,
        addressText(to),
        '',
        handler,
        dl,
        md ?? null,
        frameContentType(this.codecs, ct),
        bytes,
      ]
    } catch (err) {
      return Promise.reject(err)
    }
    const pending = this.#track(id, to.key, dl, options?.signal)
    this.#push(frame)
    return pending.promise
  }

  /** A stream opened by an actor here: its id is negative (the main thread's own ids are positive). */
  streamTo(to: Address, handler: string, options: StreamOptions | undefined): StreamEnd<unknown, unknown> {
    let codec: Codec
    let frame: StreamOpenFrame
    const sid = -++this.#nextId
    try {
      codec = this.codecs.get(options?.contentType)
      const window = options?.window ?? DEFAULT_STREAM_WINDOW
      if (!(Number.isInteger(window) && window > 0 && window <= MAX_STREAM_WINDOW)) {
        throw new MicaError(
          400,
          ErrorCode.BAD_REQUEST,
          `window must be an integer from 1 to ${MAX_STREAM_WINDOW}`,
        )
      }
      const dl =
        options?.deadline ?? (options?.timeout === undefined ? 0 : this.clock.now() + options.timeout)
      const md = checkMetadata(options?.metadata) ?? null
      frame = [
        F_STREAM_OPEN,
        sid,
        addressText(to),
        handler,
        dl,
        md,
        frameContentType(this.codecs, codec.contentType),
        window,
      ]
    } catch (err) {
      return failedStream(MicaError.from(err))
    }
    const caller = new StreamEnd(
      encodingLink(
        codec,
        frameSink((f) => this.#push(f), sid),
      ),
      frame[7],
    )
    this.#streams.set(sid, { sink: decodingSink(codec, () => caller) })
    caller.onClose = () => this.#streams.delete(sid)
    this.#push(frame)
    return caller
  }

  publish(topic: string, msg: unknown, options?: PublishOptions): void {
    const md = checkMetadata(options?.metadata)
    const { ct, bytes } = encodeBody(this.codecs, msg, options?.contentType, this.#data.maxMessageBytes)
    this.#push([F_PUBLISH, topic, md ?? null, frameContentType(this.codecs, ct), bytes])
  }

  ref(address: string): ActorRef {
    return new Ref(this, this.#addresses.parse(address))
  }

  async spawn(definition: AnyActorDefinition | string | URL, id?: string): Promise<ActorRef> {
    const module =
      typeof definition === 'string' || definition instanceof URL ? moduleHref(definition) : definition.module
    const kind = typeof definition === 'object' && !(definition instanceof URL) ? definition.kind : undefined
    if (module === undefined)
      throw new NotFoundError(ErrorCode.KIND_NOT_FOUND, 'definition has no module URL')
    const address = await this.#callMain('spawn', { module, kind: kind ?? null, id: id ?? '' })
    return this.ref(address as string)
  }

  /** A request to the main thread (spawn, journal), answered by a control reply. */
  #callMain(op: string, payload: unknown): Promise<unknown> {
    const reqId = ++this.#nextId
    const pending = this.#track(reqId, 'kernel', this.clock.now() + CONTROL_TIMEOUT_MS, undefined)
    this.#push([F_CTRL, reqId, op, payload])
    return pending.promise
  }

  deadLetter(address: string, d: Delivery, reason: DeadLetterReason, error: MicaError | undefined): void {
    const body = d.body instanceof Uint8Array ? d.body : null
    this.#push([
      F_DEAD,
      address,
      d.handler,
      reason,
      d.reply !== undefined,
      error?.toWire() ?? null,
      d.ct ?? null,
      body,
    ])
  }

  warn(message: string, error?: unknown): void {
    const detail = error instanceof Error && !(error instanceof MicaError) ? (error.stack ?? null) : null
    this.#push([F_CTRL, 0, 'log', { message, error: detail }])
  }

  #track(id: number, target: string, deadline: number, signal: AbortSignal | undefined): PendingAsk {
    const pending = new TrackedAsk(target, signal, this.#pending, id)
    this.#pending.set(id, pending)
    this.#wheel.add(pending, deadline)
    return pending
  }
}

function addressText(a: Address): string {
  return a.node === undefined ? a.key : `${a.key}@${a.node}`
}

/** The reply path of an ask served on this worker: the value is encoded here, with the ask's codec. */
class WorkerReply implements Reply {
  settled = false
  readonly #runtime: WorkerRuntime
  readonly #id: number
  readonly #ct: string | null

  constructor(runtime: WorkerRuntime, id: number, ct: string | null) {
    this.#runtime = runtime
    this.#id = id
    this.#ct = ct
  }

  ok(value: unknown): void {
    if (this.settled) return
    this.settled = true
    let bytes: Uint8Array
    try {
      bytes = encodeBody(
        this.#runtime.codecs,
        value,
        this.#ct ?? undefined,
        this.#runtime.maxMessageBytes,
      ).bytes
    } catch (err) {
      this.#runtime.push([F_ERROR, this.#id, MicaError.from(err).toWire()])
      return
    }
    this.#runtime.push([F_REPLY, this.#id, bytes, this.#ct])
  }

  fail(error: MicaError): void {
    if (this.settled) return
    this.settled = true
    this.#runtime.push([F_ERROR, this.#id, error.toWire()])
  }
}

/** An ask from an actor on this worker, known by its correlation id until it settles. */
class TrackedAsk extends PendingAsk {
  readonly #table: IdTable<PendingAsk>
  readonly #id: number

  constructor(target: string, signal: AbortSignal | undefined, table: IdTable<PendingAsk>, id: number) {
    super(target, signal)
    this.#table = table
    this.#id = id
  }

  protected override settling(): void {
    this.#table.delete(this.#id)
  }
}
