/**
 * The remote bench's table: mica's asks across processes beside the raw TCP echo and Moleculer TCP.
 * Values are medians of the rounds; a target's ratio is the median of same-round ratios.
 */
import type { Row } from './report.ts'

/** The figures the rows read (keys of the bench's JSON line); Moleculer's are NaN when unavailable. */
export interface RemoteFigures {
  tcp_ask_256_per_s: number
  tcp_ask_256_p50_us: number
  tcp_ask_256_p99_us: number
  tcp_ask_1_per_s: number
  tcp_ask_1_p50_us: number
  tcp_ask_1_p99_us: number
  raw_tcp_256_per_s: number
  raw_tcp_256_p50_us: number
  raw_tcp_256_p99_us: number
  raw_tcp_1_per_s: number
  raw_tcp_1_p50_us: number
  raw_tcp_1_p99_us: number
  moleculer_tcp_256_per_s: number
  moleculer_tcp_256_p50_us: number
  moleculer_tcp_256_p99_us: number
  moleculer_tcp_1_per_s: number
  moleculer_tcp_1_p50_us: number
  moleculer_tcp_1_p99_us: number
  tcp_ask_256_vs_moleculer_ratio: number
  tcp_ask_256_vs_raw_ratio: number
  tcp_ask_1_p50_vs_raw_ratio: number
}

export function remoteRows(f: RemoteFigures, inFlight: number, moleculerNote: string | undefined): Row[] {
  const target = (text: string, met: boolean) => ({ text, met })
  const raw = (value: number) => ({ name: 'raw TCP echo', value })
  const mol = (value: number) => ({ name: moleculerNote ?? 'moleculer TCP', value })
  const many = `${inFlight} in flight`
  return [
    {
      figure: `ask, ${many}`,
      value: f.tcp_ask_256_per_s,
      unit: '/s',
      baseline: mol(f.moleculer_tcp_256_per_s),
      ratio: f.tcp_ask_256_vs_moleculer_ratio,
      target: target('>= 3x moleculer', f.tcp_ask_256_vs_moleculer_ratio >= 3),
    },
    {
      figure: `ask, ${many}`,
      value: f.tcp_ask_256_per_s,
      unit: '/s',
      baseline: raw(f.raw_tcp_256_per_s),
      ratio: f.tcp_ask_256_vs_raw_ratio,
      target: target('>= 0.20x raw', f.tcp_ask_256_vs_raw_ratio >= 0.2),
    },
    {
      figure: `ask p50, ${many}`,
      value: f.tcp_ask_256_p50_us,
      unit: 'µs',
      baseline: raw(f.raw_tcp_256_p50_us),
    },
    {
      figure: `ask p99, ${many}`,
      value: f.tcp_ask_256_p99_us,
      unit: 'µs',
      baseline: raw(f.raw_tcp_256_p99_us),
    },
    {
      figure: `ask p50, ${many}`,
      value: f.tcp_ask_256_p50_us,
      unit: 'µs',
      baseline: mol(f.moleculer_tcp_256_p50_us),
    },
    { figure: 'ask, 1 in flight', value: f.tcp_ask_1_per_s, unit: '/s', baseline: raw(f.raw_tcp_1_per_s) },
    {
      figure: 'ask p50, 1 in flight',
      value: f.tcp_ask_1_p50_us,
      unit: 'µs',
      baseline: raw(f.raw_tcp_1_p50_us),
      ratio: f.tcp_ask_1_p50_vs_raw_ratio,
      target: target('<= 2.5x raw p50', f.tcp_ask_1_p50_vs_raw_ratio <= 2.5),
    },
    {
      figure: 'ask p99, 1 in flight',
      value: f.tcp_ask_1_p99_us,
      unit: 'µs',
      baseline: raw(f.raw_tcp_1_p99_us),
    },
    {
      figure: 'ask p50, 1 in flight',
      value: f.tcp_ask_1_p50_us,
      unit: 'µs',
      baseline: mol(f.moleculer_tcp_1_p50_us),
    },
  ]
}
