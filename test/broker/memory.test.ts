// The memory broker: the contract, and what is particular to it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MemoryBroker } from '../../src/broker/memory.ts'
import { brokerContract, until } from './contract.ts'

brokerContract(
  'memory',
  async (options) => {
    const broker = new MemoryBroker(options)
    await broker.start()
    return { publisher: broker, subscriber: broker, stop: () => broker.stop() }
  },
  () => new MemoryBroker(),
)

test('memory - queue members take strict turns', async () => {
  const broker = new MemoryBroker()
  await broker.start()
  const counts = [0, 0, 0]
  for (const i of [0, 1, 2]) await broker.subscribe('t', () => void counts[i]!++, { queue: 'q' })
  for (let n = 0; n < 30; n++) await broker.publish('t', { body: new Uint8Array() })
  await until(() => counts.every((c) => c === 10), 'ten each')
  await broker.stop()
})

test('memory - publish never runs a handler inside its own call', async () => {
  const broker = new MemoryBroker()
  await broker.start()
  let ran = false
  await broker.subscribe('t', () => {
    ran = true
  })
  const pending = broker.publish('t', { body: new Uint8Array() })
  assert.equal(ran, false)
  await pending
  await until(() => ran, 'delivery')
  await broker.stop()
})

test('memory - two brokers share nothing', async () => {
  const a = new MemoryBroker()
  const b = new MemoryBroker()
  await Promise.all([a.start(), b.start()])
  let got = 0
  await b.subscribe('t', () => void got++)
  await a.publish('t', { body: new Uint8Array() })
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(got, 0)
  await Promise.all([a.stop(), b.stop()])
})
