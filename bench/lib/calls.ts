/**
 * The measurement every system of bench/remote.ts goes through, in the same order: a warm-up with
 * many calls in flight (fresh processes: at least a second), the rate with many in flight (no clock
 * reads per call), their latency (an instrumented pass), then 1 in flight after a short warm-up.
 * It counts every call it made, warm-ups included, so the bench can check the far side did them all.
 */
import {
  concurrent,
  concurrentThroughput,
  warmup,
  type Latency,
  type Limits,
  type Throughput,
} from './measure.ts'

export interface CallPlan {
  readonly inFlight: number
  /** Warm-up before the first measurement (scaled by BENCH_SCALE). */
  readonly warmMs: number
  readonly one: Limits
  readonly many: Limits
}

export interface CallFigures {
  /** 1 in flight: rate and latency. */
  readonly one: Latency
  /** `inFlight` in flight: the rate from the pass without clock reads, percentiles from the other. */
  readonly many: Latency
  /** Every call made, warm-ups included. */
  readonly calls: number
}

export type Call = (loop: number) => Promise<unknown>

export async function measureCalls(one: Call, many: Call, plan: CallPlan): Promise<CallFigures> {
  let calls = 0
  const counted = <T extends Throughput>(t: T): T => {
    calls += t.ops
    return t
  }
  counted(await concurrentThroughput(many, plan.inFlight, warmup(plan.many, plan.warmMs)))
  const rate = counted(await concurrentThroughput(many, plan.inFlight, plan.many))
  const latency = counted(await concurrent(many, plan.inFlight, plan.many))
  counted(await concurrent(one, 1, warmup(plan.one)))
  const single = counted(await concurrent(one, 1, plan.one))
  return { one: single, many: { ...latency, ...rate }, calls }
}
