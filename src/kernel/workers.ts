/**
 * WorkersRuntime: this node's actors on the piscina pool, seen from the main thread. A keyed actor
 * lives on the worker its address hashes to; a stateless kind (`kind/`) has one instance per worker
 * and its messages go round-robin. The main thread encodes bodies, never decodes what it only routes:
 * an actor's own send or ask is relayed to the target worker with its body untouched. When a worker
 * dies, every ask waiting on it fails at once with WORKER_CRASHED (503, retryable) and the
 * replacement worker is given the kinds again; its actors re-activate on their next message.
 */
import { ErrorCode, MicaError, TooManyRequestsError, UnavailableError } from '../errors.ts'
import type { ActorDefinition } from '../actors/types.ts'
import { deadLetterOf, type DeadLetterReason } from '../mailbox/dead-letters.ts'
import type { Address } from './address.ts'
import { checkSize, encodeBody, frameContentType } from './body.ts'
import { DeadlineEntry } from './deadlines.ts'
import {
  F_STREAM_CANCEL,
  F_STREAM_CREDIT,
  F_STREAM_DATA,
  F_STREAM_END,
  F_STREAM_OPEN,
  type StreamOpenFrame,
  F_ASK,
  F_CTRL,
  F_CTRL_REPLY,
  F_DEAD,
  F_ERROR,
  F_REPLY,
  F_SEND,
  type ControlFrame,
  type DeadFrame,
  type Frame,
  type MessageFrame,
} from './frames.ts'
import type {
  EncodedMessage,
  EncodedReply,
  KernelServices,
  LocalRuntime,
  LocalStats,
  Outgoing,
} from './local.ts'
import { PendingAsk } from './pending.ts'
import { StreamEnd } from './stream.ts'
import { dispatchStreamFrame, frameSink } from './stream-frames.ts'
import {
  decodingSink,
  encodingLink,
  NO_SINK,
  type EncodedStreamSink,
  type StreamRequest,
} from './stream-open.ts'
import { WorkerPool } from './pool.ts'

const CONTROL_TIMEOUT_MS = 60_000

/** Something waiting for an answer from a worker. */
interface Waiting {
  /** The worker that must answer. */
  readonly slot: number
  onReply(bytes: Uint8Array, ct: string | null): void
  onError(error: MicaError): void
  onControl(ok: boolean, payload: unknown): void
}

/** An ask made on the main thread, waiting for worker `slot`: decodes the reply here. */
class MainAsk extends PendingAsk implements Waiting {
  readonly slot: number
  readonly #runtime: WorkersRuntime
  /** Resolve with the reply still encoded (an ask from another node: its reply goes back as bytes). */
  readonly #raw: boolean
  id = 0

  constructor(
    runtime: WorkersRuntime,
    slot: number,
    target: string,
    signal: AbortSignal | undefined,
    raw = false,
  ) {
    super(target, signal)
    this.#runtime = runtime
    this.slot = slot
    this.#raw = raw
  }

  protected override settling(): void {
    this.#runtime.forget(this.id)
  }

  onReply(bytes: Uint8Array, ct: string | null): void {
    if (this.#raw) {
      this.ok({ bytes, ct } satisfies EncodedReply)
      return
    }
    let value: unknown
    try {
      value = this.#runtime.codecs.get(ct).decode(bytes)
    } catch (err) {
      this.fail(MicaError.from(err))
      return
    }
    this.ok(value)
  }

  onError(error: MicaError): void {
    this.fail(error)
  }

  onControl(ok: boolean, payload: unknown): void {
    if (ok) this.ok(payload)
    else this.fail(MicaError.fromWire(payload))
  }
}

/** An ask made by an actor on worker `origin`, relayed to worker `slot`: bytes pass through. */
class Relay extends DeadlineEntry implements Waiting {
  settled = false
  readonly slot: number
  readonly origin: number
  /** The main thread's correlation id of the relayed ask. */
  id = 0
  readonly #id: number
  readonly #runtime: WorkersRuntime

  constructor(runtime: WorkersRuntime, slot: number, origin: number, id: number) {
    super()
    this.#runtime = runtime
    this.slot = slot
    this.origin = origin
    this.#id = id
  }

  expire(): void {
    this.settled = true // the origin worker times its own ask out
    if (this.id !== 0) this.#runtime.forget(this.id)
  }

  abandon(): void {
    this.settled = true
  }

  onReply(bytes: Uint8Array, ct: string | null): void {
    this.settled = true
    this.unlink()
    this.#runtime.postTo(this.origin, [F_REPLY, this.#id, bytes, ct])
  }

  onError(error: MicaError): void {
    this.settled = true
    this.unlink()
    this.#runtime.postTo(this.origin, [F_ERROR, this.#id, error.toWire()])
  }

  onControl(): void {}
}

export class WorkersRuntime implements LocalRuntime {
  readonly #services: KernelServices
  readonly #pool: WorkerPool
  readonly #waiting = new Map<number, Waiting>()
  /** Open streams by id: where frames from the worker go. */
  readonly #streams = new Map<number | string, { slot: number; sink: EncodedStreamSink; ends?: number }>()
  readonly #kinds: { kind: string; module: string }[] = []
  #nextId = 0
  #roundRobin = 0
  #booted = false
  #stopping = false

  constructor(services: KernelServices) {
    this.#services = services
    const o = services.options
    this.#pool = new WorkerPool(
      {
        size: o.workers,
        limits: o.channel,
        resourceLimits: o.workerResourceLimits,
        boot: {
          nodeId: o.nodeId,
          limits: o.channel,
          askTimeoutMs: o.askTimeoutMs,
          maxMessageBytes: o.maxMessageBytes,
          defaultContentType: o.contentType,
        },
      },
      {
        onBatch: (slot, batch) => this.#onBatch(slot, batch),
        onCrash: (slot) => this.#onCrash(slot),
        onReady: (slot) => this.#onReady(slot),
        onError: (err) => services.logger.warn('worker pool error', err instanceof Error ? err.message : err),
      },
    )
  }

  get codecs() {
    return this.#services.codecs
  }

  async start(): Promise<void> {
    await this.#pool.ready()
    this.#booted = true
  }

  async addKind(definition: ActorDefinition): Promise<void> {
    const module = definition.module
    if (module === undefined) {
      throw new MicaError(
        400,
        ErrorCode.INVALID_OPTIONS,
        `${definition.kind}: no module URL for workers to import`,
      )
    }
    const entry = { kind: definition.kind, module }
    await Promise.all(this.#slots().map((slot) => this.#control(slot, 'kind', entry)))
    this.#kinds.push(entry)
  }

  async activate(to: Address): Promise<void> {
    const slots = to.id === '' ? this.#slots() : [this.#slotOf(to)]
    await Promise.all(slots.map((slot) => this.#control(slot, 'activate', { kind: to.kind, id: to.id })))
  }

  post(to: Address, out: Outgoing): void {
    const { ct, bytes } = encodeBody(
      this.codecs,
      out.msg,
      out.contentType,
      this.#services.options.maxMessageBytes,
    )
    const frame: MessageFrame = [
      F_SEND,
      0,
      to.key,
      '',
      out.handler,
      0,
      out.md ?? null,
      frameContentType(this.codecs, ct),
      bytes,
    ]
    if (!this.#pool.post(this.#slotOf(to), frame)) this.#overloaded(to.key, out.handler, out.msg)
  }

  request(to: Address, out: Outgoing, dl: number, signal: AbortSignal | undefined): Promise<unknown> {
    const slot = this.#slotOf(to)
    const pending = new MainAsk(this, slot, to.key, signal)
    let bytes: Uint8Array
    const codec = this.codecs.get(out.contentType)
    try {
      bytes = codec.encode(out.msg)
      checkSize(bytes, this.#services.options.maxMessageBytes)
    } catch (err) {
      pending.fail(MicaError.from(err))
      return pending.promise
    }
    const deadline = dl < 0 ? this.#services.clock.now() - dl : dl
    const id = this.#track(pending, deadline)
    const ct = frameContentType(this.codecs, codec.contentType)
    const frame: MessageFrame = [F_ASK, id, to.key, '', out.handler, deadline, out.md ?? null, ct, bytes]
    if (!this.#pool.post(slot, frame)) {
      pending.fail(new TooManyRequestsError(ErrorCode.MAILBOX_FULL, `worker ${slot} is overloaded`))
    }
    return pending.promise
  }

  postEncoded(to: Address, msg: EncodedMessage): void {
    const frame: MessageFrame = [F_SEND, 0, to.key, '', msg.handler, 0, msg.md ?? null, msg.ct, msg.bytes]
    if (!this.#pool.post(this.#slotOf(to), frame)) this.#overloaded(to.key, msg.handler, undefined)
  }

  requestEncoded(to: Address, msg: EncodedMessage, deadline: number): Promise<EncodedReply> {
    const slot = this.#slotOf(to)
    const pending = new MainAsk(this, slot, to.key, undefined, true)
    const id = this.#track(pending, deadline)
    const frame: MessageFrame = [
      F_ASK,
      id,
      to.key,
      '',
      msg.handler,
      deadline,
      msg.md ?? null,
      msg.ct,
      msg.bytes,
    ]
    if (!this.#pool.post(slot, frame)) {
      pending.fail(new TooManyRequestsError(ErrorCode.MAILBOX_FULL, `worker ${slot} is overloaded`))
    }
    return pending.promise as Promise<EncodedReply>
  }

  openStream(to: Address, req: StreamRequest): StreamEnd {
    const codec = this.codecs.get(req.ct)
    const slot = this.#slotOf(to)
    const sid = ++this.#nextId
    const caller = new StreamEnd(
      encodingLink(
        codec,
        frameSink((f) => this.postTo(slot, f), sid),
      ),
      req.window,
    )
    this.#streams.set(sid, { slot, sink: decodingSink(codec, () => caller) })
    caller.onClose = () => this.#streams.delete(sid)
    this.postTo(slot, [F_STREAM_OPEN, sid, to.key, req.handler, req.dl, req.md ?? null, req.ct, req.window])
    return caller
  }

  openStreamEncoded(to: Address, req: StreamRequest, toCaller: EncodedStreamSink): EncodedStreamSink {
    const slot = this.#slotOf(to)
    const sid = ++this.#nextId
    const route = { slot, sink: toCaller, ends: 0 }
    this.#streams.set(sid, route)
    this.postTo(slot, [F_STREAM_OPEN, sid, to.key, req.handler, req.dl, req.md ?? null, req.ct, req.window])
    const toWorker = frameSink((f) => this.postTo(slot, f), sid)
    // a bridge forgets its route once both sides ended or either cancelled
    const ended = (): void => {
      if (++route.ends === 2) this.#streams.delete(sid)
    }
    route.sink = {
      ...toCaller,
      end: () => (toCaller.end(), ended()),
      cancel: (e) => (this.#streams.delete(sid), toCaller.cancel(e)),
    }
    return {
      ...toWorker,
      end: () => (toWorker.end(), ended()),
      cancel: (e) => (this.#streams.delete(sid), toWorker.cancel(e)),
    }
  }

  /** An actor on worker `slot` opened a stream: bridge its frames to wherever the target lives. */
  #streamFromWorker(slot: number, f: StreamOpenFrame): void {
    const [, sid, to, h, dl, md, ct, window] = f
    const key = `${slot}:${sid}`
    const route = { slot, sink: NO_SINK, ends: 0 }
    const forget = (): void => void this.#streams.delete(key)
    const toWorker = frameSink((x) => this.postTo(slot, x), sid)
    const toCaller: EncodedStreamSink = {
      ...toWorker,
      end: () => (toWorker.end(), ++route.ends === 2 && forget()),
      cancel: (e) => (forget(), toWorker.cancel(e)),
    }
    this.#streams.set(key, route)
    const toServer = this.#services.streamEncoded(
      to,
      { handler: h, md: md ?? undefined, ct, dl, window },
      toCaller,
    )
    route.sink = {
      ...toServer,
      end: () => (toServer.end(), ++route.ends === 2 && forget()),
      cancel: (e) => (forget(), toServer.cancel(e)),
    }
  }

  async drain(until: number): Promise<void> {
    // repeat until a round in which no worker had anything running (work moves between workers)
    for (let round = 0; round < 100 && this.#services.clock.now() < until; round++) {
      const timeout = Math.max(1, until - this.#services.clock.now())
      const results = await Promise.all(
        this.#slots().map((slot) =>
          this.#control(slot, 'drain', null, timeout).catch(() => ({ busy: false })),
        ),
      )
      if (results.every((r) => !(r as { busy: boolean }).busy)) return
    }
  }

  async stop(until: number): Promise<void> {
    this.#stopping = true
    try {
      const timeout = Math.max(1, until - this.#services.clock.now()) + 1_000
      await Promise.all(
        this.#slots().map((slot) => this.#control(slot, 'stop', { until }, timeout).catch(() => undefined)),
      )
    } finally {
      for (const w of this.#waiting.values()) {
        w.onError(new UnavailableError(ErrorCode.KERNEL_STOPPED, 'kernel stopped'))
      }
      this.#waiting.clear()
      await this.#pool.destroy()
    }
  }

  async stats(): Promise<LocalStats> {
    const all = await Promise.all(this.#slots().map((slot) => this.#control(slot, 'stats', null)))
    const stats: LocalStats = {
      actors: 0,
      streams: this.#streams.size,
      pendingAsks: this.#waiting.size,
      mailboxes: [],
    }
    for (const s of all as { live: number; depths: { address: string; depth: number }[] }[]) {
      stats.actors += s.live
      stats.mailboxes.push(...s.depths)
    }
    stats.mailboxes.sort((a, b) => b.depth - a.depth)
    return stats
  }

  postTo(slot: number, frame: Frame): void {
    if (!this.#pool.post(slot, frame))
      this.#services.logger.warn(`worker ${slot} backlog full, frame dropped`)
  }

  #slots(): number[] {
    return Array.from({ length: this.#pool.size }, (_, i) => i)
  }

  #slotOf(to: Address): number {
    if (to.id === '') {
      this.#roundRobin = (this.#roundRobin + 1) % this.#pool.size
      return this.#roundRobin
    }
    return to.hash % this.#pool.size
  }

  #track(waiting: MainAsk | Relay, deadline: number): number {
    const id = ++this.#nextId
    waiting.id = id
    this.#waiting.set(id, waiting)
    this.#services.wheel.add(waiting, deadline)
    return id
  }

  /** Forgets a correlation id (its ask settled, or a relay's deadline passed). */
  forget(id: number): void {
    this.#waiting.delete(id)
  }

  #control(slot: number, op: string, payload: unknown, timeoutMs = CONTROL_TIMEOUT_MS): Promise<unknown> {
    const pending = new MainAsk(this, slot, `worker ${slot} (${op})`, undefined)
    const id = this.#track(pending, this.#services.clock.now() + timeoutMs)
    if (!this.#pool.post(slot, [F_CTRL, id, op, payload])) {
      pending.fail(new TooManyRequestsError(ErrorCode.MAILBOX_FULL, `worker ${slot} is overloaded`))
    }
    return pending.promise
  }

  // ---- frames from workers

  #onBatch(slot: number, batch: unknown[]): void {
    for (let i = 1; i < batch.length; i++) {
      const f = batch[i] as Frame
      switch (f[0]) {
        case F_REPLY: {
          const w = this.#waiting.get(f[1])
          if (w !== undefined) {
            this.#waiting.delete(f[1])
            w.onReply(f[2], f[3])
          }
          break
        }
        case F_ERROR: {
          const w = this.#waiting.get(f[1])
          if (w !== undefined) {
            this.#waiting.delete(f[1])
            w.onError(MicaError.fromWire(f[2]))
          }
          break
        }
        case F_CTRL_REPLY: {
          const w = this.#waiting.get(f[1])
          if (w !== undefined) {
            this.#waiting.delete(f[1])
            w.onControl(f[2], f[3])
          }
          break
        }
        case F_SEND:
        case F_ASK:
          this.#relay(slot, f)
          break
        case F_DEAD:
          this.#deadLetter(f)
          break
        case F_STREAM_OPEN:
          this.#streamFromWorker(slot, f)
          break
        case F_STREAM_DATA:
        case F_STREAM_END:
        case F_STREAM_CANCEL:
        case F_STREAM_CREDIT: {
          // negative ids: streams an actor on this worker opened (keyed by worker, ids are per worker)
          const key = f[1] < 0 ? `${slot}:${f[1]}` : f[1]
          const route = this.#streams.get(key)
          if (route !== undefined && dispatchStreamFrame(f, route.sink)) this.#streams.delete(key)
          break
        }
        case F_CTRL:
          this.#controlFromWorker(slot, f)
          break
      }
    }
  }

  /** An actor's own send or ask: validated here, forwarded to the target's worker as it is. */
  #relay(origin: number, f: MessageFrame): void {
    let to: Address
    try {
      to = this.#services.resolveTarget(f[2], f[4])
    } catch (err) {
      const error = MicaError.from(err)
      if (f[0] === F_ASK) this.postTo(origin, [F_ERROR, f[1], error.toWire()])
      else this.#publishDead(f[2], f[4], reasonOf(error), false, error, f[7], f[8])
      return
    }
    const slot = this.#slotOf(to)
    f[2] = to.key
    if (f[0] === F_ASK) f[1] = this.#track(new Relay(this, slot, origin, f[1]), f[5])
    if (!this.#pool.post(slot, f) && f[0] === F_ASK) {
      const relay = this.#waiting.get(f[1])
      this.#waiting.delete(f[1])
      relay?.onError(new TooManyRequestsError(ErrorCode.MAILBOX_FULL, `worker ${slot} is overloaded`))
    }
  }

  #controlFromWorker(slot: number, f: ControlFrame): void {
    const [, id, op, payload] = f
    if (op === 'log') {
      const p = payload as { message: string; error: string | null }
      this.#services.logger.warn(`[worker ${slot}] ${p.message}`, p.error ?? undefined)
      return
    }
    if (op === 'spawn') {
      const p = payload as { module: string; kind: string | null; id: string }
      const spec = p.kind === null ? p.module : `${p.module}#${encodeURIComponent(p.kind)}`
      this.#services.spawn(spec, p.id).then(
        (ref) => this.postTo(slot, [F_CTRL_REPLY, id, true, ref.address]),
        (err: unknown) => this.postTo(slot, [F_CTRL_REPLY, id, false, MicaError.from(err).toWire()]),
      )
    }
  }

  #deadLetter(f: DeadFrame): void {
    const [, to, h, reason, ask, e, ct, b] = f
    this.#publishDead(
      to,
      h,
      reason as DeadLetterReason,
      ask,
      e === null ? undefined : MicaError.fromWire(e),
      ct,
      b,
    )
  }

  #publishDead(
    to: string,
    handler: string,
    reason: DeadLetterReason,
    ask: boolean,
    error: MicaError | undefined,
    ct: string | null,
    bytes: Uint8Array | null,
  ): void {
    const letters = this.#services.deadLetters
    let message: unknown
    if (letters.observed && bytes !== null) {
      try {
        message = this.codecs.get(ct ?? undefined).decode(bytes)
      } catch {
        message = undefined
      }
    }
    letters.publish(deadLetterOf(to, handler, reason, ask, message, error?.toWire()))
  }

  #overloaded(to: string, handler: string, msg: unknown): void {
    const error = new TooManyRequestsError(ErrorCode.MAILBOX_FULL, 'worker backlog full')
    this.#services.deadLetters.publish(
      deadLetterOf(to, handler, 'worker-overloaded', false, msg, error.toWire()),
    )
  }

  #onCrash(slot: number): void {
    this.#services.logger.warn(`worker ${slot} died; failing its asks and starting a replacement`)
    const crashed = new UnavailableError(ErrorCode.WORKER_CRASHED, `worker ${slot} crashed`)
    for (const [sid, route] of this.#streams) {
      if (route.slot !== slot) continue
      this.#streams.delete(sid)
      route.sink.cancel(crashed.toWire())
    }
    for (const [id, w] of this.#waiting) {
      if (w.slot === slot) {
        this.#waiting.delete(id)
        w.onError(crashed)
      } else if (w instanceof Relay && w.origin === slot) {
        this.#waiting.delete(id)
        w.settled = true
      }
    }
  }

  #onReady(slot: number): void {
    if (!this.#booted) return
    for (const entry of this.#kinds) {
      this.#control(slot, 'kind', entry).catch((err: unknown) => {
        if (!this.#stopping) this.#services.logger.warn(`worker ${slot}: cannot load kind ${entry.kind}`, err)
      })
    }
  }
}

function reasonOf(error: MicaError): DeadLetterReason {
  if (error.code === ErrorCode.HANDLER_NOT_FOUND) return 'handler-not-found'
  if (error.code === ErrorCode.KERNEL_STOPPED) return 'kernel-stopped'
  return 'kind-not-found'
}
