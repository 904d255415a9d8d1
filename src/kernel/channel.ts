/**
 * PortChannel: one end of the main<->worker hop. Frames pushed in the same tick leave in one batch
 * (one `postMessage` at the end of the event-loop turn, its buffer transferred, not copied: flushing
 * on setImmediate rather than a microtask gathers every frame of the turn); a batch also flushes early at `maxBatch`
 * frames. Flow control: at most `window` frames may be unacknowledged by the other end; beyond that
 * frames wait in a bounded backlog, and `push` refuses (returns false) when the backlog is full.
 * Acknowledgements ride on the next batch going the other way; a batch carrying only an ack leaves
 * once a quarter of the window is owed. An ack-only batch after every received batch was most of
 * the main thread's postMessage calls and woke the worker for nothing (bench:remote, node B). No
 * deadlock: a sender stalled on a full window has `window` frames on their way, so the receiver
 * soon owes more than a quarter of it.
 */
import type { MessagePort } from 'node:worker_threads'
import { Packr } from 'msgpackr'
import { Ring } from '../mailbox/ring.ts'
import { MsgpackWriter } from '../codec/msgpack-writer.ts'
import type { Frame } from './frames.ts'

export interface ChannelLimits {
  window: number
  maxBacklog: number
  maxBatch: number
}

export const DEFAULT_CHANNEL_LIMITS: ChannelLimits = { window: 16_384, maxBacklog: 100_000, maxBatch: 4_096 }

export type FrameSink = (batch: unknown[]) => void

export class PortChannel {
  readonly #port: MessagePort
  readonly #limits: ChannelLimits
  /** Batches are packed by hand (../codec/msgpack-writer.ts), by msgpackr when it declines; msgpackr reads them. */
  readonly #writer = new MsgpackWriter()
  readonly #packr = new Packr({ useRecords: false, moreTypes: false, int64AsType: 'number' })
  readonly #backlog = new Ring<Frame>()
  /** `[ack, ...frames]`; slot 0 is filled in at flush. */
  #batch: unknown[] = [0]
  #inflight = 0
  #toAck = 0
  /** Owed acks that justify a batch of their own. */
  readonly #ackAlone: number
  #scheduled = false
  #closed = false

  constructor(port: MessagePort, limits: ChannelLimits, onBatch: FrameSink, onClose: () => void) {
    this.#port = port
    this.#limits = limits
    this.#ackAlone = Math.max(1, Math.floor(limits.window / 4))
    port.on('message', (data: ArrayBuffer) => {
      const batch = this.#packr.unpack(new Uint8Array(data)) as unknown[]
      this.#acked(batch[0] as number)
      if (batch.length > 1) {
        this.#toAck += batch.length - 1
        if (this.#toAck >= this.#ackAlone) this.#schedule()
        onBatch(batch)
      }
    })
    port.on('close', () => {
      this.#closed = true
      onClose()
    })
  }

  get closed(): boolean {
    return this.#closed
  }

  /** Frames sent and not yet acknowledged, plus those waiting for the window. */
  get queued(): number {
    return this.#inflight + this.#batch.length - 1 + this.#backlog.size
  }

  push(frame: Frame): boolean {
    if (this.#closed) return false
    if (this.#backlog.size === 0 && this.#inflight + this.#batch.length - 1 < this.#limits.window) {
      this.#batch.push(frame)
      if (this.#batch.length > this.#limits.maxBatch) this.flush()
      else this.#schedule()
      return true
    }
    if (this.#backlog.size >= this.#limits.maxBacklog) return false
    this.#backlog.push(frame)
    return true
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#port.close()
  }

  #schedule(): void {
    if (this.#scheduled) return
    this.#scheduled = true
    setImmediate(this.flush)
  }

  #acked(n: number): void {
    if (n === 0) return
    this.#inflight -= n
    while (this.#backlog.size > 0 && this.#inflight + this.#batch.length - 1 < this.#limits.window) {
      this.#batch.push(this.#backlog.shift())
    }
    if (this.#batch.length > 1) this.#schedule()
  }

  readonly flush = (): void => {
    this.#scheduled = false
    if (this.#closed) return
    const batch = this.#batch
    if (batch.length === 1 && this.#toAck < this.#ackAlone) return
    batch[0] = this.#toAck
    this.#toAck = 0
    this.#inflight += batch.length - 1
    this.#batch = [0]
    const owned = this.#writer.pack(batch) ?? this.#packed(batch)
    this.#port.postMessage(owned.buffer, [owned.buffer])
  }

  #packed(batch: unknown[]): Uint8Array<ArrayBuffer> {
    const packed = this.#packr.pack(batch)
    // msgpackr packs into a shared buffer: copy out exactly the bytes, then transfer that buffer
    const owned = new Uint8Array(packed.byteLength)
    owned.set(packed)
    return owned
  }
}
