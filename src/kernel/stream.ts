/**
 * Streams: one side (`StreamEnd`) of a bidirectional stream between a caller and a handler. Each
 * side may have at most `window` messages in flight to the other (credit-based flow control): `send`
 * waits for credit, and a side grants credit back as its reader consumes, so a slow reader slows
 * the writer instead of growing a queue. The two sides talk through a `StreamLink`, which is a
 * direct call in inline mode and frames or envelopes across a thread or a socket; a link encodes
 * at its boundary, so a StreamEnd only ever holds values.
 */
import { AbortedError, ErrorCode, MicaError, BadRequestError } from '../errors.ts'

/** What one side sends to the other. */
export interface StreamLink {
  data(value: unknown): void
  end(): void
  cancel(error: MicaError): void
  credit(n: number): void
}

export const DEFAULT_STREAM_WINDOW = 64

/** A stream as its user sees it: read with `for await`, write with `send`, finish with `end`. */
export interface Stream<In, Out> extends AsyncIterable<In> {
  /** Sends one message; waits while the other side has no room (its window is full). */
  send(msg: Out): Promise<void>
  /** This side sends no more; the other side's iteration ends once it has read everything. */
  end(): void
  /** Aborts both directions; the other side sees the error. */
  cancel(reason?: string): void
  /** Settles when the stream is over: resolves when both sides ended, rejects with a cancel's error. */
  readonly done: Promise<void>
}

interface Waiter<T> {
  resolve(value: T): void
  reject(error: MicaError): void
}

export class StreamEnd<In = unknown, Out = unknown> implements Stream<In, Out> {
  readonly done: Promise<void>
  readonly #link: StreamLink
  readonly #window: number
  readonly #queue: In[] = []
  readonly #readers: Waiter<IteratorResult<In>>[] = []
  readonly #writers: Waiter<void>[] = []
  #credit: number
  #consumed = 0
  #localEnded = false
  #remoteEnded = false
  #error: MicaError | undefined
  #settle!: { resolve: () => void; reject: (e: MicaError) => void }
  /** Called once when the stream is over (to forget its id). */
  onClose: (() => void) | undefined

  constructor(link: StreamLink, window = DEFAULT_STREAM_WINDOW) {
    this.#link = link
    this.#window = window
    this.#credit = window
    this.done = new Promise<void>((resolve, reject) => (this.#settle = { resolve, reject }))
    this.done.catch(() => undefined) // observed by whoever awaits it; never an unhandled rejection
  }

  get ended(): boolean {
    return this.#localEnded
  }

  // ---- from the other side

  onData(value: In): void {
    if (this.#error !== undefined || this.#remoteEnded) return
    if (this.#queue.length + 1 > this.#window && this.#readers.length === 0) {
      this.#fail(new BadRequestError(ErrorCode.BAD_REQUEST, 'stream peer sent beyond its credit'), true)
      return
    }
    const reader = this.#readers.shift()
    if (reader !== undefined) {
      this.#consume()
      reader.resolve({ value, done: false })
    } else this.#queue.push(value)
  }

  onEnd(): void {
    if (this.#remoteEnded || this.#error !== undefined) return
    this.#remoteEnded = true
    if (this.#queue.length === 0)
      for (const r of this.#readers.splice(0)) r.resolve({ value: undefined, done: true })
    this.#maybeDone()
  }

  onCancel(error: MicaError): void {
    this.#fail(error, false)
  }

  onCredit(n: number): void {
    this.#credit += n
    while (this.#credit > 0 && this.#writers.length > 0) {
      this.#credit--
      this.#writers.shift()!.resolve()
    }
  }

  // ---- this side's user

  async send(msg: Out): Promise<void> {
    if (this.#error !== undefined) throw this.#error
    if (this.#localEnded) throw new BadRequestError(ErrorCode.BAD_REQUEST, 'send after end')
    if (this.#credit > 0) this.#credit--
    else await new Promise<void>((resolve, reject) => this.#writers.push({ resolve, reject }))
    this.#link.data(msg)
  }

  end(): void {
    if (this.#localEnded || this.#error !== undefined) return
    this.#localEnded = true
    this.#link.end()
    this.#maybeDone()
  }

  cancel(reason = 'cancelled'): void {
    this.#fail(new AbortedError(ErrorCode.ABORTED, reason), true)
  }

  /** Cancels with a given error (a handler that failed, a connection lost). */
  abort(error: MicaError, tellPeer = true): void {
    this.#fail(error, tellPeer)
  }

  [Symbol.asyncIterator](): AsyncIterator<In> {
    return {
      next: () => {
        if (this.#queue.length > 0) {
          this.#consume()
          return Promise.resolve({ value: this.#queue.shift()!, done: false })
        }
        if (this.#error !== undefined) return Promise.reject(this.#error)
        if (this.#remoteEnded) return Promise.resolve({ value: undefined, done: true })
        return new Promise((resolve, reject) => this.#readers.push({ resolve, reject }))
      },
      return: () => Promise.resolve({ value: undefined, done: true }),
    }
  }

  /** Grants credit back once half the window was read, in one message. */
  #consume(): void {
    this.#consumed++
    if (this.#consumed * 2 >= this.#window && !this.#remoteEnded) {
      this.#link.credit(this.#consumed)
      this.#consumed = 0
    }
  }

  #maybeDone(): void {
    if (this.#localEnded && this.#remoteEnded && this.#error === undefined) {
      this.#settle.resolve()
      this.onClose?.()
    }
  }

  #fail(error: MicaError, tellPeer: boolean): void {
    if (this.#error !== undefined || (this.#localEnded && this.#remoteEnded)) return
    this.#error = error
    if (tellPeer) this.#link.cancel(error)
    for (const r of this.#readers.splice(0)) r.reject(error)
    for (const w of this.#writers.splice(0)) w.reject(error)
    this.#settle.reject(error)
    this.onClose?.()
  }
}

/** Links two ends in one thread; `copy` isolates values like a hop would (encode mode), or not. */
export function linkedPair<A, B>(
  window: number,
  copy: (v: unknown) => unknown,
): [StreamEnd<A, B>, StreamEnd<B, A>] {
  // each link reaches the other end through this holder: the ends exist only once both links do
  const ends: { left?: StreamEnd<A, B>; right?: StreamEnd<B, A> } = {}
  const to = (end: () => StreamEnd<never, never>): StreamLink => ({
    data: (v) => end().onData(copy(v) as never),
    end: () => end().onEnd(),
    cancel: (e) => end().onCancel(e),
    credit: (n) => end().onCredit(n),
  })
  const left = new StreamEnd<A, B>(
    to(() => ends.right as StreamEnd<never, never>),
    window,
  )
  const right = new StreamEnd<B, A>(
    to(() => ends.left as StreamEnd<never, never>),
    window,
  )
  ends.left = left
  ends.right = right
  return [left, right]
}

/** A stream that failed before it opened (unknown kind, kernel stopped): every use reports `error`. */
export function failedStream<In, Out>(error: MicaError): StreamEnd<In, Out> {
  const end = new StreamEnd<In, Out>({ data() {}, end() {}, cancel() {}, credit() {} })
  end.abort(error, false)
  return end
}
