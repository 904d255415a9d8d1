/**
 * Baseline: a length-prefixed TCP echo written with node:net alone (bench/raw-echo-server.mjs in a
 * child process). The client pipelines: each call queues one frame (the frames of one tick leave in
 * one write, built at setImmediate like mica's outbox) and resolves when its echo is back; replies
 * come back in order, so the oldest waiting call is the one answered. No encoding per call: the
 * frame is a msgpack map shaped like a mica ask envelope, packed once — this is the floor.
 */
import net from 'node:net'
import { once } from 'node:events'
import { Packr } from 'msgpackr'
import type { CallSystem } from './calls.ts'
import { startChild, stopChild } from './child.ts'
import { checkThenClose, closeOnError } from './counter-calls.ts'
import { verify } from './measure.ts'

const SERVER_FILE = new URL('../raw-echo-server.mjs', import.meta.url)
const HEADER = 4

/** A msgpack map like the ask envelope node A sends for `ref.ask('add', { by: 1 })`. */
export function askLikeFrame(): Uint8Array {
  const packr = new Packr({ useRecords: false })
  return packr.pack({
    v: 1,
    t: 'ask',
    id: 123_456,
    to: 'bcounter/k0',
    from: 'node-0123456789ab',
    h: 'add',
    dl: Date.now() + 5_000,
    b: packr.pack({ by: 1 }),
  })
}

class EchoClient {
  readonly #socket: net.Socket
  readonly #frame: Uint8Array
  #waiting: (() => void)[] = []
  #head = 0
  #queued = 0
  #immediate: NodeJS.Immediate | null = null
  #rest: Buffer | null = null
  #last: Buffer | null = null
  sent = 0
  received = 0

  constructor(socket: net.Socket, frame: Uint8Array) {
    this.#socket = socket
    this.#frame = frame
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => this.#onData(chunk))
  }

  /** The last echo received (a view), to compare with what was sent. */
  get lastReply(): Buffer | null {
    return this.#last
  }

  readonly call = (): Promise<void> =>
    new Promise<void>((resolve) => {
      this.#waiting.push(resolve)
      this.#queued++
      this.#immediate ??= setImmediate(this.#flush)
    })

  close(): void {
    if (this.#immediate !== null) clearImmediate(this.#immediate)
    this.#socket.destroy()
  }

  readonly #flush = (): void => {
    this.#immediate = null
    const n = this.#queued
    const size = HEADER + this.#frame.length
    const out = Buffer.allocUnsafe(n * size)
    for (let i = 0, at = 0; i < n; i++, at += size) {
      out.writeUInt32BE(this.#frame.length, at)
      out.set(this.#frame, at + HEADER)
    }
    this.#queued = 0
    this.sent += n
    this.#socket.write(out)
  }

  #onData(chunk: Buffer): void {
    const buf = this.#rest === null ? chunk : Buffer.concat([this.#rest, chunk])
    let at = 0
    while (buf.length - at >= HEADER) {
      const length = buf.readUInt32BE(at)
      if (buf.length - at - HEADER < length) break
      if (length !== this.#frame.length)
        throw new Error(`echo of ${length} bytes, sent ${this.#frame.length}`)
      at += HEADER + length
      this.#last = buf.subarray(at - length, at)
      this.received++
      this.#waiting[this.#head++]!()
    }
    this.#rest = at === buf.length ? null : buf.subarray(at)
    if (this.#head === this.#waiting.length) {
      this.#waiting = []
      this.#head = 0
    } else if (this.#head >= 4_096) {
      this.#waiting = this.#waiting.slice(this.#head)
      this.#head = 0
    }
  }
}

export async function startRawTcpEcho(frame: Uint8Array): Promise<CallSystem> {
  const server = await startChild<{ port: number }>(SERVER_FILE, {}, 10_000)
  let client: EchoClient | undefined
  const close = async (): Promise<void> => {
    client?.close()
    await stopChild(server.proc, 5_000)
  }
  return closeOnError(close, async () => {
    const socket = net.connect({ host: '127.0.0.1', port: server.ready.port })
    await once(socket, 'connect')
    const c = (client = new EchoClient(socket, frame))
    const check = async (calls: number): Promise<void> => {
      const reply = c.lastReply
      verify(reply !== null && Buffer.from(frame).equals(reply), 'raw echo returned other bytes')
      verify(c.sent === calls && c.received === c.sent, `raw client: ${c.received} of ${c.sent} echoed`)
      c.close()
      const stopped = await stopChild<{ echoed: number }>(server.proc, 5_000)
      verify(stopped?.echoed === c.sent, `raw server echoed ${stopped?.echoed} of ${c.sent} frames`)
    }
    return { name: 'raw TCP echo', one: c.call, many: c.call, stop: checkThenClose(check, close) }
  })
}
