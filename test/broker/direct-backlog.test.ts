// The direct broker's in-flight table: expiry in send order, stopping at the first entry not yet due,
// skipping what was acknowledged; a failed node's entries taken out oldest first.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { InFlight, type Pending } from '../../src/broker/direct-backlog.ts'

const pending = (node: string, n: number): Pending => ({
  message: { topic: 't', body: new Uint8Array([n]), metadata: {} },
  node,
  broadcast: true,
  queues: [],
  attempt: 1,
  firstAt: 0,
})

describe('direct broker in flight', () => {
  test('in flight - expiry takes the overdue entries oldest first and skips acknowledged ones', () => {
    const table = new InFlight()
    for (let id = 1; id <= 6; id++) table.add(id, pending('a', id), 100 + id * 10)
    assert.equal(table.take(2)?.node, 'a') // acknowledged
    assert.equal(table.take(2), undefined)
    const first = table.takeExpired(135).map((p) => p.message.body[0])
    assert.deepEqual(first, [1, 3])
    assert.deepEqual(table.takeExpired(135), [])
    assert.equal(table.take(5)?.node, 'a')
    assert.deepEqual(
      table.takeExpired(1_000).map((p) => p.message.body[0]),
      [4, 6],
    )
    assert.equal(table.size, 0)
    // ids after a clear are still expired in order
    table.add(7, pending('a', 7), 10)
    table.clear()
    table.add(8, pending('a', 8), 20)
    assert.deepEqual(
      table.takeExpired(30).map((p) => p.message.body[0]),
      [8],
    )
  })

  test('in flight - a failed node: its entries leave oldest first, the others stay', () => {
    const table = new InFlight()
    for (let id = 1; id <= 6; id++) table.add(id, pending(id % 2 === 0 ? 'b' : 'a', id), 1_000)
    assert.deepEqual(
      table.takeNodes(new Set(['b'])).map((p) => p.message.body[0]),
      [2, 4, 6],
    )
    assert.equal(table.size, 3)
    assert.deepEqual(
      table.takeExpired(1_000).map((p) => p.message.body[0]),
      [1, 3, 5],
    )
  })
})
