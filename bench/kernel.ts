/**
 * bench:kernel — how fast is mica's kernel next to what it is built from? Each figure is measured
 * beside its raw baseline in the same run: inline asks vs a plain async call and Moleculer's local
 * call; worker sends vs raw batched postMessage; worker asks vs a raw MessagePort ping-pong; and the
 * cost of a million idle actors. Prints the machine, a table with ratios and targets (PASS/MISS, never
 * a failing exit for a miss), then one JSON line. `BENCH_SCALE=5 npm run bench:kernel` runs longer.
 */
import { Packr } from 'msgpackr'
import { inlineBench } from './lib/inline.ts'
import { limits, now, SCALE, warmup } from './lib/measure.ts'
import { moleculerLocalCall } from './lib/moleculer.ts'
import { rawBatchedPostMessage, rawPortPingPong } from './lib/raw.ts'
import { jsonLine, machine, table } from './lib/report.ts'
import { spawnBench } from './lib/spawn.ts'
import { kernelRows } from './lib/targets.ts'
import { workersBench, type WorkerPlan } from './lib/workers.ts'

const PLAN: WorkerPlan = { workers: 2, sendActors: 64, perActor: 256, inFlight: 256, askActors: 8 }
const IDLE_ACTORS = 1_000_000
/** Fresh workers (mica's and the raw baseline's alike) warm up this long before they are measured. */
const WORKER_WARMUP_MS = 1_000

/** Operation counts and time bounds (ms) at scale 1; each measurement is preceded by a warm-up. */
const LIMITS = {
  inlineAsk: limits(5_000_000, 1_500),
  inlineLatency: limits(300_000, 700),
  inlineSend: limits(20_000_000, 1_500),
  workerSend: limits(20_000_000, 2_000),
  workerAsk: limits(1_000_000, 1_500),
  pingPong: limits(300_000, 1_500),
  spawnMs: 15_000 * SCALE,
}

async function main(): Promise<void> {
  const host = machine()
  console.log(`bench:kernel — scale ${SCALE} (BENCH_SCALE=5 npm run bench:kernel runs it 5x longer)`)
  for (const line of host.lines) console.log(line)
  if (globalThis.gc === undefined) console.log('note: run node with --expose-gc for an exact heap figure')
  const t0 = now()
  const step = (what: string): void => console.log(`... ${((now() - t0) / 1000).toFixed(1)} s: ${what}`)
  const L = LIMITS

  step('inline asks, plain async calls, inline sends')
  const inline = await inlineBench(warmup(L.inlineAsk), L.inlineAsk, L.inlineLatency, L.inlineSend)
  step('moleculer local calls')
  const moleculer = await moleculerLocalCall(warmup(L.inlineAsk), L.inlineAsk)

  step(
    `workers: ${PLAN.workers}: sends over ${PLAN.sendActors} actors, asks 1 and ${PLAN.inFlight} in flight`,
  )
  const workers = await workersBench(PLAN, warmup(L.workerSend, WORKER_WARMUP_MS), L.workerSend, L.workerAsk)
  step('raw batched postMessage, raw MessagePort ping-pong')
  const keys = Array.from({ length: PLAN.sendActors }, (_, i) => `bcounter/send-${i}`)
  const raw = await rawBatchedPostMessage(
    PLAN.workers,
    keys,
    PLAN.perActor,
    warmup(L.workerSend, WORKER_WARMUP_MS),
    L.workerSend,
  )
  const small = new Packr({ useRecords: false }).pack({ to: 'bcounter/ask1', handler: 'get', body: null })
  const ping = await rawPortPingPong(small, warmup(L.pingPong), L.pingPong)

  step(`${IDLE_ACTORS.toLocaleString('en-US')} idle actors (workers: 0)`)
  const idle = await spawnBench(IDLE_ACTORS, L.spawnMs)
  if (idle.projected) console.log(`note: stopped at ${idle.spawned} actors (time bound); figures projected`)
  step('done')

  const figures = {
    inline_send_per_s: inline.send.perS,
    inline_ask_per_s: inline.ask.perS,
    inline_ask_p50_us: inline.askLatency.p50Us,
    inline_ask_p99_us: inline.askLatency.p99Us,
    raw_call_per_s: inline.rawCall.perS,
    moleculer_local_call_per_s: moleculer.perS,
    inline_ask_vs_raw_call_ratio: inline.ask.perS / inline.rawCall.perS,
    inline_ask_vs_moleculer_ratio: inline.ask.perS / moleculer.perS,
    worker_send_per_s: workers.send.perS,
    raw_postmessage_batched_per_s: raw.perS,
    worker_send_vs_raw_ratio: workers.send.perS / raw.perS,
    worker_ask_1_per_s: workers.ask1.perS,
    worker_ask_1_p50_us: workers.ask1.p50Us,
    worker_ask_1_p99_us: workers.ask1.p99Us,
    worker_ask_256_per_s: workers.askMany.perS,
    worker_ask_256_p50_us: workers.askMany.p50Us,
    worker_ask_256_p99_us: workers.askMany.p99Us,
    raw_port_pingpong_per_s: ping.perS,
    raw_port_pingpong_p50_us: ping.p50Us,
    raw_port_pingpong_p99_us: ping.p99Us,
    worker_ask_1_vs_pingpong_p50_ratio: workers.ask1.p50Us / ping.p50Us,
    actors_1m_spawn_s: idle.seconds,
    actors_1m_heap_mb: idle.heapMb,
    actors_1m_stop_s: idle.stopSeconds,
    actors_1m_spawned_count: idle.spawned,
    dead_letters_count: inline.deadLetters + workers.deadLetters,
  }
  console.log('')
  console.log(table(kernelRows(figures, PLAN)))
  console.log('')
  if (figures.dead_letters_count > 0) console.log(`warning: ${figures.dead_letters_count} dead letters`)
  console.log(jsonLine('kernel', host.node, host.cpus, figures))
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
