/**
 * What waits for a worker's answer on the main thread: an ask made here (decoded here, or kept
 * encoded), an ask from another node (its answer goes straight back, no promise), and an actor's
 * ask relayed between two workers (bytes pass through).
 */
import { ErrorCode, MicaError, TimeoutError } from '../errors.ts'
import type { CodecTable } from '../codec/table.ts'
import { DeadlineEntry } from './deadlines.ts'
import { F_ERROR, F_REPLY, type Frame } from './frames.ts'
import type { EncodedAnswer, EncodedReply } from './local.ts'
import { PendingAsk } from './pending.ts'

/** The runtime's side of the table of correlation ids. */
export interface AskTable {
  readonly codecs: CodecTable
  forget(id: number): void
  postTo(slot: number, frame: Frame): void
}

/** Something waiting for an answer from a worker. */
export interface Waiting {
  /** The worker that must answer. */
  readonly slot: number
  onReply(bytes: Uint8Array, ct: string | null): void
  onError(error: MicaError): void
  onControl(ok: boolean, payload: unknown): void
}

/** An ask made on the main thread, waiting for worker `slot`: decodes the reply here. */
export class MainAsk extends PendingAsk implements Waiting {
  readonly slot: number
  readonly #runtime: AskTable
  /** Resolve with the reply still encoded (an ask from another node: its reply goes back as bytes). */
  readonly #raw: boolean
  id = 0

  constructor(runtime: AskTable, slot: number, target: string, signal: AbortSignal | undefined, raw = false) {
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
export class Relay extends DeadlineEntry implements Waiting {
  settled = false
  readonly slot: number
  readonly origin: number
  /** The main thread's correlation id of the relayed ask. */
  id = 0
  readonly #id: number
  readonly #runtime: AskTable

  constructor(runtime: AskTable, slot: number, origin: number, id: number) {
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

/** An ask from another node served by worker `slot`: the outcome goes to `answer` as it is. */
export class ServedAsk extends DeadlineEntry implements Waiting {
  settled = false
  readonly slot: number
  id = 0
  readonly #runtime: AskTable
  readonly #target: string
  readonly #answer: EncodedAnswer

  constructor(runtime: AskTable, slot: number, target: string, answer: EncodedAnswer) {
    super()
    this.#runtime = runtime
    this.slot = slot
    this.#target = target
    this.#answer = answer
  }

  onReply(bytes: Uint8Array, ct: string | null): void {
    if (this.#settle()) this.#answer.reply({ bytes, ct })
  }

  onError(error: MicaError): void {
    if (this.#settle()) this.#answer.fail(error)
  }

  onControl(): void {}

  expire(): void {
    this.onError(new TimeoutError(ErrorCode.TIMEOUT, `ask to ${this.#target} timed out`))
  }

  abandon(error: MicaError): void {
    this.onError(error)
  }

  #settle(): boolean {
    if (this.settled) return false
    this.settled = true
    this.unlink()
    this.#runtime.forget(this.id)
    return true
  }
}
