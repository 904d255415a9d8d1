/**
 * A growable ring buffer: FIFO with O(1) push/shift and no allocation in steady state. Storage starts
 * empty and doubles on demand, so a million idle mailboxes cost a pointer each, not a preallocated array.
 */
export class Ring<T> {
  #items: (T | undefined)[] = EMPTY as (T | undefined)[]
  #head = 0
  #size = 0

  get size(): number {
    return this.#size
  }

  push(item: T): void {
    if (this.#size === this.#items.length) this.#grow()
    this.#items[(this.#head + this.#size) & (this.#items.length - 1)] = item
    this.#size++
  }

  shift(): T | undefined {
    if (this.#size === 0) return undefined
    const item = this.#items[this.#head]
    this.#items[this.#head] = undefined
    this.#head = (this.#head + 1) & (this.#items.length - 1)
    this.#size--
    return item
  }

  /** Removes everything, oldest first. */
  drain(): T[] {
    const out: T[] = []
    while (this.#size > 0) out.push(this.shift() as T)
    this.#items = EMPTY as (T | undefined)[]
    this.#head = 0
    return out
  }

  #grow(): void {
    const old = this.#items
    const next = new Array<T | undefined>(old.length === 0 ? 4 : old.length * 2)
    for (let i = 0; i < this.#size; i++) next[i] = old[(this.#head + i) & (old.length - 1)]
    this.#items = next
    this.#head = 0
  }
}

const EMPTY: readonly unknown[] = []
