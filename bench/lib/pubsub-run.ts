/**
 * One windowed publish→handled run, the same scheme for mica and every baseline: at most `window`
 * messages published and not yet known handled; `handled()` is the subscriber side's count. Bounded
 * in count and time; returns the rate of messages handled.
 */
import { performance } from 'node:perf_hooks'
import { now, type Limits } from './measure.ts'

export interface PubsubRun {
  /** Publishes message `i` (its body carries the send time `t`). */
  publish(i: number, t: number): void | Promise<unknown>
  /** Messages handled so far (may lag: acks come in batches). */
  handled(): number
  /** The exact count, asked while draining (mica's sinks: their last batch is not acked). */
  exact?(): Promise<number>
}

export const epochNow = (): number => performance.timeOrigin + performance.now()

export async function windowed(
  run: PubsubRun,
  window: number,
  l: Limits,
): Promise<{ perS: number; sent: number; done: number }> {
  const start = now()
  let sent = 0
  while (sent < l.ops && now() - start < l.maxMs) {
    if (sent - run.handled() >= window) {
      await new Promise((r) => setImmediate(r))
      continue
    }
    const p = run.publish(sent, epochNow())
    sent++
    if (p !== undefined && sent % 64 === 0) await p // let publish acks / flushes breathe
  }
  const drainUntil = now() + 10_000
  let done = run.handled()
  while (done < sent && now() < drainUntil) {
    await new Promise((r) => setTimeout(r, 2))
    done = run.exact === undefined ? run.handled() : await run.exact()
  }
  const ms = now() - start
  return { perS: done / (ms / 1000), sent, done }
}

export function percentile(samples: number[], q: number): number {
  if (samples.length === 0) return NaN
  const sorted = Float64Array.from(samples).sort()
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}
