/** The kernel bench's table: each figure beside its baseline, and the targets set for the kernel. */
import type { Row } from './report.ts'
import type { WorkerPlan } from './workers.ts'

/** The figures the rows read (keys of the bench's JSON line). */
export interface KernelFigures {
  inline_send_per_s: number
  inline_ask_per_s: number
  inline_ask_p50_us: number
  inline_ask_p99_us: number
  raw_call_per_s: number
  moleculer_local_call_per_s: number
  inline_ask_vs_moleculer_ratio: number
  worker_send_per_s: number
  raw_postmessage_batched_per_s: number
  worker_send_vs_raw_ratio: number
  worker_ask_1_per_s: number
  worker_ask_1_p50_us: number
  worker_ask_1_p99_us: number
  worker_ask_256_per_s: number
  worker_ask_256_p50_us: number
  worker_ask_256_p99_us: number
  raw_port_pingpong_per_s: number
  raw_port_pingpong_p50_us: number
  raw_port_pingpong_p99_us: number
  worker_ask_1_vs_pingpong_p50_ratio: number
  actors_1m_spawn_s: number
  actors_1m_heap_mb: number
  actors_1m_stop_s: number
}

export function kernelRows(f: KernelFigures, plan: WorkerPlan): Row[] {
  const target = (text: string, met: boolean) => ({ text, met })
  const ping = (value: number) => ({ name: 'raw port ping-pong', value })
  const many = `${plan.inFlight} in flight`
  return [
    {
      figure: 'inline ask',
      value: f.inline_ask_per_s,
      unit: '/s',
      baseline: { name: 'plain async fn call', value: f.raw_call_per_s },
    },
    {
      figure: 'inline ask',
      value: f.inline_ask_per_s,
      unit: '/s',
      baseline: { name: 'moleculer local call', value: f.moleculer_local_call_per_s },
      target: target('>= 2x moleculer', f.inline_ask_vs_moleculer_ratio >= 2),
    },
    {
      figure: 'inline ask p50',
      value: f.inline_ask_p50_us,
      unit: 'µs',
      target: target('< 5 µs', f.inline_ask_p50_us < 5),
    },
    { figure: 'inline ask p99', value: f.inline_ask_p99_us, unit: 'µs' },
    {
      figure: 'inline send (1 actor)',
      value: f.inline_send_per_s,
      unit: '/s',
      target: target('>= 2,000,000/s', f.inline_send_per_s >= 2e6),
    },
    {
      figure: `worker send (${plan.workers} workers, ${plan.sendActors} actors)`,
      value: f.worker_send_per_s,
      unit: '/s',
      baseline: { name: 'raw batched postMessage', value: f.raw_postmessage_batched_per_s },
      target: target('>= 0.50x raw', f.worker_send_vs_raw_ratio >= 0.5),
    },
    {
      figure: 'worker ask, 1 in flight',
      value: f.worker_ask_1_per_s,
      unit: '/s',
      baseline: ping(f.raw_port_pingpong_per_s),
    },
    {
      figure: 'worker ask p50, 1 in flight',
      value: f.worker_ask_1_p50_us,
      unit: 'µs',
      baseline: ping(f.raw_port_pingpong_p50_us),
      target: target('<= 2x raw p50', f.worker_ask_1_vs_pingpong_p50_ratio <= 2),
    },
    {
      figure: 'worker ask p99, 1 in flight',
      value: f.worker_ask_1_p99_us,
      unit: 'µs',
      baseline: ping(f.raw_port_pingpong_p99_us),
    },
    {
      figure: `worker ask, ${many}`,
      value: f.worker_ask_256_per_s,
      unit: '/s',
      target: target('>= 300,000/s', f.worker_ask_256_per_s >= 300_000),
    },
    { figure: `worker ask p50, ${many}`, value: f.worker_ask_256_p50_us, unit: 'µs' },
    { figure: `worker ask p99, ${many}`, value: f.worker_ask_256_p99_us, unit: 'µs' },
    {
      figure: '1M idle actors: spawn',
      value: f.actors_1m_spawn_s,
      unit: 's',
      target: target('< 5 s', f.actors_1m_spawn_s < 5),
    },
    {
      figure: '1M idle actors: heap',
      value: f.actors_1m_heap_mb,
      unit: 'MB',
      target: target('< 1024 MB', f.actors_1m_heap_mb < 1024),
    },
    { figure: '1M idle actors: kernel.stop()', value: f.actors_1m_stop_s, unit: 's' },
  ]
}
