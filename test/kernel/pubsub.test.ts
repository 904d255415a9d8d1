import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { eventually, MODES, sleep, withKernel } from '../helpers/kernels.ts'
import { recorder } from '../fixtures/actors.ts'
import { inbox, orders } from '../fixtures/pubsub.ts'
import { MemoryBroker } from '../../src/broker/memory.ts'
import { NatsBroker } from '../../src/broker/nats.ts'
import { startNatsServer } from '../helpers/nats-server.ts'
import { withCluster } from '../helpers/cluster.ts'
import type { DeadLetter } from '../../src/mailbox/dead-letters.ts'

for (const mode of MODES) {
  describe(`pubsub (${mode.name})`, () => {
    test('pubsub - a definition topic fans into the kind, with metadata', () =>
      withKernel(mode, async (kernel) => {
        const log = await kernel.spawn(recorder, 'log')
        await kernel.register(orders)
        await kernel.publish('orders.created', { id: 1 }, { metadata: { trace: 't1' } })
        await kernel.publish('orders.created', { id: 2 })
        await kernel.publish('audit.x.y', 'wildcard')
        await eventually(async () => (await log.ask('events')).length === 3)
        assert.deepEqual((await log.ask('events')).sort(), ['audit wildcard', 'order 1 t1', 'order 2 -'])
      }))

    test('pubsub - fan-out to every subscribed ref; a queue group shares the messages', () =>
      withKernel(mode, async (kernel) => {
        await kernel.register(inbox)
        const fans = Array.from({ length: 4 }, (_, i) => kernel.ref<typeof inbox>(`inbox/fan${i}`))
        for (const f of fans) await kernel.subscribe('news', f, { handler: 'take' })
        const group = Array.from({ length: 3 }, (_, i) => kernel.ref<typeof inbox>(`inbox/q${i}`))
        for (const g of group) await kernel.subscribe('jobs', g, { handler: 'take', queue: 'workers' })
        for (let i = 0; i < 3; i++) await kernel.publish('news', i)
        for (let i = 0; i < 30; i++) await kernel.publish('jobs', i)
        await eventually(async () =>
          (await Promise.all(fans.map((f) => f.ask('got')))).every((g) => g.length === 3),
        )
        await eventually(async () => (await Promise.all(group.map((g) => g.ask('got')))).flat().length === 30)
        const jobs = (await Promise.all(group.map((g) => g.ask('got')))).flat() as number[]
        assert.deepEqual(
          jobs.sort((a, b) => a - b),
          Array.from({ length: 30 }, (_, i) => i),
          'each job handled exactly once in the group',
        )
      }))

    test('pubsub - function subscribers, wildcards, and ctx.publish from an actor', () =>
      withKernel(mode, async (kernel) => {
        const seen: [string, unknown, string | undefined][] = []
        await kernel.subscribe('greetings.*', (msg, info) => {
          seen.push([info.topic, msg, info.metadata.from])
        })
        const sub = await kernel.subscribe('greetings.>', () => {
          seen.push(['deep', null, undefined])
        })
        await kernel.publish('greetings.en', 'hello')
        const o = await kernel.spawn(orders, 'x')
        assert.equal(await o.ask('announce', { topic: 'greetings.fr', value: 'bonjour' }), true)
        await eventually(() => seen.length === 4)
        assert.deepEqual(seen.filter((s) => s[0] !== 'deep').sort(), [
          ['greetings.en', 'hello', undefined],
          ['greetings.fr', 'bonjour', 'orders/x'],
        ])
        await sub.unsubscribe()
        await kernel.publish('greetings.de', 'hallo')
        await eventually(() => seen.length === 5)
        await sleep(20)
        assert.equal(seen.filter((s) => s[0] === 'deep').length, 2)
      }))

    test('pubsub - a failing subscriber or an undecodable body is a dead letter; the topic keeps flowing', () => {
      const broker = new MemoryBroker({ onError: () => {} })
      return withKernel(mode, { broker }, async (kernel) => {
        const letters: DeadLetter[] = []
        kernel.onDeadLetter((l) => letters.push(l))
        await kernel.register(inbox)
        const box = kernel.ref<typeof inbox>('inbox/dl')
        await kernel.subscribe('bad', box, { handler: 'fail' })
        await kernel.subscribe('raw', box, { handler: 'take' })
        await kernel.publish('bad', 1)
        await broker.publish('raw', { body: new Uint8Array([0xc1, 0x92]), contentType: 'application/json' })
        await kernel.publish('raw', 'fine')
        await eventually(() => letters.length === 2)
        assert.deepEqual(letters.map((l) => l.reason).sort(), ['decode-failed', 'handler-error'])
        await eventually(async () => (await box.ask('got')).includes('fine'))
      })
    })
  })
}

describe('pubsub across nodes (NATS broker)', () => {
  test('pubsub - a kind on two nodes handles each message once; a broadcast binding reaches every node', async () => {
    const server = await startNatsServer()
    try {
      await withCluster('memory', async (c) => {
        const broker = () => new NatsBroker({ servers: server.url, reconnectTimeWaitMs: 100 })
        const a = await c.node('a', { broker: broker() })
        const b = await c.node('b', { broker: broker() })
        const log = await a.spawn(recorder, 'log')
        await a.register(orders)
        await b.register(orders)
        for (let i = 0; i < 20; i++) await a.publish('orders.created', { id: i })
        await b.publish('audit.all', 'both')
        // 20 orders once each (queue group = the kind), the audit once per node (broadcast)
        await eventually(async () => (await log.ask('events')).length === 22, 5_000)
        const events = await log.ask('events')
        assert.equal(events.filter((e) => e.startsWith('order')).length, 20)
        assert.equal(new Set(events.filter((e) => e.startsWith('order'))).size, 20)
        assert.deepEqual(
          events.filter((e) => e.startsWith('audit')),
          ['audit both', 'audit both'],
        )
      })
    } finally {
      await server.close()
    }
  })
})
