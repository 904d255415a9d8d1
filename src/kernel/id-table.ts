/**
 * IdTable: entries by integer correlation id (pending asks, waiting replies) — a `Map<number, T>`
 * without the Map's garbage behaviour under churn.
 *
 * Why not a Map: a V8 Map under constant set/delete rehashes every few hundred entries, and each
 * replaced table keeps a pointer to its successor (for live iterators). Once one table has reached
 * the old generation, every later table, and every entry it held, is reachable from old garbage
 * until the next mark-compact, so scavenges copy and promote all of it: node A of bench:remote
 * promoted 3 MB per scavenge (scavenges of 10 ms, a mark-compact every 0.6 s) with only 256 asks in
 * flight; with this table it promotes next to nothing.
 *
 * Layout: open addressing with linear probing over a power-of-two array, keys in a Float64Array (no
 * pointers for the GC to trace). Ids are scattered by Fibonacci hashing: ids in sequence at their
 * own slots would make one run as long as the asks in flight, and a delete walks to the end of its
 * run. A delete shifts the rest of its run back (no tombstones) and clears the value slot, so the
 * table never holds a settled entry. It grows at half full; a large one shrinks at a sixteenth.
 */

/** The key of an empty slot (ids are integers >= 0). */
const EMPTY = -1
const MIN_CAPACITY = 64
/**
 * Only a table this large shrinks (to half, when under a sixteenth full): the number of asks in
 * flight swings between none and hundreds from one tick to the next, and a table that followed it
 * rebuilt itself all the time (8% of node A's main thread in bench:nats).
 */
const SHRINK_FROM = 16_384

export class IdTable<T> {
  #keys: Float64Array
  #values: (T | undefined)[]
  #mask: number
  /** `32 - log2(capacity)`: a hash's top bits pick the slot. */
  #shift: number
  #size = 0

  constructor(capacity = MIN_CAPACITY) {
    const cap = powerOfTwo(Math.max(MIN_CAPACITY, capacity))
    this.#keys = new Float64Array(cap).fill(EMPTY)
    this.#values = new Array<T | undefined>(cap).fill(undefined)
    this.#mask = cap - 1
    this.#shift = 32 - Math.log2(cap)
  }

  get size(): number {
    return this.#size
  }

  /** Slots allocated (for stats and tests). */
  get capacity(): number {
    return this.#keys.length
  }

  get(id: number): T | undefined {
    if (!(id >= 0)) return undefined
    const keys = this.#keys
    const mask = this.#mask
    for (let i = slotOf(id, this.#shift); ; i = (i + 1) & mask) {
      const k = keys[i]!
      if (k === id) return this.#values[i]
      if (k === EMPTY) return undefined
    }
  }

  /** Adds or replaces the entry of `id` (an integer >= 0; `value` not undefined). */
  set(id: number, value: T): void {
    if (!(Number.isInteger(id) && id >= 0)) throw new RangeError(`IdTable: bad id ${id}`)
    const keys = this.#keys
    const mask = this.#mask
    let i = slotOf(id, this.#shift)
    for (; keys[i] !== EMPTY; i = (i + 1) & mask) {
      if (keys[i] === id) {
        this.#values[i] = value
        return
      }
    }
    keys[i] = id
    this.#values[i] = value
    if (++this.#size * 2 > keys.length) this.#resize(keys.length * 2)
  }

  delete(id: number): boolean {
    if (!(id >= 0)) return false // never stored; and -1 marks an empty slot
    const keys = this.#keys
    const values = this.#values
    const mask = this.#mask
    const shift = this.#shift
    let i = slotOf(id, shift)
    for (; ; i = (i + 1) & mask) {
      const k = keys[i]!
      if (k === id) break
      if (k === EMPTY) return false
    }
    // backward shift: each later entry of the run moves into the hole unless its home slot lies
    // cyclically in (hole, its slot], where a lookup would no longer reach it across the hole
    for (let j = (i + 1) & mask; keys[j] !== EMPTY; j = (j + 1) & mask) {
      const home = slotOf(keys[j]!, shift)
      const stays = i <= j ? i < home && home <= j : i < home || home <= j
      if (stays) continue
      keys[i] = keys[j]!
      values[i] = values[j]
      i = j
    }
    keys[i] = EMPTY
    values[i] = undefined
    if (--this.#size * 16 < keys.length && keys.length >= SHRINK_FROM) this.#resize(keys.length / 2)
    return true
  }

  /** The entries now, as a fresh array (safe to walk while entries are deleted). */
  entries(): [number, T][] {
    const out: [number, T][] = []
    const keys = this.#keys
    for (let i = 0; i < keys.length; i++) if (keys[i] !== EMPTY) out.push([keys[i]!, this.#values[i]!])
    return out
  }

  /** Removes the entries whose value matches and returns them, in id order. */
  takeWhere(match: (value: T) => boolean): [number, T][] {
    const out: [number, T][] = []
    const keys = this.#keys
    for (let i = 0; i < keys.length; i++) {
      if (keys[i] !== EMPTY && match(this.#values[i]!)) out.push([keys[i]!, this.#values[i]!])
    }
    for (const [id] of out) this.delete(id)
    return out.sort((a, b) => a[0] - b[0])
  }

  /** The values now, as a fresh array. */
  values(): T[] {
    const out: T[] = []
    const keys = this.#keys
    for (let i = 0; i < keys.length; i++) if (keys[i] !== EMPTY) out.push(this.#values[i]!)
    return out
  }

  clear(): void {
    this.#keys.fill(EMPTY)
    this.#values.fill(undefined)
    this.#size = 0
  }

  #resize(capacity: number): void {
    const oldKeys = this.#keys
    const oldValues = this.#values
    this.#keys = new Float64Array(capacity).fill(EMPTY)
    this.#values = new Array<T | undefined>(capacity).fill(undefined)
    this.#mask = capacity - 1
    this.#shift = 32 - Math.log2(capacity)
    const keys = this.#keys
    const mask = this.#mask
    for (let s = 0; s < oldKeys.length; s++) {
      const id = oldKeys[s]!
      if (id === EMPTY) continue
      let i = slotOf(id, this.#shift)
      while (keys[i] !== EMPTY) i = (i + 1) & mask
      keys[i] = id
      this.#values[i] = oldValues[s]
    }
    // the replaced array may already be old: emptied, it cannot keep young entries alive
    oldValues.fill(undefined)
  }
}

/** Fibonacci hashing of the id's low 32 bits (any number maps to some slot: lookups of bad ids miss). */
function slotOf(id: number, shift: number): number {
  return Math.imul(id | 0, 0x9e3779b1) >>> shift
}

function powerOfTwo(n: number): number {
  let p = 1
  while (p < n) p *= 2
  return p
}
