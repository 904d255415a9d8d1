/**
 * bench:pubsub — publish → handled throughput (and latency, for mica) into actors on worker threads,
 * for each broker beside its raw baseline in the same run: memory (one kernel), direct (two kernels,
 * TCP on loopback, a shared in-process registry), nats (raw NATS publish/subscribe beside it) and
 * jetstream (raw JetStream publish + acking consumer beside it), plus Moleculer 0.14's event emit
 * over its NATS transporter. Every run keeps at most WINDOW messages in flight. NATS runs on a
 * nats-server started here (free loopback port, temp store, stopped by its pid). Prints the machine,
 * a table with ratios and targets (PASS/MISS, never a failing exit), then one JSON line.
 */
import { MemoryBroker } from '../src/broker/memory.ts'
import { NatsBroker } from '../src/broker/nats.ts'
import { JetStreamBroker } from '../src/broker/jetstream.ts'
import { DirectBroker } from '../src/broker/direct.ts'
import { MemoryRegistry } from '../src/registry/memory.ts'
import { TcpTransport } from '../src/transport/tcp.ts'
import { startNatsServer } from '../test/helpers/nats-server.ts'
import { limits, now, SCALE } from './lib/measure.ts'
import { jsonLine, machine, table, type Row } from './lib/report.ts'
import { micaPubsub, type PubsubFigures } from './lib/pubsub-mica.ts'
import { moleculerEmit, rawJetStream, rawNats } from './lib/pubsub-raw.ts'

const WINDOW = 2_000
const PLAN = limits(400_000, 2_000)
const JS_PLAN = limits(100_000, 2_000)

async function direct(): Promise<PubsubFigures> {
  const registry = new MemoryRegistry()
  await registry.start()
  try {
    const broker = () => new DirectBroker({ registry, transport: new TcpTransport(), listen: '127.0.0.1:0' })
    return await micaPubsub({ publisher: broker(), subscriber: broker() }, WINDOW, PLAN)
  } finally {
    await registry.stop()
  }
}

async function main(): Promise<void> {
  const host = machine()
  console.log(`bench:pubsub — scale ${SCALE} (BENCH_SCALE=5 npm run bench:pubsub runs it 5x longer)`)
  for (const line of host.lines) console.log(line)
  const t0 = now()
  const step = (what: string): void => console.log(`... ${((now() - t0) / 1000).toFixed(1)} s: ${what}`)

  step('memory broker: kernel.publish -> 2 keyed actors on workers (queue group)')
  const memory = await micaPubsub({ shared: new MemoryBroker() }, WINDOW, PLAN)
  step('direct broker: kernel A -> kernel B (actors on workers), TCP on 127.0.0.1')
  const directFigures = await direct()
  const server = await startNatsServer()
  let nats: PubsubFigures, js: PubsubFigures
  let rawNatsPerS: number, rawJsPerS: number, moleculerPerS: number
  try {
    step(`nats broker: kernel A -> kernel B, nats-server on ${server.url}`)
    const natsBroker = () => new NatsBroker({ servers: server.url })
    nats = await micaPubsub({ publisher: natsBroker(), subscriber: natsBroker() }, WINDOW, PLAN)
    step('raw NATS: publish -> subscribe, two connections')
    rawNatsPerS = await rawNats(server.url, WINDOW, PLAN)
    step('jetstream broker: durable queue group, ack after the handler')
    const jsBroker = () => new JetStreamBroker({ servers: server.url })
    js = await micaPubsub({ publisher: jsBroker(), subscriber: jsBroker() }, WINDOW, JS_PLAN)
    step('raw JetStream: publish (awaiting acks) -> consumer acking each message')
    rawJsPerS = await rawJetStream(server.url, WINDOW, JS_PLAN)
    step('moleculer 0.14: emit over its NATS transporter')
    moleculerPerS = await moleculerEmit(server.url, WINDOW, PLAN).catch((err: unknown) => {
      console.log(`    moleculer unavailable: ${(err as Error).message}`)
      return NaN
    })
  } finally {
    await server.close()
  }
  step('done')

  const latency = (f: PubsubFigures): string => `p50 ${f.p50Ms.toFixed(2)} ms, p99 ${f.p99Ms.toFixed(2)} ms`
  const rows: Row[] = [
    { figure: `memory broker (${latency(memory)})`, value: memory.perS, unit: '/s' },
    { figure: `direct broker (${latency(directFigures)})`, value: directFigures.perS, unit: '/s' },
    {
      figure: `nats broker (${latency(nats)})`,
      value: nats.perS,
      unit: '/s',
      baseline: { name: 'raw NATS', value: rawNatsPerS },
      target: { text: '>= 33% of raw NATS', met: nats.perS >= 0.33 * rawNatsPerS },
    },
    {
      figure: 'nats broker vs Moleculer emit',
      value: nats.perS,
      unit: '/s',
      baseline: { name: 'moleculer NATS emit', value: moleculerPerS },
      target: { text: '>= 2x', met: nats.perS >= 2 * moleculerPerS },
    },
    {
      figure: `jetstream broker (${latency(js)})`,
      value: js.perS,
      unit: '/s',
      baseline: { name: 'raw JetStream', value: rawJsPerS },
      target: { text: '>= 50% of raw JetStream', met: js.perS >= 0.5 * rawJsPerS },
    },
  ]
  console.log('')
  console.log(table(rows))
  console.log('')
  console.log(
    jsonLine('pubsub', host.node, host.cpus, {
      memory_pubsub_per_s: memory.perS,
      direct_pubsub_per_s: directFigures.perS,
      nats_pubsub_per_s: nats.perS,
      raw_nats_pubsub_per_s: rawNatsPerS,
      jetstream_pubsub_per_s: js.perS,
      raw_jetstream_per_s: rawJsPerS,
      moleculer_nats_emit_per_s: moleculerPerS,
      nats_vs_raw_ratio: nats.perS / rawNatsPerS,
      nats_vs_moleculer_ratio: nats.perS / moleculerPerS,
      jetstream_vs_raw_ratio: js.perS / rawJsPerS,
      memory_pubsub_p50_ms: memory.p50Ms,
      nats_pubsub_p50_ms: nats.p50Ms,
      nats_pubsub_p99_ms: nats.p99Ms,
    }),
  )
}

await main()
