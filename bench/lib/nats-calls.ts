/**
 * The three systems of bench/nats.ts, each asking a child process across one nats-server, measured
 * side by side (bench/lib/calls.ts):
 * - mica: node A here (`workers: 0`, hosting nothing) asks node B (bench/nats-node.ts, actors on
 *   worker threads) over the NATS transport; B's registry records reach A over IPC. Many in flight
 *   spread over KEYS counters, 1 in flight asks one; at the stop the counters must sum to the asks made.
 * - raw: `@nats-io/transport-node` `request()` (`noAsyncTraces: true`) to a plain responder
 *   (bench/nats-responder.ts) echoing an ask-sized payload.
 * - Moleculer 0.14 `broker.call` over its NATS transporter (bench/moleculer-nats-node.ts).
 */
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { ServiceBroker } from 'moleculer'
import {
  createKernel,
  MemoryRegistry,
  NatsTransport,
  type ActorRef,
  type Kernel,
  type Service,
} from '../../src/index.ts'
import type { counter } from '../actors.ts'
import type { CallSystem } from './calls.ts'
import { startChild, stopChild, untilCallable, type Child } from './child.ts'
import { verify } from './measure.ts'
import { checkCounters } from './remote-mica.ts'

const KEYS = 8
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
  try {
    await registry.start()
    for (const record of b.ready.records) await registry.register(record)
    const kernel = (a = await createKernel({
      workers: 0,
      registry,
      transport: new NatsTransport({ servers: url }),
      listen: 'nats:0',
    }))
    kernel.onDeadLetter(() => deadLetters++)
    const ref = (key: string): ActorRef<typeof counter> => kernel.ref<typeof counter>(`bcounter/${key}`)
    const one = ref('one')
    const many = Array.from({ length: KEYS }, (_, i) => ref(`k${i}`))
    await untilCallable(() => one.ask('get'), 10_000)
    const msg = { by: 1 }
    return {
      name: 'mica',
      workers: b.ready.workers,
      deadLetters: () => deadLetters,
      one: () => one.ask('add', msg),
      many: (loop) => many[loop % KEYS]!.ask('add', msg),
      stop: async (calls) => {
        try {
          await checkCounters([one, ...many], calls)
        } finally {
          await close()
        }
      },
    }
  } catch (err) {
    await close()
    throw err
  }
}

export async function startRawNatsRequest(url: string, payload: Uint8Array): Promise<CallSystem> {
  const env = { MICA_BENCH_NATS_URL: url }
  const child: Child<{ subject: string }> = await startChild(file('nats-responder.ts'), env, 30_000)
  let nc: NatsConnection | undefined
  const close = async (): Promise<void> => {
    await nc?.close()
    await stopChild(child.proc, 10_000)
  }
  try {
    const conn = (nc = await connect({ servers: url, noAsyncTraces: true }))
    const call = (): Promise<unknown> => conn.request(child.ready.subject, payload, { timeout: 10_000 })
    return {
      name: 'raw request()',
      one: call,
      many: call,
      stop: async (calls) => {
        try {
          const stopped = await stopChild<{ answered: number }>(child.proc, 10_000)
          verify(stopped?.answered === calls, `the responder answered ${stopped?.answered} of ${calls}`)
        } finally {
          await close()
        }
      },
    }
  } catch (err) {
    await close()
    throw err
  }
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
  try {
    await broker.start()
    child = await startChild(file('moleculer-nats-node.ts'), { MICA_BENCH_NATS_URL: url }, 30_000)
    const msg = { by: 1 }
    const add = (): Promise<number> => broker.call<number, { by: number }>('bcounter.add', msg)
    await untilCallable(add, 15_000)
    return {
      name: 'moleculer NATS',
      one: add,
      many: add,
      stop: async (calls) => {
        try {
          const total = await broker.call<number>('bcounter.get')
          verify(total === calls + 1, `moleculer counter holds ${total} of ${calls + 1} calls`)
        } finally {
          await close()
        }
      },
    }
  } catch (err) {
    await close()
    throw err
  }
}
