/**
 * The file journal's in-memory index: per persistence id, where each event's record lies, how far
 * `deleteTo` has gone, and how far appends in flight have reserved. Rebuilt from the segments on
 * start. `reserved` runs ahead of the stored events while an append waits for its fsync, so a second
 * writer is refused at once (it can never slip in between) while readers see only durable events.
 */

/** Where one record lies: segment number, byte offset of its header, total length. */
export interface Location {
  segment: number
  pos: number
  len: number
}

interface Stream {
  /** locations[i] is the record of seq i + 1. */
  locations: Location[]
  deletedTo: number
  reserved: number
}

export class StreamIndex {
  readonly #streams = new Map<string, Stream>()

  /** Highest durable sequence. */
  highest(id: string): number {
    return this.#streams.get(id)?.locations.length ?? 0
  }

  /** Highest sequence durable or promised to an append in flight. */
  reserved(id: string): number {
    return this.#streams.get(id)?.reserved ?? 0
  }

  deletedTo(id: string): number {
    return this.#streams.get(id)?.deletedTo ?? 0
  }

  reserve(id: string, count: number): void {
    this.#stream(id).reserved += count
  }

  /** Records a durable event; false when `seq` does not follow the highest (the caller decides why). */
  add(id: string, seq: number, location: Location): boolean {
    const stream = this.#stream(id)
    if (seq !== stream.locations.length + 1) return false
    stream.locations.push(location)
    stream.reserved = Math.max(stream.reserved, seq)
    return true
  }

  deleteTo(id: string, seq: number): void {
    const stream = this.#stream(id)
    stream.deletedTo = Math.max(stream.deletedTo, Math.min(seq, stream.locations.length))
  }

  /** The durable, undeleted events in [from, to], at most `max`, as { seq, location } in order. */
  range(id: string, from: number, to: number, max: number): { seq: number; location: Location }[] {
    const stream = this.#streams.get(id)
    if (!stream) return []
    const first = Math.max(from, stream.deletedTo + 1, 1)
    const last = Math.min(to, stream.locations.length, first + max - 1)
    const out: { seq: number; location: Location }[] = []
    for (let seq = first; seq <= last; seq++) out.push({ seq, location: stream.locations[seq - 1]! })
    return out
  }

  #stream(id: string): Stream {
    let stream = this.#streams.get(id)
    if (!stream) this.#streams.set(id, (stream = { locations: [], deletedTo: 0, reserved: 0 }))
    return stream
  }
}
