/**
 * Timing helpers: every measurement runs a warm-up, then a fixed count of operations bounded in time
 * (whichever ends first). `BENCH_SCALE` multiplies both the counts and the time bounds.
 */
import { performance } from 'node:perf_hooks'

export const SCALE = parseScale(process.env.BENCH_SCALE)

/** A fixed count of operations, cut short at `maxMs`. */
export interface Limits {
  readonly ops: number
  readonly maxMs: number
}

export interface Throughput {
  readonly ops: number
  readonly seconds: number
  readonly perS: number
}

export interface Latency extends Throughput {
  readonly p50Us: number
  readonly p99Us: number
}

/** `ops` and `ms` at scale 1, multiplied by BENCH_SCALE. */
export function limits(ops: number, ms: number): Limits {
  return { ops: Math.round(ops * SCALE), maxMs: ms * SCALE }
}

/**
 * Warm-up limits: a tenth of the work, at most 300 ms (scaled); `ms` sets the time instead (fresh
 * worker threads need about a second before their JIT settles).
 */
export function warmup(l: Limits, ms?: number): Limits {
  const maxMs = ms === undefined ? Math.min(300 * SCALE, l.maxMs / 10) : ms * SCALE
  return { ops: ms === undefined ? Math.max(1, Math.round(l.ops / 10)) : l.ops, maxMs }
}

export const now = (): number => performance.now()

export function throughput(ops: number, ms: number): Throughput {
  return { ops, seconds: ms / 1000, perS: ops / (ms / 1000) }
}

/** Sequential `await op()` loop; no per-op timing (the clock is read every 1,024 ops). */
export async function sequential(op: () => Promise<unknown>, l: Limits): Promise<Throughput> {
  const start = now()
  let done = 0
  while (done < l.ops) {
    const n = Math.min(1024, l.ops - done)
    for (let i = 0; i < n; i++) await op()
    done += n
    if (now() - start >= l.maxMs) break
  }
  return throughput(done, now() - start)
}

/** `concurrency` async loops sharing the limits; each op is timed. `op(loop)` gets its loop's index. */
export async function concurrent(
  op: (loop: number) => Promise<unknown>,
  concurrency: number,
  l: Limits,
): Promise<Latency> {
  const samples = new Float64Array(l.ops)
  let issued = 0
  let recorded = 0
  const start = now()
  const deadline = start + l.maxMs
  const loop = async (index: number): Promise<void> => {
    while (issued < l.ops) {
      issued++
      const t = now()
      await op(index)
      const end = now()
      samples[recorded++] = (end - t) * 1000
      if (end >= deadline) break
    }
  }
  await Promise.all(Array.from({ length: concurrency }, (_, i) => loop(i)))
  const ms = now() - start
  return { ...throughput(recorded, ms), ...percentiles(samples.subarray(0, recorded)) }
}

/**
 * Like `concurrent`, without per-operation clock reads (two reads per op cost ~100 ns on the thread
 * being measured): for throughput figures; latency percentiles come from `concurrent`.
 */
export async function concurrentThroughput(
  op: (loop: number) => Promise<unknown>,
  concurrency: number,
  l: Limits,
): Promise<Throughput> {
  let issued = 0
  // one flag for every loop: a loop that sees the deadline stops them all (a per-loop break would let
  // the other loops run on until each happened to see a multiple of 1,024)
  let late = false
  const start = now()
  const deadline = start + l.maxMs
  const loop = async (index: number): Promise<void> => {
    while (!late && issued < l.ops) {
      issued++
      await op(index)
      if ((issued & 1023) === 0 && now() >= deadline) late = true
    }
  }
  await Promise.all(Array.from({ length: concurrency }, (_, i) => loop(i)))
  return throughput(issued, now() - start)
}

export function percentiles(samplesUs: Float64Array): { p50Us: number; p99Us: number } {
  const sorted = Float64Array.from(samplesUs).sort()
  const at = (q: number): number =>
    sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
  return { p50Us: at(0.5), p99Us: at(0.99) }
}

/** Throws when a bench's own check fails: a figure for work that was not done is no figure. */
export function verify(ok: boolean, what: string): void {
  if (!ok) throw new Error(`bench check failed: ${what}`)
}

function parseScale(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 1
  const n = Number(raw)
  if (!(Number.isFinite(n) && n > 0)) throw new Error(`BENCH_SCALE must be a positive number, got ${raw}`)
  return n
}
