/**
 * WorkersRuntime: this node's actors on the piscina pool, seen from the main thread. A keyed actor
 * lives on the worker its address hashes to; a stateless kind (`kind/`) has one instance per worker
 * and its messages go round-robin. The main thread encodes bodies, never decodes what it only routes:
 * an actor's own send or ask is relayed to the target worker with its body untouched. When a worker
 * dies, every ask waiting on it fails at once with WORKER_CRASHED (503; it may have run, so it is not
 * retryable) and the replacement worker is given the kinds again; its actors re-activate on their
 * next message.
 */
import { ErrorCode, MicaError, TooManyRequestsError, UnavailableError } from '../errors.ts'
import type { HandlerCount } from '../actors/kind.ts'
import type { ActorDefinition } from '../actors/types.ts'
import type { Address } from './address.ts'
import { checkSize, encodeBody, frameContentType } from './body.ts'
import {
  CATCH_UP_CONTROL_OP,
  F_PUBLISH,
  F_STREAM_CANCEL,
  F_STREAM_CREDIT,
  F_STREAM_DATA,
  F_STREAM_END,
  F_STREAM_OPEN,
  F_ASK,
  F_CTRL,
  F_CTRL_REPLY,
  F_DEAD,
  F_ERROR,
  F_REPLY,
  F_SEND,
  type ControlFrame,
  type Frame,
  type MessageFrame,
} from './frames.ts'
import type {
  EncodedAnswer,
  EncodedMessage,
  EncodedReply,
  KernelServices,
  LocalRuntime,
  LocalStats,
  Outgoing,
} from './local.ts'
import type { StreamEnd } from './stream.ts'
import type { EncodedStreamSink, StreamRequest } from './stream-open.ts'
import { WorkerPool } from './pool.ts'
import { MainAsk, Relay, ServedAsk, type AskTable, type Waiting } from './worker-asks.ts'
import { WorkerStreams } from './worker-streams.ts'
import { IdTable } from './id-table.ts'
import { WorkerDeadLetters } from './worker-dead-letters.ts'
import { JOURNAL_CONTROL_OP, runJournalCall } from './worker-journal.ts'

const CONTROL_TIMEOUT_MS = 60_000

export class WorkersRuntime implements LocalRuntime, AskTable {
  readonly #services: KernelServices
  readonly #pool: WorkerPool
  readonly #waiting = new IdTable<Waiting>()
  /** Open streams by id: where frames from the worker go. */
  readonly #streams: WorkerStreams
  readonly #kinds: { kind: string; module: string }[] = []
  readonly #dead: WorkerDeadLetters
  #nextId = 0
  #roundRobin = 0
  #booted = false
  #stopping = false

  constructor(services: KernelServices) {
    this.#services = services
    this.#streams = new WorkerStreams(services.codecs, services, (slot, f) => this.postTo(slot, f))
    this.#dead = new WorkerDeadLetters(services.deadLetters, services.codecs)
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
          passivation: o.passivation,
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
    if (!this.#pool.post(this.#slotOf(to), frame)) this.#dead.overloaded(to.key, out.handler, out.msg)
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
    if (!this.#pool.post(this.#slotOf(to), frame)) this.#dead.overloaded(to.key, msg.handler, undefined)
  }

  requestEncoded(to: Address, msg: EncodedMessage, deadline: number): Promise<EncodedReply> {
    const slot = this.#slotOf(to)
    const pending = new MainAsk(this, slot, to.key, undefined, true)
    this.#askEncoded(slot, to, msg, deadline, pending, (error) => pending.fail(error))
    return pending.promise as Promise<EncodedReply>
  }

  answerEncoded(to: Address, msg: EncodedMessage, deadline: number, answer: EncodedAnswer): void {
    const slot = this.#slotOf(to)
    const served = new ServedAsk(this, slot, to.key, answer)
    this.#askEncoded(slot, to, msg, deadline, served, (error) => served.onError(error))
  }

  /** An ask from another node to worker `slot`, its body passed on as it arrived. */
  #askEncoded(
    slot: number,
    to: Address,
    msg: EncodedMessage,
    deadline: number,
    waiting: MainAsk | ServedAsk,
    refused: (error: MicaError) => void,
  ): void {
    const id = this.#track(waiting, deadline)
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
      refused(new TooManyRequestsError(ErrorCode.MAILBOX_FULL, `worker ${slot} is overloaded`))
    }
  }

  openStream(to: Address, req: StreamRequest): StreamEnd {
    return this.#streams.open(this.#slotOf(to), ++this.#nextId, to.key, req)
  }

  openStreamEncoded(to: Address, req: StreamRequest, toCaller: EncodedStreamSink): EncodedStreamSink {
    return this.#streams.openEncoded(this.#slotOf(to), ++this.#nextId, to.key, req, toCaller)
  }

  /** A control frame to each worker: it travels in order with the messages posted after it. */
  async catchUp(): Promise<void> {
    await Promise.all(this.#slots().map((slot) => this.#control(slot, CATCH_UP_CONTROL_OP, null)))
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

  /**
   * Stops each worker's actors (they settle every ask they were given: replied, or failed as cut off
   * mid-turn, or refused), then ends the pool. An ask still waiting on a worker that confirmed its
   * stop never reached a handler there (it came after its host closed, or never arrived):
   * `kernel_stopped`. One waiting on a worker that did not answer in time (a handler holding its
   * thread) may be running there when the worker is terminated: `connection_lost`, not retried.
   */
  async stop(until: number): Promise<void> {
    this.#stopping = true
    const stopped = new Set<number>()
    try {
      const timeout = Math.max(1, until - this.#services.clock.now()) + 1_000
      await Promise.all(
        this.#slots().map((slot) =>
          this.#control(slot, 'stop', { until }, timeout).then(
            () => void stopped.add(slot),
            () => undefined,
          ),
        ),
      )
    } finally {
      const refused = new UnavailableError(ErrorCode.KERNEL_STOPPED, 'kernel stopped')
      for (const w of this.#waiting.values()) {
        w.onError(
          stopped.has(w.slot)
            ? refused
            : new UnavailableError(
                ErrorCode.CONNECTION_LOST,
                `kernel stopped before worker ${w.slot} answered; the ask may have run`,
              ),
        )
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
      handlers: {},
    }
    type WorkerStats = {
      live: number
      depths: { address: string; depth: number }[]
      handlers: Record<string, HandlerCount>
    }
    for (const s of all as WorkerStats[]) {
      stats.actors += s.live
      stats.mailboxes.push(...s.depths)
      for (const [name, c] of Object.entries(s.handlers)) {
        const sum = (stats.handlers[name] ??= { count: 0, errors: 0 })
        sum.count += c.count
        sum.errors += c.errors
      }
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

  #track(waiting: MainAsk | Relay | ServedAsk, deadline: number): number {
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
          this.#dead.fromFrame(f)
          break
        case F_PUBLISH:
          this.#services.publishEncoded(f[1], f[4], f[3], f[2] ?? undefined)
          break
        case F_STREAM_OPEN:
          this.#streams.fromWorker(slot, f)
          break
        case F_STREAM_DATA:
        case F_STREAM_END:
        case F_STREAM_CANCEL:
        case F_STREAM_CREDIT:
          this.#streams.frame(slot, f)
          break
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
      else this.#dead.unrouted(f[2], f[4], error, f[7], f[8])
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
    if (op === JOURNAL_CONTROL_OP) {
      // the journal validates its arguments (a worker's bad call is a 400, not a crash here)
      runJournalCall(this.#services.journal, payload).then(
        (result) => this.postTo(slot, [F_CTRL_REPLY, id, true, result ?? null]),
        (err: unknown) => this.postTo(slot, [F_CTRL_REPLY, id, false, MicaError.from(err).toWire()]),
      )
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

  #onCrash(slot: number): void {
    this.#services.logger.warn(`worker ${slot} died; failing its asks and starting a replacement`)
    const crashed = new UnavailableError(ErrorCode.WORKER_CRASHED, `worker ${slot} crashed`)
    this.#streams.crashed(slot, crashed)
    for (const [id, w] of this.#waiting.entries()) {
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
