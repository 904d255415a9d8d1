/**
 * A growable ring buffer: FIFO with O(1) push/shift and no allocation in steady state. A lone item
 * is held in a field; storage is made when a second item arrives, doubles on demand, and (while still
 * small) is dropped when the ring empties. Most mailboxes hold at most one message at a time, so a hundred thousand
 * live actors cost no array each, and one message at a time allocates nothing.
 */
export class Ring<T> {
  #items: (T | undefined)[] = EMPTY as (T | undefined)[]
  #head = 0
  #size = 0
  /** The only item while `#items` is empty. */
  #lone: T | undefined

  get size(): number {
    return this.#size
  }

  push(item: T): void {
    const items = this.#items
    if (items.length === 0) {
      if (this.#size === 0) {
        this.#lone = item
        this.#size = 1
        return
      }
      this.#spill()
    } else if (this.#size === items.length) this.#grow()
    this.#items[(this.#head + this.#size) & (this.#items.length - 1)] = item
    this.#size++
  }

  shift(): T | undefined {
    if (this.#size === 0) return undefined
    const items = this.#items
    if (items.length === 0) {
      const item = this.#lone
      this.#lone = undefined
      this.#size = 0
      return item
    }
    const item = items[this.#head]
    items[this.#head] = undefined
    this.#head = (this.#head + 1) & (items.length - 1)
    // Small storage goes with the last item; a ring that once needed more keeps it (a busy queue
    // would otherwise grow it again every burst).
    if (--this.#size === 0 && items.length === SMALL) {
      this.#items = EMPTY as (T | undefined)[]
      this.#head = 0
    }
    return item
  }

  /** Removes everything, oldest first. */
  drain(): T[] {
    const out: T[] = []
    while (this.#size > 0) out.push(this.shift() as T)
    return out
  }

  /** A second item arrived: the lone one moves into storage. */
  #spill(): void {
    this.#items = new Array<T | undefined>(SMALL)
    this.#items[0] = this.#lone
    this.#lone = undefined
    this.#head = 0
  }

  #grow(): void {
    const old = this.#items
    const next = new Array<T | undefined>(old.length * 2)
    for (let i = 0; i < this.#size; i++) next[i] = old[(this.#head + i) & (old.length - 1)]
    this.#items = next
    this.#head = 0
  }
}

const EMPTY: readonly unknown[] = []
const SMALL = 4
