/**
 * The measurement every system of bench/remote.ts and bench/nats.ts goes through: all systems are
 * started first, each is warmed up (fresh processes: at least a second with many calls in flight),
 * then they take turns for `rounds` rounds, the order rotating each round. In each turn a system is
 * measured for its rate with many in flight (no clock reads per call), their latency (an
 * instrumented pass), and 1 in flight. A figure is the median of its rounds, and a ratio is the
 * median of the ratios of the same round: this VM's speed drifts by up to 2x within seconds, and one
 * pass per system, one after the other, compared two different machines.
 * Every call made is counted, warm-ups included, so each system can check the far side did them all.
 */
import { concurrent, concurrentThroughput, warmup, type Latency, type Limits } from './measure.ts'

export type Call = (loop: number) => Promise<unknown>

/** A started system: its two calls, and its stop (which checks the far side answered `calls`). */
export interface CallSystem {
  readonly name: string
  /** The call made with many in flight (`loop` is the index of the calling loop). */
  readonly many: Call
  /** The call made one at a time. */
  readonly one: Call
  stop(calls: number): Promise<void>
}

export interface CallPlan {
  readonly inFlight: number
  /** Warm-up with many in flight before the first round (scaled by BENCH_SCALE). */
  readonly warmMs: number
  readonly rounds: number
  /** Per turn: the rate pass and the latency pass with many in flight, then 1 in flight. */
  readonly many: Limits
  readonly latency: Limits
  readonly one: Limits
}

export interface CallFigures {
  /** 1 in flight: rate and latency (medians of the rounds). */
  readonly one: Latency
  /** `inFlight` in flight: the rate from the passes without clock reads, percentiles from the others. */
  readonly many: Latency
  /** Every round's figures, in round order (for same-round ratios). */
  readonly rounds: readonly { readonly one: Latency; readonly many: Latency }[]
  /** Every call made, warm-ups included. */
  readonly calls: number
}

/** Measures `systems` side by side (see the module comment); figures in the order of `systems`. */
export async function measureRounds(systems: readonly CallSystem[], plan: CallPlan): Promise<CallFigures[]> {
  const calls = systems.map(() => 0)
  const rounds = systems.map(() => [] as { one: Latency; many: Latency }[])
  const count = <T extends { ops: number }>(i: number, t: T): T => {
    calls[i]! += t.ops
    return t
  }
  for (const [i, s] of systems.entries()) {
    count(i, await concurrentThroughput(s.many, plan.inFlight, warmup(plan.many, plan.warmMs)))
    count(i, await concurrent(s.one, 1, warmup(plan.one)))
  }
  for (let round = 0; round < plan.rounds; round++) {
    for (let k = 0; k < systems.length; k++) {
      const i = (round + k) % systems.length
      const s = systems[i]!
      const rate = count(i, await concurrentThroughput(s.many, plan.inFlight, plan.many))
      const latency = count(i, await concurrent(s.many, plan.inFlight, plan.latency))
      const one = count(i, await concurrent(s.one, 1, plan.one))
      rounds[i]!.push({ many: { ...latency, ...rate }, one })
    }
  }
  return systems.map((_, i) => ({
    many: medianOf(rounds[i]!.map((r) => r.many)),
    one: medianOf(rounds[i]!.map((r) => r.one)),
    rounds: rounds[i]!,
    calls: calls[i]!,
  }))
}

/** The median over rounds of `a`'s figure over `b`'s in the same round (NaN when `b` is missing). */
export function roundRatio(
  a: CallFigures,
  b: CallFigures | undefined,
  figure: (r: { one: Latency; many: Latency }) => number,
): number {
  if (b === undefined) return NaN
  return median(a.rounds.map((r, i) => figure(r) / figure(b.rounds[i]!)))
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((x, y) => x - y)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

function medianOf(passes: readonly Latency[]): Latency {
  const ops = passes.reduce((n, p) => n + p.ops, 0)
  const seconds = passes.reduce((n, p) => n + p.seconds, 0)
  return {
    ops,
    seconds,
    perS: median(passes.map((p) => p.perS)),
    p50Us: median(passes.map((p) => p.p50Us)),
    p99Us: median(passes.map((p) => p.p99Us)),
  }
}
