/**
 * The file journal's in-memory index: per persistence id, where each event's record lies, how far
 * `deleteTo` has gone, and how far appends in flight have reserved. Rebuilt from the segments on
 * start. `reserved` runs ahead of the stored events while an append waits for its fsync, so a second
 * writer is refused at once (it can never slip in between) while readers see only durable events.
 *
 * Memory is what bounds how many ids one process can hold (a million actors are a million streams),
 * so each stream is one flat number array, `[deletedTo, reserved, segment1, pos1, len1, segment2, …]`,
 * with no object per event: about 170 bytes per id with one event (key and map entry included)
 * instead of 360.
 */

/** Where one record lies: segment number, byte offset of its header, total length. */
export interface Location {
  segment: number
  pos: number
  len: number
}

const DELETED_TO = 0
const RESERVED = 1
const FIRST = 2
const WIDTH = 3

export class StreamIndex {
  readonly #streams = new Map<string, number[]>()

  /** Highest durable sequence. */
  highest(id: string): number {
    const s = this.#streams.get(id)
    return s === undefined ? 0 : (s.length - FIRST) / WIDTH
  }

  /** Highest sequence durable or promised to an append in flight. */
  reserved(id: string): number {
    return this.#streams.get(id)?.[RESERVED] ?? 0
  }

  deletedTo(id: string): number {
    return this.#streams.get(id)?.[DELETED_TO] ?? 0
  }

  reserve(id: string, count: number): void {
    const s = this.#stream(id)
    s[RESERVED] = s[RESERVED]! + count
  }

  /** Records a durable event; false when `seq` does not follow the highest (the caller decides why). */
  add(id: string, seq: number, location: Location): boolean {
    let s = this.#stream(id)
    if (seq !== (s.length - FIRST) / WIDTH + 1) return false
    if (s.length === FIRST) {
      // most streams hold few events: an exact-size literal, not push's growth (19 slots for 5)
      s = [s[DELETED_TO]!, s[RESERVED]!, location.segment, location.pos, location.len]
      this.#streams.set(id, s)
    } else s.push(location.segment, location.pos, location.len)
    if (s[RESERVED]! < seq) s[RESERVED] = seq
    return true
  }

  deleteTo(id: string, seq: number): void {
    const s = this.#stream(id)
    s[DELETED_TO] = Math.max(s[DELETED_TO]!, Math.min(seq, (s.length - FIRST) / WIDTH))
  }

  /** The durable, undeleted events in [from, to], at most `max`, as { seq, location } in order. */
  range(id: string, from: number, to: number, max: number): { seq: number; location: Location }[] {
    const s = this.#streams.get(id)
    if (!s) return []
    const first = Math.max(from, s[DELETED_TO]! + 1, 1)
    const last = Math.min(to, (s.length - FIRST) / WIDTH, first + max - 1)
    const out: { seq: number; location: Location }[] = []
    for (let seq = first; seq <= last; seq++) {
      const at = FIRST + (seq - 1) * WIDTH
      out.push({ seq, location: { segment: s[at]!, pos: s[at + 1]!, len: s[at + 2]! } })
    }
    return out
  }

  #stream(id: string): number[] {
    let s = this.#streams.get(id)
    if (!s) this.#streams.set(id, (s = [0, 0]))
    return s
  }
}
