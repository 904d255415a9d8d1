/**
 * The three systems of bench/nats.ts, each asking a child process across one nats-server with the
 * same plan (bench/lib/calls.ts):
 * - mica: node A here (`workers: 0`, hosting nothing) asks node B (bench/nats-node.ts, actors on
 *   worker threads) over the NATS transport; B's registry records reach A over IPC. Many in flight
 *   spread over KEYS counters, 1 in flight asks one; the counters must sum to the asks made.
 * - raw: `@nats-io/transport-node` `request()` (`noAsyncTraces: true`) to a plain responder
 *   (bench/nats-responder.ts) echoing an ask-sized payload.
 * - Moleculer 0.14 `broker.call` over its NATS transporter (bench/moleculer-nats-node.ts).
 */
import { connect } from '@nats-io/transport-node'
import { ServiceBroker } from 'moleculer'
import { createKernel, MemoryRegistry, NatsTransport, type ActorRef, type Service } from '../../src/index.ts'
import type { counter } from '../actors.ts'
import { measureCalls, type CallFigures, type CallPlan } from './calls.ts'
import { startChild, stopChild, untilCallable, type Child } from './child.ts'
import { verify } from './measure.ts'

const KEYS = 8
const file = (name: string): URL => new URL(`../${name}`, import.meta.url)

export interface MicaNatsFigures extends CallFigures {
  readonly workers: number
  readonly deadLetters: number
}

export async function micaNats(plan: CallPlan, url: string): Promise<MicaNatsFigures> {
  const env = { MICA_BENCH_NATS_URL: url }
  const b = await startChild<{ workers: number; records: Service[] }>(file('nats-node.ts'), env, 30_000)
  const registry = new MemoryRegistry()
  let deadLetters = 0
  try {
    await registry.start()
    for (const record of b.ready.records) await registry.register(record)
    const a = await createKernel({
      workers: 0,
      registry,
      transport: new NatsTransport({ servers: url }),
      listen: 'nats:0',
    })
    const off = a.onDeadLetter(() => deadLetters++)
    try {
      const ref = (key: string): ActorRef<typeof counter> => a.ref<typeof counter>(`bcounter/${key}`)
      const one = ref('one')
      const many = Array.from({ length: KEYS }, (_, i) => ref(`k${i}`))
      await untilCallable(() => one.ask('get'), 10_000)
      const msg = { by: 1 }
      const figures = await measureCalls(
        () => one.ask('add', msg),
        (loop) => many[loop % KEYS]!.ask('add', msg),
        plan,
      )
      const counts = await Promise.all([one, ...many].map((r) => r.ask('get')))
      const total = counts.reduce((x, y) => x + y, 0)
      verify(total === figures.calls, `node B's counters hold ${total} of ${figures.calls} asks`)
      return { ...figures, workers: b.ready.workers, deadLetters }
    } finally {
      off()
      await a.stop()
    }
  } finally {
    await registry.stop()
    await stopChild(b.proc, 15_000)
  }
}

export async function rawNatsRequest(plan: CallPlan, url: string, payload: Uint8Array): Promise<CallFigures> {
  const env = { MICA_BENCH_NATS_URL: url }
  const child: Child<{ subject: string }> = await startChild(file('nats-responder.ts'), env, 30_000)
  const nc = await connect({ servers: url, noAsyncTraces: true })
  try {
    const call = () => nc.request(child.ready.subject, payload, { timeout: 10_000 })
    const figures = await measureCalls(call, call, plan)
    const stopped = await stopChild<{ answered: number }>(child.proc, 10_000)
    verify(
      stopped?.answered === figures.calls,
      `the responder answered ${stopped?.answered} of ${figures.calls}`,
    )
    return figures
  } finally {
    await nc.close()
    await stopChild(child.proc, 10_000)
  }
}

export async function moleculerNats(plan: CallPlan, url: string): Promise<CallFigures> {
  const broker = new ServiceBroker({
    nodeID: 'bench-moleculer-nats-a',
    logger: false,
    metrics: false,
    tracing: false,
    transporter: url,
  })
  let child: Child<{ nodeID: string }> | undefined
  try {
    await broker.start()
    child = await startChild(file('moleculer-nats-node.ts'), { MICA_BENCH_NATS_URL: url }, 30_000)
    const msg = { by: 1 }
    const add = (): Promise<number> => broker.call<number, { by: number }>('bcounter.add', msg)
    await untilCallable(add, 15_000)
    const figures = await measureCalls(add, add, plan)
    const total = await broker.call<number>('bcounter.get')
    verify(total === figures.calls + 1, `moleculer counter holds ${total} of ${figures.calls + 1} calls`)
    return figures
  } finally {
    await broker.stop()
    if (child !== undefined) await stopChild(child.proc, 10_000)
  }
}
