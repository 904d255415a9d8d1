/**
 * mica's side of bench/pubsub.ts: a publishing kernel (`workers: 0`) and a subscribing kernel in the
 * default configuration (actors on workers) whose two keyed sinks share a queue group on
 * `bench.tick`. With the memory broker one kernel does both (the broker is in-process).
 */
import { createKernel, type Kernel } from '../../src/kernel/kernel.ts'
import type { Broker } from '../../src/broker/broker.ts'
import { sink } from './pubsub-sink.ts'
import { percentile, windowed } from './pubsub-run.ts'
import { verify, type Limits } from './measure.ts'

const quiet = { debug() {}, info() {}, warn() {}, error() {} }

export interface PubsubFigures {
  perS: number
  p50Ms: number
  p99Ms: number
}

export async function micaPubsub(
  brokers: { publisher: Broker; subscriber: Broker } | { shared: Broker },
  window: number,
  l: Limits,
): Promise<PubsubFigures> {
  const kernels: Kernel[] = []
  try {
    const sub = await createKernel({
      broker: 'shared' in brokers ? brokers.shared : brokers.subscriber,
      logger: quiet,
    })
    kernels.push(sub)
    const pub =
      'shared' in brokers ? sub : await createKernel({ workers: 0, broker: brokers.publisher, logger: quiet })
    if (pub !== sub) kernels.push(pub)
    await sub.register(sink)
    const sinks = ['0', '1'].map((id) => sub.ref<typeof sink>(`bench-sink/${id}`))
    const acked = new Map<string, number>()
    await pub.subscribe('bench.ack', (m) => {
      const a = m as { id: string; count: number }
      acked.set(a.id, Math.max(acked.get(a.id) ?? 0, a.count))
    })
    for (const s of sinks) await sub.subscribe('bench.tick', s, { handler: 'tick', queue: 'bench' })
    const handled = (): number => (acked.get('0') ?? 0) + (acked.get('1') ?? 0)
    const exact = async (): Promise<number> =>
      (await Promise.all(sinks.map((s) => s.ask('count')))).reduce((n, c) => n + c, 0)

    // subscriptions reach remote publishers through their broker (a watch, an interest): probe first
    const probeUntil = Date.now() + 15_000
    while ((await exact()) === 0 && Date.now() < probeUntil) {
      await pub.publish('bench.tick', { t: 0 })
      await new Promise((r) => setTimeout(r, 50))
    }
    const before = await exact()
    verify(before > 0, 'the subscriber never got a message')
    const base = before
    const r = await windowed(
      {
        publish: (_i, t) => pub.publish('bench.tick', { t }),
        handled: () => handled() - base,
        exact: async () => (await exact()) - base,
      },
      window,
      l,
    )
    verify(r.done >= r.sent, `handled ${r.done} of ${r.sent}`)
    const samples = (await Promise.all(sinks.map((s) => s.ask('report')))).flatMap((x) => x.samples)
    const measured = samples.filter((x) => x < 60_000) // probes carry t = 0
    return { perS: r.perS, p50Ms: percentile(measured, 0.5), p99Ms: percentile(measured, 0.99) }
  } finally {
    for (const k of kernels.reverse()) await k.stop()
  }
}
