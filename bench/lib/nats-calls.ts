/**
 * The three systems of bench/nats.ts, each asking a child process across one nats-server, measured
 * side by side (bench/lib/calls.ts):
 * - mica: node A here (`workers: 0`, hosting nothing) asks node B (bench/nats-node.ts, actors on
 *   worker threads) over the NATS transport; B's registry records reach A over IPC; the counter
 *   calls of counter-calls.ts.
 * - raw: `@nats-io/transport-node` `request()` (`noAsyncTraces: true`) to a plain responder
 *   (bench/nats-responder.ts) echoing an ask-sized payload.
 * - Moleculer 0.14 `broker.call` over its NATS transporter (bench/moleculer-nats-node.ts).
 */
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { ServiceBroker } from 'moleculer'
import { createKernel, MemoryRegistry, NatsTransport, type Kernel, type Service } from '../../src/index.ts'
import type { CallSystem } from './calls.ts'
import { startChild, stopChild, type Child } from './child.ts'
import {
  checkThenClose,
  closeOnError,
  counterSystem,
  micaCounters,
  moleculerCounters,
} from './counter-calls.ts'
import { verify } from './measure.ts'

const file = (name: string): URL => new URL(`../${name}`, import.meta.url)

export interface MicaNats extends CallSystem {
  readonly workers: number
  /** Dead letters on node A so far. */
  deadLetters(): number
}

export async function startMicaNats(url: string): Promise<MicaNats> {
  const env = { MICA_BENCH_NATS_URL: url }
  const b = await startChild<{ workers: number; records: Service[] }>(file('nats-node.ts'), env, 30_000)
  const registry = new MemoryRegistry()
  let a: Kernel | undefined
  let deadLetters = 0
  const close = async (): Promise<void> => {
    await a?.stop()
    await registry.stop()
    await stopChild(b.proc, 15_000)
  }
  return closeOnError(close, async () => {
    await registry.start()
    for (const record of b.ready.records) await registry.register(record)
    const kernel = (a = await createKernel({
      workers: 0,
      registry,
      transport: new NatsTransport({ servers: url }),
      listen: 'nats:0',
    }))
    kernel.onDeadLetter(() => deadLetters++)
    const calls = await micaCounters(kernel)
    return {
      ...counterSystem('mica', calls, close),
      workers: b.ready.workers,
      deadLetters: () => deadLetters,
    }
  })
}

export async function startRawNatsRequest(url: string, payload: Uint8Array): Promise<CallSystem> {
  const env = { MICA_BENCH_NATS_URL: url }
  const child: Child<{ subject: string }> = await startChild(file('nats-responder.ts'), env, 30_000)
  let nc: NatsConnection | undefined
  const close = async (): Promise<void> => {
    await nc?.close()
    await stopChild(child.proc, 10_000)
  }
  return closeOnError(close, async () => {
    const conn = (nc = await connect({ servers: url, noAsyncTraces: true }))
    const call = (): Promise<unknown> => conn.request(child.ready.subject, payload, { timeout: 10_000 })
    const check = async (calls: number): Promise<void> => {
      const stopped = await stopChild<{ answered: number }>(child.proc, 10_000)
      verify(stopped?.answered === calls, `the responder answered ${stopped?.answered} of ${calls}`)
    }
    return { name: 'raw request()', one: call, many: call, stop: checkThenClose(check, close) }
  })
}

export async function startMoleculerNats(url: string): Promise<CallSystem> {
  const broker = new ServiceBroker({
    nodeID: 'bench-moleculer-nats-a',
    logger: false,
    metrics: false,
    tracing: false,
    transporter: url,
  })
  let child: Child<{ nodeID: string }> | undefined
  const close = async (): Promise<void> => {
    await broker.stop()
    if (child !== undefined) await stopChild(child.proc, 10_000)
  }
  return closeOnError(close, async () => {
    await broker.start()
    child = await startChild(file('moleculer-nats-node.ts'), { MICA_BENCH_NATS_URL: url }, 30_000)
    return counterSystem('moleculer NATS', await moleculerCounters(broker), close)
  })
}
