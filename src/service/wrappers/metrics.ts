/**
 * The metrics wrapper: per endpoint, the requests, the errors and a latency histogram, on the
 * client side (calls made, by `service endpoint`) and the server side (requests handled, by
 * endpoint). Read them with `snapshot()`; export them wherever you like. Bounded: past
 * `maxEndpoints` names, new ones are counted under `(other)`.
 */
import { systemClock, type Clock } from '../../clock.ts'
import type { WrapperSet } from '../wrappers.ts'

export interface EndpointMetrics {
  count: number
  errors: number
  /** Upper bounds (ms) of the histogram buckets; the last bucket counts everything above. */
  buckets: readonly number[]
  /** One more entry than `buckets`: counts per bucket, the last for slower than every bound. */
  latency: number[]
  totalMs: number
}

export interface MetricsSnapshot {
  client: Record<string, EndpointMetrics>
  handler: Record<string, EndpointMetrics>
}

export interface MetricsOptions {
  buckets?: readonly number[]
  clock?: Clock
  maxEndpoints?: number
}

export interface Metrics extends Required<Pick<WrapperSet, 'client' | 'handler'>> {
  snapshot(): MetricsSnapshot
}

export const DEFAULT_LATENCY_BUCKETS_MS = [1, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000]
const DEFAULT_MAX_ENDPOINTS = 1_000

export function metricsWrapper(options: MetricsOptions = {}): Metrics {
  const buckets = [...(options.buckets ?? DEFAULT_LATENCY_BUCKETS_MS)].sort((a, b) => a - b)
  const clock = options.clock ?? systemClock
  const max = options.maxEndpoints ?? DEFAULT_MAX_ENDPOINTS
  const tables = { client: new Map<string, EndpointMetrics>(), handler: new Map<string, EndpointMetrics>() }

  const record = (table: Map<string, EndpointMetrics>, name: string, ms: number, failed: boolean): void => {
    let m = table.get(name)
    if (m === undefined) {
      const key = table.size >= max ? '(other)' : name
      m = table.get(key)
      if (m === undefined) {
        m = {
          count: 0,
          errors: 0,
          buckets,
          latency: new Array<number>(buckets.length + 1).fill(0),
          totalMs: 0,
        }
        table.set(key, m)
      }
    }
    m.count++
    if (failed) m.errors++
    m.totalMs += ms
    let i = 0
    while (i < buckets.length && ms > buckets[i]!) i++
    m.latency[i]!++
  }

  const timed = async <T>(
    table: Map<string, EndpointMetrics>,
    name: string,
    run: () => Promise<T>,
  ): Promise<T> => {
    const start = clock.now()
    try {
      const out = await run()
      record(table, name, clock.now() - start, false)
      return out
    } catch (err) {
      record(table, name, clock.now() - start, true)
      throw err
    }
  }

  const copy = (table: Map<string, EndpointMetrics>): Record<string, EndpointMetrics> =>
    Object.fromEntries([...table].map(([k, m]) => [k, { ...m, latency: [...m.latency] }]))

  return {
    client: (next) => (req) => timed(tables.client, `${req.service} ${req.endpoint}`, () => next(req)),
    handler: (next) => (req) => timed(tables.handler, req.endpoint, () => next(req)),
    snapshot: () => ({ client: copy(tables.client), handler: copy(tables.handler) }),
  }
}
