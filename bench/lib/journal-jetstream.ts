/** jetstream_append_per_s and its raw baseline: filled in once the JetStream journal lands. */
export async function jetstreamFigures(): Promise<{ appendPerS: number; rawPerS: number; note?: string }> {
  return { appendPerS: NaN, rawPerS: NaN, note: 'jetstream journal: not built yet' }
}
