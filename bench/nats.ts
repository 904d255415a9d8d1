/**
 * bench:nats — how fast is a mica ask across two processes over the NATS transport? Node A (this
 * process, `workers: 0`) asks node B (a child process in its default configuration, actors on worker
 * threads) through one nats-server started here (free loopback port, temp store, stopped by its pid).
 * Beside it in the same run, against the same server: raw `@nats-io/transport-node` `request()` to a
 * plain responder in a child process, and Moleculer 0.14 over its NATS transporter. All three run side
 * by side, taking turns for several rounds (bench/lib/calls.ts): 256 in flight (rate and latency) and
 * 1 in flight; figures are medians of the rounds, ratios medians of same-round ratios. Prints the
 * machine, a table with ratios and targets (PASS/MISS, never a failing exit for a miss), then one
 * JSON line. `BENCH_SCALE=5 npm run bench:nats` runs longer.
 */
import { startNatsServer } from '../test/helpers/nats-server.ts'
import { measureRounds, roundRatio, type CallFigures, type CallPlan, type CallSystem } from './lib/calls.ts'
import { limits, now, SCALE } from './lib/measure.ts'
import { startMicaNats, startMoleculerNats, startRawNatsRequest, type MicaNats } from './lib/nats-calls.ts'
import { askLikeFrame } from './lib/raw-tcp.ts'
import { jsonLine, machine, roundLines, table, type Row } from './lib/report.ts'

const PLAN: CallPlan = {
  inFlight: 256,
  warmMs: 1_000,
  rounds: 5,
  many: limits(3_000_000, 500),
  latency: limits(1_000_000, 300),
  one: limits(300_000, 300),
}

async function main(): Promise<void> {
  const host = machine()
  console.log(`bench:nats — scale ${SCALE} (BENCH_SCALE=5 npm run bench:nats runs it 5x longer)`)
  for (const line of host.lines) console.log(line)
  const t0 = now()
  const step = (what: string): void => console.log(`... ${((now() - t0) / 1000).toFixed(1)} s: ${what}`)

  const server = await startNatsServer()
  const systems: CallSystem[] = []
  try {
    step(
      `mica: node A here (workers: 0), node B in a child process (default workers), nats-server ${server.url}`,
    )
    const mica: MicaNats = await startMicaNats(server.url)
    systems.push(mica)
    console.log(`    node B: ${mica.workers} workers`)
    const frame = askLikeFrame()
    step(`raw NATS request(): noAsyncTraces, responder in a child process, ${frame.length}-byte payloads`)
    systems.push(await startRawNatsRequest(server.url, frame))
    step('moleculer 0.14: NATS transporter, child process')
    let moleculerName = 'moleculer NATS'
    try {
      systems.push(await startMoleculerNats(server.url))
    } catch (err) {
      moleculerName = 'moleculer NATS (unavailable)'
      console.log(`    moleculer NATS unavailable: ${(err as Error).message}`)
    }

    step(
      `${PLAN.rounds} rounds, each system in turn: ${PLAN.inFlight} in flight (rate, latency), then 1 in flight`,
    )
    const measured = await measureRounds(systems, PLAN)
    const names = systems.map((s) => s.name)
    step('stopping (each checks the far side answered every call)')
    await Promise.all(systems.splice(0).map((s, i) => s.stop(measured[i]!.calls)))
    step('done')

    const [m, raw, mol] = measured as [CallFigures, CallFigures, CallFigures | undefined]
    const perS = (r: { many: { perS: number } }): number => r.many.perS
    const p50One = (r: { one: { p50Us: number } }): number => r.one.p50Us
    const figures: Record<string, number> = {
      nats_ask_256_per_s: m.many.perS,
      nats_ask_256_p50_us: m.many.p50Us,
      nats_ask_256_p99_us: m.many.p99Us,
      nats_ask_1_per_s: m.one.perS,
      nats_ask_1_p50_us: m.one.p50Us,
      nats_ask_1_p99_us: m.one.p99Us,
      raw_nats_request_256_per_s: raw.many.perS,
      raw_nats_request_256_p50_us: raw.many.p50Us,
      raw_nats_request_1_per_s: raw.one.perS,
      raw_nats_request_1_p50_us: raw.one.p50Us,
      moleculer_nats_256_per_s: mol?.many.perS ?? NaN,
      moleculer_nats_256_p50_us: mol?.many.p50Us ?? NaN,
      moleculer_nats_1_per_s: mol?.one.perS ?? NaN,
      moleculer_nats_1_p50_us: mol?.one.p50Us ?? NaN,
      nats_ask_256_vs_raw_request_ratio: roundRatio(m, raw, perS),
      nats_ask_256_vs_moleculer_ratio: roundRatio(m, mol, perS),
      nats_ask_1_p50_vs_raw_request_ratio: roundRatio(m, raw, p50One),
      rounds_count: PLAN.rounds,
      node_b_workers_count: mica.workers,
      raw_payload_bytes: frame.length,
      dead_letters_count: mica.deadLetters(),
    }
    console.log('')
    console.log(table(rows(figures, moleculerName)))
    console.log('')
    for (const line of roundLines(names, measured, PLAN.inFlight)) console.log(line)
    if (figures.dead_letters_count! > 0)
      console.log(`warning: ${figures.dead_letters_count} dead letters on node A`)
    console.log(jsonLine('nats', host.node, host.cpus, figures))
  } finally {
    await Promise.allSettled(systems.map((s) => s.stop(0)))
    await server.close()
  }
}

function rows(f: Record<string, number>, moleculerName: string): Row[] {
  const target = (text: string, met: boolean) => ({ text, met })
  const raw = (value: number) => ({ name: 'raw request()', value })
  const mol = (value: number) => ({ name: moleculerName, value })
  return [
    {
      figure: 'ask, 256 in flight',
      value: f.nats_ask_256_per_s!,
      unit: '/s',
      baseline: raw(f.raw_nats_request_256_per_s!),
      ratio: f.nats_ask_256_vs_raw_request_ratio!,
      target: target('>= 2x raw request()', f.nats_ask_256_vs_raw_request_ratio! >= 2),
    },
    {
      figure: 'ask, 256 in flight',
      value: f.nats_ask_256_per_s!,
      unit: '/s',
      baseline: mol(f.moleculer_nats_256_per_s!),
      ratio: f.nats_ask_256_vs_moleculer_ratio!,
      target: target('>= 2x moleculer', f.nats_ask_256_vs_moleculer_ratio! >= 2),
    },
    {
      figure: 'ask p50, 256 in flight',
      value: f.nats_ask_256_p50_us!,
      unit: 'µs',
      baseline: raw(f.raw_nats_request_256_p50_us!),
    },
    { figure: 'ask p99, 256 in flight', value: f.nats_ask_256_p99_us!, unit: 'µs' },
    {
      figure: 'ask, 1 in flight',
      value: f.nats_ask_1_per_s!,
      unit: '/s',
      baseline: raw(f.raw_nats_request_1_per_s!),
    },
    {
      figure: 'ask p50, 1 in flight',
      value: f.nats_ask_1_p50_us!,
      unit: 'µs',
      baseline: raw(f.raw_nats_request_1_p50_us!),
    },
    {
      figure: 'ask p50, 1 in flight',
      value: f.nats_ask_1_p50_us!,
      unit: 'µs',
      baseline: mol(f.moleculer_nats_1_p50_us!),
    },
    { figure: 'ask p99, 1 in flight', value: f.nats_ask_1_p99_us!, unit: 'µs' },
  ]
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
