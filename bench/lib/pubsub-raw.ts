/**
 * Baselines of bench/pubsub.ts, in this process against the same nats-server, with the same payload
 * (msgpack `{ t }`) and the same window: raw NATS publish → subscribe on two connections, raw
 * JetStream publish (awaiting each ack) → a consumer acking each message, and Moleculer 0.14's
 * `emit` between two brokers over its NATS transporter (the `nats` v2 client).
 */
import { connect } from '@nats-io/transport-node'
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream'
import { pack } from 'msgpackr'
import { ServiceBroker } from 'moleculer'
import { windowed } from './pubsub-run.ts'
import type { Limits } from './measure.ts'

export async function rawNats(url: string, window: number, l: Limits): Promise<number> {
  const pubConn = await connect({ servers: url })
  const subConn = await connect({ servers: url })
  try {
    let handled = 0
    const sub = subConn.subscribe('raw.tick', {
      callback: (_err, m) => {
        void m.data
        handled++
      },
    })
    await subConn.flush()
    const r = await windowed(
      { publish: (_i, t) => pubConn.publish('raw.tick', pack({ t })), handled: () => handled },
      window,
      l,
    )
    sub.unsubscribe()
    return r.perS
  } finally {
    await pubConn.close()
    await subConn.close()
  }
}

export async function rawJetStream(url: string, window: number, l: Limits): Promise<number> {
  const nc = await connect({ servers: url })
  try {
    const jsm = await jetstreamManager(nc)
    await jsm.streams.add({ name: 'RAWBENCH', subjects: ['rawjs.>'] })
    await jsm.consumers.add('RAWBENCH', { durable_name: 'raw', ack_policy: AckPolicy.Explicit })
    const js = jetstream(nc)
    const consumer = await js.consumers.get('RAWBENCH', 'raw')
    let handled = 0
    const messages = await consumer.consume()
    const reading = (async () => {
      for await (const m of messages) {
        void m.data
        m.ack()
        handled++
      }
    })()
    const r = await windowed(
      { publish: (_i, t) => js.publish('rawjs.tick', pack({ t })), handled: () => handled },
      window,
      l,
    )
    await messages.close()
    await reading
    return r.perS
  } finally {
    await nc.close()
  }
}

export async function moleculerEmit(url: string, window: number, l: Limits): Promise<number> {
  let handled = 0
  const options = { logger: false, metrics: false, tracing: false, transporter: url } as const
  const a = new ServiceBroker({ ...options, nodeID: 'bench-emit-a' })
  const b = new ServiceBroker({ ...options, nodeID: 'bench-emit-b' })
  b.createService({
    name: 'sink',
    events: {
      'bench.tick'() {
        handled++
      },
    },
  })
  try {
    await Promise.all([a.start(), b.start()])
    await a.waitForServices('sink', 15_000)
    const r = await windowed(
      { publish: (_i, t) => a.emit('bench.tick', { t }), handled: () => handled },
      window,
      l,
    )
    return r.perS
  } finally {
    await Promise.all([a.stop(), b.stop()])
  }
}
