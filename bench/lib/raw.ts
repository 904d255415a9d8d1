/**
 * Raw baselines over node:worker_threads, no mica: the same msgpack bodies posted in batches to two
 * workers, and a small-message ping-pong over a MessagePort. Both use `bench/raw-worker.mjs`.
 */
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads'
import { once } from 'node:events'
import { Packr } from 'msgpackr'
import { concurrent, now, throughput, verify, type Latency, type Limits, type Throughput } from './measure.ts'

const WORKER_FILE = new URL('../raw-worker.mjs', import.meta.url)

interface RawWorker {
  readonly worker: Worker
  readonly port: MessagePort
}

async function startWorker(mode: 'count' | 'echo'): Promise<RawWorker> {
  const { port1, port2 } = new MessageChannel()
  const worker = new Worker(WORKER_FILE, { workerData: { port: port2, mode }, transferList: [port2] })
  await once(worker, 'online')
  return { worker, port: port1 }
}

async function stopWorker(w: RawWorker): Promise<void> {
  w.port.close()
  await w.worker.terminate()
}

/** Copies msgpackr's bytes (packed into its shared buffer) out, then transfers them. */
function postBytes(port: MessagePort, bytes: Uint8Array): void {
  const owned = new Uint8Array(bytes)
  port.postMessage(owned.buffer, [owned.buffer])
}

/**
 * Batched postMessage: rounds of `keys.length * perKey` messages round-robin over the keys (a key's
 * worker is its index modulo the worker count), one batch per worker per round, at most two rounds
 * unconfirmed (the same flow control as the kernel bench). A run ends when the workers confirm every
 * message. The warm-up runs on the same workers as the measured run.
 */
export async function rawBatchedPostMessage(
  workers: number,
  keys: readonly string[],
  perKey: number,
  warm: Limits,
  l: Limits,
): Promise<Throughput> {
  const pool = await Promise.all(Array.from({ length: workers }, () => startWorker('count')))
  try {
    const packr = new Packr({ useRecords: false })
    const confirmed = new Array<number>(workers).fill(0)
    const sent = new Array<number>(workers).fill(0)
    let wake: (() => void) | undefined
    pool.forEach((w, i) =>
      w.port.on('message', (total: number) => {
        confirmed[i] = total
        wake?.()
      }),
    )
    const caughtUp = async (targets: readonly number[]): Promise<void> => {
      while (confirmed.some((c, i) => c < targets[i]!)) await new Promise<void>((r) => (wake = r))
    }
    const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0)
    const perRound = keys.length * perKey
    const msg = { by: 1 }
    const run = async (l: Limits): Promise<Throughput> => {
      const marks: number[][] = []
      const before = sum(confirmed)
      const start = now()
      let total = 0
      while (total === 0 || (total + perRound <= l.ops && now() - start < l.maxMs)) {
        const batches: [string, Uint8Array][][] = pool.map(() => [])
        for (let i = 0; i < perRound; i++) {
          const k = i % keys.length
          batches[k % workers]!.push([keys[k]!, packr.pack(msg)])
        }
        batches.forEach((batch, w) => {
          postBytes(pool[w]!.port, packr.pack(batch))
          sent[w]! += batch.length
        })
        total += perRound
        marks.push([...sent])
        if (marks.length >= 2) await caughtUp(marks.shift()!)
      }
      await caughtUp(sent)
      const ms = now() - start
      const counted = sum(confirmed) - before
      verify(counted === total, `raw workers counted ${counted} of ${total}`)
      return throughput(total, ms)
    }
    await run(warm)
    return await run(l)
  } finally {
    await Promise.all(pool.map(stopWorker))
  }
}

/** Round trips of a small message (msgpack bytes, transferred) between main and a worker, 1 in flight. */
export async function rawPortPingPong(bytes: Uint8Array, warm: Limits, l: Limits): Promise<Latency> {
  const w = await startWorker('echo')
  try {
    let reply: ((data: ArrayBuffer) => void) | undefined
    w.port.on('message', (data: ArrayBuffer) => reply?.(data))
    const ping = (): Promise<ArrayBuffer> =>
      new Promise<ArrayBuffer>((resolve) => {
        reply = resolve
        postBytes(w.port, bytes)
      })
    await concurrent(ping, 1, warm)
    const result = await concurrent(ping, 1, l)
    const back = new Uint8Array(await ping())
    verify(
      back.length === bytes.length && back.every((b, i) => b === bytes[i]),
      'ping-pong echoed other bytes',
    )
    return result
  } finally {
    await stopWorker(w)
  }
}
