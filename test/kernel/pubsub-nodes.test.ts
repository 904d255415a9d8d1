// Pubsub into actors on two nodes, through the brokers that cross processes: the embedded direct
// broker (over TCP) and NATS. Fan-out to N actors on both nodes, queue groups (each message handled
// once per group), wildcards, metadata and content type end to end, and a failing handler's message
// as a dead letter. Then JetStream: a handler that throws naks its message, which comes back until
// maxDeliver and then goes to the dead-letter subject (nothing is dead-lettered in the kernel).
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { connect, type Msg } from '@nats-io/transport-node'
import { DirectBroker } from '../../src/broker/direct.ts'
import { NatsBroker } from '../../src/broker/nats.ts'
import { JetStreamBroker, DEAD_HEADERS } from '../../src/broker/jetstream.ts'
import type { Broker } from '../../src/broker/broker.ts'
import type { Kernel } from '../../src/kernel/kernel.ts'
import { TcpTransport } from '../../src/transport/tcp.ts'
import type { DeadLetter } from '../../src/mailbox/dead-letters.ts'
import { RegistryView, withCluster, type Cluster } from '../helpers/cluster.ts'
import { eventually, sleep } from '../helpers/kernels.ts'
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts'
import { recorder } from '../fixtures/actors.ts'
import { inbox, poison } from '../fixtures/pubsub.ts'

const quiet = { warn: () => {} }
let server: NatsServer
before(async () => {
  server = await startNatsServer()
})
after(() => server.close())

const got = async (k: Kernel, address: string): Promise<unknown[]> =>
  (await k.ref<typeof inbox>(address).ask('got')) as unknown[]
const sorted = (xs: unknown[]): number[] => (xs as number[]).slice().sort((x, y) => x - y)
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i)

const brokers: Record<string, (c: Cluster) => Broker> = {
  direct: (c) =>
    new DirectBroker({
      registry: new RegistryView(c.registry),
      transport: new TcpTransport({ logger: quiet }),
      logger: quiet,
      retryMs: 10,
      retryMaxMs: 50,
    }),
  nats: () => new NatsBroker({ servers: server.url, reconnectTimeWaitMs: 100 }),
}

/** Publishes `topic` from `from` until `heard` holds: the subscriptions made before are routed. */
async function routed(from: Kernel, topic: string, heard: () => boolean | Promise<boolean>): Promise<void> {
  const until = Date.now() + 5_000
  while (!(await heard())) {
    if (Date.now() > until) assert.fail(`${topic} never reached its subscriber`)
    await from.publish(topic, 'probe')
    await sleep(30)
  }
}

for (const [name, make] of Object.entries(brokers)) {
  describe(`pubsub across two nodes (${name} broker)`, () => {
    const twoNodes = async (c: Cluster): Promise<[Kernel, Kernel]> => {
      const a = await c.node('a', { broker: make(c) })
      const b = await c.node('b', { broker: make(c) })
      for (const k of [a, b]) await k.register(inbox)
      return [a, b]
    }
    const probe = async (a: Kernel, b: Kernel): Promise<void> => {
      let heard = false
      await b.subscribe('probe.ready', () => void (heard = true))
      await routed(a, 'probe.ready', () => heard)
    }

    test(`${name} - fan-out to N actors on both nodes: each gets every message once`, () =>
      withCluster('tcp', async (c) => {
        const [a, b] = await twoNodes(c)
        const refs: [Kernel, string][] = [
          ...range(3).map((i): [Kernel, string] => [a, `inbox/a${i}@a`]),
          ...range(3).map((i): [Kernel, string] => [b, `inbox/b${i}@b`]),
        ]
        for (const [k, address] of refs) await k.subscribe('news.*', k.ref(address), { handler: 'take' })
        await probe(a, b)
        for (const i of range(10)) await a.publish('news.item', i)
        const items = async (address: string): Promise<unknown[]> =>
          (await got(a, address)).filter((m) => typeof m === 'number')
        await eventually(async () => {
          for (const [, address] of refs) if ((await items(address)).length < 10) return false
          return true
        }, 5_000)
        await sleep(50)
        for (const [, address] of refs) assert.deepEqual(sorted(await items(address)), range(10), address)
      }))

    test(`${name} - queue groups across nodes: each message handled exactly once per group`, () =>
      withCluster('tcp', async (c) => {
        const [a, b] = await twoNodes(c)
        const members = { g1: ['inbox/g1a@a', 'inbox/g1b@b'], g2: ['inbox/g2a@a', 'inbox/g2b@b'] }
        for (const [queue, addresses] of Object.entries(members)) {
          for (const address of addresses) {
            const k = address.endsWith('@a') ? a : b
            await k.subscribe('jobs.run', k.ref(address), { handler: 'take', queue })
          }
        }
        await probe(a, b)
        for (const i of range(40)) await a.publish('jobs.run', i)
        for (const addresses of Object.values(members)) {
          const union = async (): Promise<unknown[]> =>
            (await Promise.all(addresses.map((m) => got(a, m)))).flat()
          await eventually(async () => (await union()).length >= 40, 5_000)
          await sleep(50)
          assert.deepEqual(sorted(await union()), range(40), `${addresses.join(', ')}: once each`)
        }
      }))

    test(`${name} - wildcards, metadata and content type reach functions and actors on the other node`, () =>
      withCluster('tcp', async (c) => {
        const [a, b] = await twoNodes(c)
        const heard: { topic: string; msg: unknown; ct: string | undefined; md: Record<string, string> }[] =
          []
        await b.subscribe('orders.>', (msg, info) => {
          heard.push({ topic: info.topic, msg, ct: info.contentType, md: { ...info.metadata } })
        })
        await b.subscribe('orders.*', b.ref('inbox/m@b'), { handler: 'takeMeta' })
        await probe(a, b)
        const options = { contentType: 'application/json', metadata: { trace: 't-1' } }
        await a.publish('orders.created', { id: 7 }, options)
        await a.publish('orders.eu.paid', { id: 8 }, options)
        await eventually(() => heard.length === 2, 5_000)
        assert.deepEqual(heard.map((h) => h.topic).sort(), ['orders.created', 'orders.eu.paid'])
        for (const h of heard) {
          assert.equal(h.ct, 'application/json')
          assert.deepEqual(h.md, { trace: 't-1' })
        }
        // only orders.created matches orders.*; the JSON body decoded on b's side of the actor
        await eventually(async () => (await got(a, 'inbox/m@b')).length === 1, 5_000)
        await sleep(50)
        assert.deepEqual(await got(a, 'inbox/m@b'), [{ msg: { id: 7 }, md: { trace: 't-1' } }])
      }))

    test(`${name} - a failing handler's message is a dead letter on its node; the subscription goes on`, () =>
      withCluster('tcp', async (c) => {
        const [a, b] = await twoNodes(c)
        const letters: DeadLetter[] = []
        b.onDeadLetter((l) => letters.push(l))
        await b.subscribe('bad.one', b.ref('inbox/dl@b'), { handler: 'fail' })
        await b.subscribe('bad.two', b.ref('inbox/dl@b'), { handler: 'take' })
        await probe(a, b)
        await a.publish('bad.one', 1)
        await a.publish('bad.two', 2)
        await eventually(() => letters.some((l) => l.reason === 'handler-error'), 5_000)
        await eventually(async () => (await got(a, 'inbox/dl@b')).includes(2), 5_000)
      }))
  })
}

describe('pubsub across two nodes (JetStream broker)', () => {
  test('jetstream - a handler that throws naks: redelivered up to maxDeliver, then the dead-letter subject', async () => {
    const nc = await connect({ servers: server.url })
    const dead: Msg[] = []
    nc.subscribe('mica.dead.poison.in', { callback: (_e, m) => void dead.push(m) })
    await nc.flush()
    const maxDeliver = 3
    try {
      await withCluster('tcp', async (c) => {
        const js = () =>
          new JetStreamBroker({
            servers: server.url,
            maxDeliver,
            backoffMs: [20],
            ackWaitMs: 2_000,
            onError: () => {},
          })
        const a = await c.node('a', { broker: js() })
        const b = await c.node('b', { broker: js() })
        const letters: DeadLetter[] = []
        for (const k of [a, b]) k.onDeadLetter((l) => letters.push(l))
        const log = await a.spawn(recorder, 'log')
        await a.register(poison)
        await b.register(poison)
        await a.publish('poison.in', { n: 1, bad: true })
        await a.publish('poison.in', { n: 2 })
        await eventually(() => dead.length === 1, 10_000)
        assert.equal(dead[0]!.headers?.get(DEAD_HEADERS.deliveries), String(maxDeliver))
        assert.equal(dead[0]!.headers?.get(DEAD_HEADERS.topic), 'poison.in')
        assert.match(dead[0]!.headers?.get(DEAD_HEADERS.error) ?? '', /poison 1/)
        const runs = (await Promise.all([a.stats(), b.stats()]))
          .map((s) => s.handlers['poison.take']?.count ?? 0)
          .reduce((x, y) => x + y, 0)
        assert.equal(runs, maxDeliver + 1, 'the poison message ran maxDeliver times, the good one once')
        await eventually(async () => (await log.ask('events')).includes('took 2'), 5_000)
        assert.deepEqual(
          letters.filter((l) => l.reason === 'handler-error'),
          [],
          'nacked, not dead-lettered in the kernel',
        )
      })
    } finally {
      await nc.close()
    }
  })
})
