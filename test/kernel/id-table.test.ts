// IdTable: the correlation table of pending asks. Checked against a Map under random churn, and for
// what it is for: no rehash chain that keeps settled entries alive.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { IdTable } from '../../src/kernel/id-table.ts'
import { seeded } from '../helpers/seeded.ts'

describe('id table', () => {
  test('id table - set, get, replace, delete', () => {
    const table = new IdTable<string>()
    assert.equal(table.get(1), undefined)
    assert.equal(table.delete(1), false)
    table.set(1, 'a')
    table.set(2, 'b')
    table.set(1, 'c')
    assert.equal(table.size, 2)
    assert.equal(table.get(1), 'c')
    assert.equal(table.get(2), 'b')
    assert.equal(table.delete(1), true)
    assert.equal(table.delete(1), false)
    assert.equal(table.get(1), undefined)
    assert.deepEqual(table.entries(), [[2, 'b']])
    table.clear()
    assert.equal(table.size, 0)
    assert.equal(table.get(2), undefined)
  })

  test('id table - a full small table: runs of colliding slots, wrapping around, deleted in any order', () => {
    // 32 ids in 64 slots (the most before it grows): runs of collisions and wrap-arounds are certain
    for (let seed = 1; seed <= 200; seed++) {
      const random = seeded(seed)
      const table = new IdTable<number>(64)
      const ids = new Set<number>()
      while (ids.size < 32) ids.add(Math.floor(random() * 1_000_000))
      for (const id of ids) table.set(id, id + 1)
      assert.equal(table.capacity, 64)
      const order = [...ids].sort(() => random() - 0.5)
      for (let k = 0; k < order.length; k++) {
        assert.equal(table.delete(order[k]!), true)
        for (const id of order.slice(k + 1)) assert.equal(table.get(id), id + 1, `seed ${seed} id ${id}`)
        assert.equal(table.get(order[k]!), undefined)
      }
      assert.equal(table.size, 0)
    }
  })

  test('id table - random churn agrees with a Map (grows and shrinks)', () => {
    const random = seeded(7)
    const table = new IdTable<number>()
    const map = new Map<number, number>()
    let next = 0
    for (let step = 0; step < 60_000; step++) {
      const r = random()
      // phases: fill up to thousands of entries, then drain, so the table resizes both ways
      const growing = Math.floor(step / 15_000) % 2 === 0
      if (r < (growing ? 0.6 : 0.3) || map.size === 0) {
        const id = random() < 0.1 ? Math.floor(random() * next) : next++
        table.set(id, step)
        map.set(id, step)
      } else {
        const keys = [...map.keys()]
        const id = random() < 0.9 ? keys[Math.floor(random() * keys.length)]! : next + 5
        assert.equal(table.delete(id), map.delete(id))
      }
      if (step % 997 === 0) {
        assert.equal(table.size, map.size)
        for (const [id, v] of map) assert.equal(table.get(id), v)
        assert.deepEqual(
          table.entries().sort((a, b) => a[0] - b[0]),
          [...map].sort((a, b) => a[0] - b[0]),
        )
      }
    }
  })

  test('id table - a large table shrinks once mostly empty, and keeps every entry', () => {
    const random = seeded(11)
    const table = new IdTable<number>()
    const live = new Set<number>()
    for (let id = 0; id < 40_000; id++) {
      table.set(id, id)
      live.add(id)
    }
    const full = table.capacity
    assert.ok(full >= 80_000, `capacity ${full} for 40,000 entries`)
    // delete in random order down to 100 entries: the table halves several times on the way
    const order = [...live].sort(() => random() - 0.5)
    for (const id of order.slice(0, 39_900)) {
      assert.equal(table.delete(id), true)
      live.delete(id)
    }
    assert.equal(table.size, 100)
    assert.ok(table.capacity < full / 4, `capacity ${table.capacity} after shrinking from ${full}`)
    for (const id of live) assert.equal(table.get(id), id)
    for (const id of order.slice(0, 50)) assert.equal(table.get(id), undefined)
  })

  test('id table - asks in flight swinging between none and hundreds do not resize it', () => {
    const table = new IdTable<number>()
    let id = 0
    const wave = (): void => {
      const first = id
      for (let i = 0; i < 300; i++) table.set(id, id++)
      for (let i = first; i < id; i++) table.delete(i)
    }
    wave()
    const capacity = table.capacity
    for (let round = 0; round < 50; round++) wave()
    assert.equal(table.capacity, capacity)
    assert.equal(table.size, 0)
  })

  test('id table - takeWhere removes the matching entries and returns them in id order', () => {
    const table = new IdTable<{ due: number }>()
    for (let id = 100; id > 0; id--) table.set(id, { due: id % 10 })
    const taken = table.takeWhere((v) => v.due < 3)
    assert.deepEqual(
      taken.map(([id]) => id),
      Array.from({ length: 100 }, (_, i) => i + 1).filter((id) => id % 10 < 3),
    )
    assert.equal(table.size, 70)
    for (const [id] of taken) assert.equal(table.get(id), undefined)
    for (let id = 1; id <= 100; id++) if (id % 10 >= 3) assert.deepEqual(table.get(id), { due: id % 10 })
  })

  test('id table - large ids (beyond 32 bits) work', () => {
    const table = new IdTable<string>()
    const base = 2 ** 40
    for (let i = 0; i < 200; i++) table.set(base + i, `v${i}`)
    for (let i = 0; i < 200; i += 2) assert.equal(table.delete(base + i), true)
    for (let i = 1; i < 200; i += 2) assert.equal(table.get(base + i), `v${i}`)
    assert.equal(table.size, 100)
  })

  test('id table - refuses ids that are not integers >= 0', () => {
    const table = new IdTable<string>()
    for (const bad of [-1, 1.5, NaN, Infinity]) assert.throws(() => table.set(bad, 'x'), RangeError)
    // a lookup of a bad id (from a frame of another node) finds nothing, and does not throw
    table.set(3, 'three')
    for (const bad of [-1, 1.5, NaN, Infinity]) {
      assert.equal(table.get(bad), undefined)
      assert.equal(table.delete(bad), false)
    }
    assert.equal(table.size, 1)
    assert.equal(table.get(3), 'three')
  })

  test('id table - deleted entries are released: nothing settled is kept reachable', async () => {
    const table = new IdTable<object>()
    let released = 0
    const registry = new FinalizationRegistry(() => released++)
    // in a function of its own: a suspended async frame may still hold the last entry it made
    const churn = (): void => {
      for (let id = 0; id < 1_000; id++) {
        const entry = {}
        registry.register(entry, id)
        table.set(id, entry)
        if (id >= 8) table.delete(id - 8)
      }
      for (let id = 992; id < 1_000; id++) table.delete(id)
    }
    churn()
    assert.equal(table.size, 0)
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    for (let i = 0; i < 50 && released < 1_000; i++) {
      gc()
      await new Promise((resolve) => setTimeout(resolve, 1))
    }
    assert.equal(released, 1_000)
  })
})
