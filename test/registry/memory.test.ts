// The memory registry: the contract on a manual clock, and what is particular to it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MemoryRegistry } from '../../src/registry/memory.ts'
import { ManualClock } from '../helpers/manual-clock.ts'
import { manualClockHarness, record, registryContract } from './contract.ts'

registryContract(
  'memory',
  manualClockHarness((clock) => new MemoryRegistry({ clock })),
)

test('memory - two registries share nothing', async () => {
  const a = new MemoryRegistry()
  const b = new MemoryRegistry()
  await Promise.all([a.start(), b.start()])
  await a.register(record('greeter', 'n1'))
  assert.equal((await a.getService('greeter')).length, 1)
  assert.deepEqual(await b.getService('greeter'), [])
  await Promise.all([a.stop(), b.stop()])
})

test('memory - a merged record takes metadata and endpoints from the latest change', async () => {
  const registry = new MemoryRegistry()
  await registry.start()
  await registry.register(record('greeter', 'n1', { metadata: { from: 'n1' } }))
  await registry.register(record('greeter', 'n2', { metadata: { from: 'n2' }, endpoints: [] }))
  await registry.register(record('greeter', 'n1', { metadata: { from: 'n1' } })) // identical: keeps its place
  const [merged] = await registry.getService('greeter')
  assert.deepEqual(merged!.metadata, { from: 'n2' })
  assert.deepEqual(merged!.endpoints, [])
  assert.equal(merged!.nodes.length, 2)
  await registry.stop()
})

test('memory - a TTL refresh moves the expiry, and only the newest TTL counts', async () => {
  const clock = new ManualClock(1_000_000)
  const registry = new MemoryRegistry({ clock })
  await registry.start()
  await registry.register(record('greeter', 'n1'), { ttlMs: 1000 })
  clock.advance(900)
  await registry.register(record('greeter', 'n1')) // no TTL now: lives until deregistered
  clock.advance(10_000)
  assert.equal((await registry.getService('greeter')).length, 1)
  assert.equal(clock.pending, 0)
  await registry.stop()
})

test('memory - using a registry before start is refused as unavailable', async () => {
  const registry = new MemoryRegistry()
  await assert.rejects(registry.getService('greeter'), { code: 'unavailable', status: 503 })
  await registry.stop()
  await assert.rejects(registry.start(), { code: 'unavailable' })
})

test('memory - a node address may be nats:<token> (the NATS transport); a malformed one is refused', async () => {
  const registry = new MemoryRegistry()
  await registry.start()
  const at = (address: string) => {
    const r = record('greeter', 'n1')
    return { ...r, nodes: [{ ...r.nodes[0]!, address }] }
  }
  await registry.register(at('nats:Ab_9-x'))
  assert.equal((await registry.getService('greeter'))[0]!.nodes[0]!.address, 'nats:Ab_9-x')
  for (const bad of ['nats:', 'nats:a.b', 'nats:a*', `nats:${'x'.repeat(65)}`, 'nats://h:4222']) {
    await assert.rejects(
      registry.register(at(bad)),
      /address must be host:port, \[ipv6\]:port or nats:<token>/,
    )
  }
  await registry.stop()
})
