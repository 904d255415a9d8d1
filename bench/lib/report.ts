/** The bench's output: machine header, a table of figure | baseline | ratio | target, the JSON line. */
import os from 'node:os'

export interface Row {
  readonly figure: string
  readonly value: number
  readonly unit: string
  readonly baseline?: { readonly name: string; readonly value: number }
  /** Ratio shown (default value / baseline). */
  readonly ratio?: number
  readonly target?: { readonly text: string; readonly met: boolean }
}

export function machine(): { node: string; cpus: number; lines: string[] } {
  const cpus = os.cpus()
  const model = cpus[0]?.model.trim() ?? 'unknown cpu'
  return {
    node: process.version,
    cpus: cpus.length,
    lines: [
      `node ${process.version} on ${os.platform()}/${os.arch()}`,
      `cpus: ${cpus.length} x ${model}`,
      `memory: ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB total`,
    ],
  }
}

export function fmt(value: number, unit: string): string {
  if (Number.isNaN(value)) return 'n/a' // a figure that could not be measured
  if (!Number.isFinite(value)) return String(value)
  if (unit === '/s') return `${Math.round(value).toLocaleString('en-US')}/s`
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2
  return `${value.toFixed(digits)} ${unit}`
}

export function table(rows: readonly Row[]): string {
  const header = ['figure', 'value', 'baseline', 'ratio', 'target', '']
  const cells = rows.map((r) => {
    const ratio = r.ratio ?? (r.baseline === undefined ? undefined : r.value / r.baseline.value)
    return [
      r.figure,
      fmt(r.value, r.unit),
      r.baseline === undefined ? '' : `${r.baseline.name} ${fmt(r.baseline.value, r.unit)}`,
      ratio === undefined ? '' : Number.isNaN(ratio) ? 'n/a' : `${ratio.toFixed(2)}x`,
      r.target?.text ?? '',
      r.target === undefined ? '' : r.target.met ? 'PASS' : 'MISS',
    ]
  })
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)))
  const line = (c: string[]): string =>
    c
      .map((s, i) => (i === 1 || i === 3 ? s.padStart(widths[i]!) : s.padEnd(widths[i]!)))
      .join(' | ')
      .trimEnd()
  return [line(header), widths.map((w) => '-'.repeat(w)).join('-|-'), ...cells.map(line)].join('\n')
}

/** Each system's figures round by round (the table shows their medians), one line per figure. */
export function roundLines(
  names: readonly string[],
  measured: readonly { rounds: readonly { many: { perS: number }; one: { p50Us: number } }[] }[],
  inFlight: number,
): string[] {
  const lines = [`round by round (the table gives medians):`]
  for (const [i, m] of measured.entries()) {
    const rates = m.rounds.map((r) => fmt(r.many.perS, '/s')).join(' ')
    const p50s = m.rounds.map((r) => fmt(r.one.p50Us, 'µs')).join(', ')
    lines.push(`  ${names[i]}: ${inFlight} in flight ${rates}; 1 in flight p50 ${p50s}`)
  }
  return lines
}

/** Rounds figures for the JSON line: rates to integers, the rest to 3 significant decimals. */
export function jsonLine(bench: string, node: string, cpus: number, figures: Record<string, number>): string {
  const rounded: Record<string, number> = {}
  for (const [k, v] of Object.entries(figures)) {
    rounded[k] = k.endsWith('_per_s') ? Math.round(v) : Math.round(v * 1000) / 1000
  }
  return JSON.stringify({ bench, node, cpus, figures: rounded })
}
