/**
 * bench:remote — how fast is a mica ask across two processes on loopback? Node A (this process,
 * `workers: 0`) asks node B (a child process in its default configuration, actors on worker threads)
 * over mDNS + TCP on 127.0.0.1; beside it in the same run, a raw length-prefixed TCP echo written with
 * node:net and Moleculer 0.14's TCP transporter (loopback only) making the same call. All three run
 * side by side, taking turns for several rounds (bench/lib/calls.ts): 256 in flight (rate and latency)
 * and 1 in flight; figures are medians of the rounds, ratios medians of same-round ratios.
 * Prints the machine, a table with ratios and targets (PASS/MISS, never a failing exit for a miss),
 * then one JSON line. `BENCH_SCALE=5 npm run bench:remote` runs longer.
 */
import { measureRounds, roundRatio, type CallFigures, type CallPlan, type CallSystem } from './lib/calls.ts'
import { limits, now, SCALE } from './lib/measure.ts'
import { askLikeFrame, startRawTcpEcho } from './lib/raw-tcp.ts'
import { startMicaRemote, type MicaRemote } from './lib/remote-mica.ts'
import { startMoleculerRemote } from './lib/remote-moleculer.ts'
import { remoteRows, type RemoteFigures } from './lib/remote-targets.ts'
import { jsonLine, machine, roundLines, table } from './lib/report.ts'

/** Fresh processes warm up a second before they are measured; counts and times scale. */
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
  console.log(`bench:remote — scale ${SCALE} (BENCH_SCALE=5 npm run bench:remote runs it 5x longer)`)
  for (const line of host.lines) console.log(line)
  const t0 = now()
  const step = (what: string): void => console.log(`... ${((now() - t0) / 1000).toFixed(1)} s: ${what}`)
  const systems: CallSystem[] = []
  try {
    step('mica: node A here (workers: 0), node B in a child process (default workers), mDNS + TCP')
    const mica: MicaRemote = await startMicaRemote()
    systems.push(mica)
    console.log(
      `    node B: ${mica.workers} workers; first ask answered after ${mica.foundMs} ms (discovery)`,
    )

    const frame = askLikeFrame()
    step(`raw TCP echo: node:net, child process, ${frame.length}-byte msgpack frames`)
    systems.push(await startRawTcpEcho(frame))

    step('moleculer 0.14: TCP transporter on 127.0.0.1, child process')
    let unavailable: string | undefined
    try {
      const moleculer = await startMoleculerRemote()
      systems.push(moleculer)
      console.log(`    first call answered after ${moleculer.foundMs} ms (gossip discovery)`)
    } catch (err) {
      unavailable = 'moleculer TCP (unavailable)'
      console.log(`    moleculer TCP unavailable: ${(err as Error).message}`)
    }

    step(
      `${PLAN.rounds} rounds, each system in turn: ${PLAN.inFlight} in flight (rate, latency), then 1 in flight`,
    )
    const measured = await measureRounds(systems, PLAN)
    const names = systems.map((s) => s.name)
    step('stopping (each checks the far side answered every call)')
    const stops = systems.splice(0).map((s, i) => s.stop(measured[i]!.calls))
    await Promise.all(stops)
    step('done')

    const [m, raw, mol] = measured as [CallFigures, CallFigures, CallFigures | undefined]
    const perS = (r: { many: { perS: number } }): number => r.many.perS
    const p50One = (r: { one: { p50Us: number } }): number => r.one.p50Us
    const figures: RemoteFigures & Record<string, number> = {
      tcp_ask_256_per_s: m.many.perS,
      tcp_ask_256_p50_us: m.many.p50Us,
      tcp_ask_256_p99_us: m.many.p99Us,
      tcp_ask_1_per_s: m.one.perS,
      tcp_ask_1_p50_us: m.one.p50Us,
      tcp_ask_1_p99_us: m.one.p99Us,
      raw_tcp_256_per_s: raw.many.perS,
      raw_tcp_256_p50_us: raw.many.p50Us,
      raw_tcp_256_p99_us: raw.many.p99Us,
      raw_tcp_1_per_s: raw.one.perS,
      raw_tcp_1_p50_us: raw.one.p50Us,
      raw_tcp_1_p99_us: raw.one.p99Us,
      moleculer_tcp_256_per_s: mol?.many.perS ?? NaN,
      moleculer_tcp_256_p50_us: mol?.many.p50Us ?? NaN,
      moleculer_tcp_256_p99_us: mol?.many.p99Us ?? NaN,
      moleculer_tcp_1_per_s: mol?.one.perS ?? NaN,
      moleculer_tcp_1_p50_us: mol?.one.p50Us ?? NaN,
      moleculer_tcp_1_p99_us: mol?.one.p99Us ?? NaN,
      tcp_ask_256_vs_moleculer_ratio: roundRatio(m, mol, perS),
      tcp_ask_256_vs_raw_ratio: roundRatio(m, raw, perS),
      tcp_ask_1_p50_vs_raw_ratio: roundRatio(m, raw, p50One),
      rounds_count: PLAN.rounds,
      node_b_workers_count: mica.workers,
      raw_frame_bytes: frame.length,
      dead_letters_count: mica.deadLetters(),
    }
    console.log('')
    console.log(table(remoteRows(figures, PLAN.inFlight, unavailable)))
    console.log('')
    for (const line of roundLines(names, measured, PLAN.inFlight)) console.log(line)
    if (figures.dead_letters_count > 0)
      console.log(`warning: ${figures.dead_letters_count} dead letters on node A`)
    console.log(jsonLine('remote', host.node, host.cpus, figures))
  } finally {
    await Promise.allSettled(systems.map((s) => s.stop(0)))
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
