// The direct broker: the shared contract between two brokers (publisher and subscriber nodes sharing
// a MemoryRegistry and a MemoryNetwork), then what only a broker without a server shows: several
// nodes, queue groups spread across nodes, retries and the backlog bound, bad frames, real TCP.
//
// One adaptation of the contract: a remote publisher sees a subscription once its registry watch
// event arrives, not when `subscribe` resolves on the other node (documented in direct.ts). The
// harness's subscriber therefore resolves `subscribe` once the publisher's table holds it, which is
// what "live" means for a pair of nodes; everything else runs unchanged.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Broker, BrokerBaseOptions, BrokerMessage } from '../../src/broker/broker.ts'
import { DirectBroker, type DirectBrokerOptions } from '../../src/broker/direct.ts'
import { MemoryRegistry } from '../../src/registry/memory.ts'
import { MemoryNetwork, MemoryTransport } from '../../src/transport/memory.ts'
import { TcpTransport } from '../../src/transport/tcp.ts'
import { BadRequestError } from '../../src/errors.ts'
import type { Envelope, Transport } from '../../src/transport/transport.ts'
import { ManualClock } from '../helpers/manual-clock.ts'
import { brokerContract, until } from './contract.ts'

const quiet = { warn: () => {} }
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
const text = (b: Uint8Array): string => new TextDecoder().decode(b)

/** A registry, a network, and direct brokers on them; `stop` ends all of it. */
function cluster() {
  const registry = new MemoryRegistry()
  void registry.start()
  const network = new MemoryNetwork()
  const brokers: DirectBroker[] = []
  const make = (options: Partial<DirectBrokerOptions> = {}): DirectBroker => {
    const broker = new DirectBroker({
      registry,
      transport: new MemoryTransport({ network, logger: quiet }),
      listen: 'mem:0',
      logger: quiet,
      retryMs: 10,
      retryMaxMs: 50,
      ackTimeoutMs: 1000,
      ...options,
    })
    brokers.push(broker)
    return broker
  }
  return {
    registry,
    network,
    make,
    async start(n: number, options: Partial<DirectBrokerOptions> = {}): Promise<DirectBroker[]> {
      const list = Array.from({ length: n }, () => make(options))
      await Promise.all(list.map((b) => b.start()))
      return list
    },
    async stop(): Promise<void> {
      await Promise.all(brokers.map((b) => b.stop()))
      await registry.stop()
    },
  }
}

/** Until every broker of `publishers` knows `node`'s subscription to `topic` (and `queue`). */
async function known(publishers: DirectBroker[], node: DirectBroker, topic: string, queue?: string) {
  const has = (p: DirectBroker) =>
    p.subscriptionsOf(node.nodeId).some((s) => s.topic === topic && s.queue === queue)
  await until(() => publishers.every(has), `${topic} known to every publisher`)
}

/** The subscriber as the contract sees it: subscribe resolves once the publisher routes to it. */
function seenBy(subscriber: DirectBroker, publisher: DirectBroker): Broker {
  return {
    name: subscriber.name,
    get handlerErrors() {
      return subscriber.handlerErrors
    },
    start: () => subscriber.start(),
    stop: () => subscriber.stop(),
    publish: (topic, message) => subscriber.publish(topic, message),
    async subscribe(topic, handler, options) {
      const sub = await subscriber.subscribe(topic, handler, options)
      await known([publisher], subscriber, topic, options?.queue)
      return sub
    },
  }
}

brokerContract(
  'direct',
  async (options?: BrokerBaseOptions) => {
    const c = cluster()
    const [publisher, subscriber] = await c.start(2, options)
    return { publisher: publisher!, subscriber: seenBy(subscriber!, publisher!), stop: () => c.stop() }
  },
  () => {
    const registry = new MemoryRegistry()
    void registry.start()
    const transport = new MemoryTransport({ network: new MemoryNetwork(), logger: quiet })
    return new DirectBroker({ registry, transport, listen: 'mem:0', logger: quiet })
  },
)

async function withCluster(body: (c: ReturnType<typeof cluster>) => Promise<void>): Promise<void> {
  const c = cluster()
  try {
    await body(c)
  } finally {
    await c.stop()
  }
}

test('direct - broadcast across three nodes: every subscriber gets every message', async () => {
  await withCluster(async (c) => {
    const nodes = await c.start(3)
    const got = nodes.map(() => [] as string[])
    for (const [i, node] of nodes.entries()) {
      await node.subscribe('news.>', (m) => void got[i]!.push(text(m.body)))
      await known(
        nodes.filter((n) => n !== node),
        node,
        'news.>',
      )
    }
    const sent: string[] = []
    for (let i = 0; i < 30; i++) {
      const s = `${i % 3}:${i}`
      sent.push(s)
      await nodes[i % 3]!.publish(`news.n${i}`, { body: bytes(s) })
    }
    await until(() => got.every((g) => g.length === 30), 'every message on every node')
    for (const g of got) assert.deepEqual([...g].sort(), [...sent].sort())
    // one publisher's messages arrive in order at each node
    for (const g of got)
      assert.deepEqual(
        g.filter((s) => s.startsWith('1:')),
        sent.filter((s) => s.startsWith('1:')),
      )
  })
})

test('direct - a queue group across nodes handles each message once, spread over the nodes', async () => {
  await withCluster(async (c) => {
    const [publisher, ...workers] = await c.start(4)
    const handled = workers.map(() => [] as number[])
    for (const [i, w] of workers.entries()) {
      await w.subscribe('jobs.*', (m) => void handled[i]!.push(Number(m.metadata.seq)), { queue: 'workers' })
      await known([publisher!], w, 'jobs.*', 'workers')
    }
    // the publisher is a member too: its share is served in-process
    const own: number[] = []
    await publisher!.subscribe('jobs.run', (m) => void own.push(Number(m.metadata.seq)), { queue: 'workers' })
    const total = 200
    for (let i = 0; i < total; i++) {
      await publisher!.publish('jobs.run', { body: new Uint8Array(), metadata: { seq: String(i) } })
    }
    const all = () => [...handled.flat(), ...own]
    await until(() => all().length >= total, 'every job')
    await new Promise((resolve) => setTimeout(resolve, 50))
    assert.equal(all().length, total, 'no job handled twice')
    assert.equal(new Set(all()).size, total)
    for (const h of [...handled, own])
      assert.ok(h.length >= total / 8, `uneven: ${handled.map((x) => x.length)} ${own.length}`)
  })
})

test('direct - wildcards, content type and metadata travel between nodes', async () => {
  await withCluster(async (c) => {
    const [a, b] = await c.start(2)
    const got = new Map<string, BrokerMessage[]>()
    for (const pattern of ['orders.*', 'orders.>', 'orders.*.paid', '>']) {
      got.set(pattern, [])
      await b!.subscribe(pattern, (m) => void got.get(pattern)!.push(m))
      await known([a!], b!, pattern)
    }
    const metadata = { trace: 'x-1', 'note.k': 'ünï code\r\n' }
    await a!.publish('orders.eu', { body: bytes('{"n":1}'), contentType: 'application/json', metadata })
    await a!.publish('orders.eu.paid', { body: bytes('p') })
    await a!.publish('other', { body: bytes('o') })
    await until(() => got.get('>')!.length === 3, 'three messages on >')
    assert.deepEqual(
      got.get('orders.*')!.map((m) => m.topic),
      ['orders.eu'],
    )
    assert.deepEqual(
      got.get('orders.>')!.map((m) => m.topic),
      ['orders.eu', 'orders.eu.paid'],
    )
    assert.deepEqual(
      got.get('orders.*.paid')!.map((m) => m.topic),
      ['orders.eu.paid'],
    )
    const first = got.get('orders.*')![0]!
    assert.equal(first.contentType, 'application/json')
    assert.deepEqual(first.metadata, metadata)
    assert.equal(text(first.body), '{"n":1}')
    assert.deepEqual(got.get('>')![2], { topic: 'other', body: bytes('o'), metadata: {} })
  })
})

test('direct - a queue member whose transport stops: its share goes to another member', async () => {
  await withCluster(async (c) => {
    const transports: Transport[] = []
    const make = () => {
      const t = new MemoryTransport({ network: c.network, logger: quiet })
      transports.push(t)
      return c.make({ transport: t })
    }
    const [publisher, b, d] = [make(), make(), make()]
    await Promise.all([publisher, b, d].map((x) => x.start()))
    const seen = { b: [] as number[], d: [] as number[] }
    await b.subscribe('work', (m) => void seen.b.push(Number(m.metadata.seq)), { queue: 'q' })
    await d.subscribe('work', (m) => void seen.d.push(Number(m.metadata.seq)), { queue: 'q' })
    await known([publisher], b, 'work', 'q')
    await known([publisher], d, 'work', 'q')
    await transports[1]!.stop() // b's node loses its network; its record stays in the registry
    const total = 40
    for (let i = 0; i < total; i++)
      await publisher.publish('work', { body: new Uint8Array(), metadata: { seq: String(i) } })
    await until(() => seen.d.length === total, 'every message at d', 5000)
    assert.deepEqual(seen.b, [])
    assert.deepEqual(
      [...seen.d].sort((x, y) => x - y),
      Array.from({ length: total }, (_, i) => i),
    )
    assert.equal(publisher.dropped, 0)
    await until(() => publisher.pending === 0, 'nothing pending')
  })
})

/** A transport whose node can be cut off: while cut, every inbound connection is closed on its first frame. */
class Cuttable extends MemoryTransport {
  cut = false
  override onEnvelope(handler: Parameters<Transport['onEnvelope']>[0]): () => void {
    return super.onEnvelope((env, peer) => {
      if (this.cut && peer.inbound) peer.close('cut')
      else handler(env, peer)
    })
  }
}

test('direct - messages for a node that is cut off wait in the backlog and arrive once it is back', async () => {
  await withCluster(async (c) => {
    const cuttable = new Cuttable({ network: c.network, logger: quiet })
    const publisher = c.make({ maxAttempts: 1000, maxAgeMs: 60_000 })
    const sub = c.make({ transport: cuttable })
    await Promise.all([publisher.start(), sub.start()])
    const got: number[] = []
    await sub.subscribe('t', (m) => void got.push(Number(m.metadata.seq)))
    await known([publisher], sub, 't')
    cuttable.cut = true
    for (let i = 0; i < 10; i++)
      await publisher.publish('t', { body: new Uint8Array(), metadata: { seq: String(i) } })
    await until(() => publisher.pending === 10, 'ten pending')
    await new Promise((resolve) => setTimeout(resolve, 100))
    assert.deepEqual(got, [])
    cuttable.cut = false
    await until(() => got.length === 10, 'all ten after the cut', 5000)
    assert.deepEqual(
      [...got].sort((x, y) => x - y),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    )
    assert.equal(publisher.dropped, 0)
  })
})

test('direct - the backlog is bounded: the oldest messages are dropped and counted', async () => {
  await withCluster(async (c) => {
    const cuttable = new Cuttable({ network: c.network, logger: quiet })
    const drops: string[] = []
    const publisher = c.make({
      backlog: 3,
      maxAttempts: 1000,
      onDrop: (m) => void drops.push(m.metadata.seq!),
    })
    const sub = c.make({ transport: cuttable })
    await Promise.all([publisher.start(), sub.start()])
    const got: number[] = []
    await sub.subscribe('t', (m) => void got.push(Number(m.metadata.seq)))
    await known([publisher], sub, 't')
    cuttable.cut = true
    for (let i = 0; i < 10; i++)
      await publisher.publish('t', { body: new Uint8Array(), metadata: { seq: String(i) } })
    await until(() => publisher.dropped === 7, 'seven dropped')
    assert.deepEqual(drops, ['0', '1', '2', '3', '4', '5', '6'])
    cuttable.cut = false
    await until(() => got.length === 3, 'the newest three', 5000)
    assert.deepEqual(
      [...got].sort((x, y) => x - y),
      [7, 8, 9],
    )
    assert.equal(publisher.dropped, 7)
  })
})

test('direct - retries are bounded in attempts', async () => {
  await withCluster(async (c) => {
    const cuttable = new Cuttable({ network: c.network, logger: quiet })
    const reasons: string[] = []
    const publisher = c.make({ maxAttempts: 3, onDrop: (_m, why) => void reasons.push(why) })
    const sub = c.make({ transport: cuttable })
    await Promise.all([publisher.start(), sub.start()])
    await sub.subscribe('t', () => {})
    await known([publisher], sub, 't')
    cuttable.cut = true
    await publisher.publish('t', { body: new Uint8Array() })
    await until(() => publisher.dropped === 1, 'the message given up')
    assert.match(reasons[0]!, /gave up after 3 attempts/)
    assert.equal(publisher.pending, 0)
  })
})

test('direct - bad publish frames are answered with error frames and the node keeps serving', async () => {
  await withCluster(async (c) => {
    const [node] = await c.start(1)
    const got: BrokerMessage[] = []
    await node!.subscribe('ok', (m) => void got.push(m))
    const raw = new MemoryTransport({ network: c.network, logger: quiet })
    const answers: Envelope[] = []
    raw.onEnvelope((env) => void answers.push(env))
    try {
      const peer = raw.connect(node!.address)
      const body = new Uint8Array([1])
      peer.send({ t: 'publish', id: 1, to: 'a b', b: body })
      peer.send({ t: 'publish', id: 2, to: 'a.*', b: body })
      peer.send({ t: 'publish', id: 3, to: 'ok' })
      peer.send({ t: 'publish', id: 4, to: 'ok', b: body, h: 'bad queue!' })
      peer.send({ t: 'publish', id: 5, to: 'ok', b: new Uint8Array(1024 * 1024) })
      peer.send({ t: 'publish', id: 6, to: 'ok', b: body, md: { 'bad key': 'v' } })
      peer.send({ t: 'publish', to: 'ok', b: body })
      peer.send({ t: 'publish', id: 7, to: 'ok', b: bytes('fine'), ct: 'text/plain' })
      await until(() => answers.length === 8, 'eight answers')
      const byId = new Map(answers.map((a) => [a.id, a]))
      for (const id of [1, 2, 3, 4, 6, 0]) {
        assert.equal(byId.get(id)?.t, 'error', `frame ${id}`)
        assert.equal(byId.get(id)?.e?.code, 'bad_request', `frame ${id}`)
      }
      assert.equal(byId.get(5)?.e?.code, 'message_too_large')
      assert.equal(byId.get(7)?.t, 'reply')
      await until(() => got.length === 1, 'the good frame delivered')
      assert.equal(text(got[0]!.body), 'fine')
      assert.equal(got[0]!.contentType, 'text/plain')
      assert.equal(node!.badFrames, 7)
    } finally {
      await raw.stop()
    }
  })
})

test('direct - a node that leaves the registry is forgotten by publishers', async () => {
  await withCluster(async (c) => {
    const [a, b] = await c.start(2)
    await b!.subscribe('x', () => {})
    await known([a!], b!, 'x')
    await b!.stop()
    await until(() => a!.subscriptionsOf(b!.nodeId).length === 0, 'b forgotten')
    await a!.publish('x', { body: new Uint8Array() })
    assert.equal(a!.pending, 0)
  })
})

test('direct - over real TCP on 127.0.0.1', async () => {
  const registry = new MemoryRegistry()
  await registry.start()
  const make = () =>
    new DirectBroker({ registry, transport: new TcpTransport({ logger: quiet }), logger: quiet })
  const [a, b] = [make(), make()]
  try {
    await Promise.all([a.start(), b.start()])
    assert.match(b.address, /^127\.0\.0\.1:\d+$/)
    const got: BrokerMessage[] = []
    await b.subscribe('tcp.*', (m) => void got.push(m))
    await b.subscribe('tcp.*', (m) => void got.push(m), { queue: 'g' })
    await known([a], b, 'tcp.*', 'g')
    for (let i = 0; i < 20; i++) {
      await a.publish('tcp.hello', {
        body: bytes(`m${i}`),
        contentType: 'text/plain',
        metadata: { i: String(i) },
      })
    }
    await until(() => got.length === 40, 'forty deliveries over TCP')
    assert.deepEqual(
      got.filter((_, i) => i % 2 === 0).map((m) => m.metadata.i),
      Array.from({ length: 20 }, (_, i) => String(i)),
    )
    assert.equal(got[0]!.contentType, 'text/plain')
    await until(() => a.pending === 0, 'every ack in')
  } finally {
    await Promise.all([a.stop(), b.stop()])
    await registry.stop()
  }
})

test('direct - the registry record stays bounded: a subscription that does not fit is refused', async () => {
  await withCluster(async (c) => {
    const [a, b] = await c.start(2)
    let got = 0
    await b!.subscribe('first', () => void got++)
    const long = (i: number): string => `${'t'.repeat(200)}.n${i}`
    let refused: unknown
    for (let i = 0; i < 100 && refused === undefined; i++) {
      await b!.subscribe(long(i), () => {}).catch((e: unknown) => void (refused = e))
    }
    assert.ok(refused instanceof BadRequestError, 'a subscription over the record limit is refused')
    const record = (await c.registry.getService('mica.broker'))[0]!.nodes.find((n) => n.id === b!.nodeId)!
    assert.ok(Buffer.byteLength(JSON.stringify(record.metadata)) <= 4096 + 200)
    await known([a!], b!, 'first')
    await a!.publish('first', { body: new Uint8Array() })
    await until(() => got === 1, 'the earlier subscription still served')
  })
})

test('direct - options are checked', () => {
  const registry = new MemoryRegistry()
  const transport = new MemoryTransport({ network: new MemoryNetwork(), logger: quiet })
  const invalid = (e: unknown): boolean => e instanceof BadRequestError && e.code === 'invalid_options'
  assert.throws(() => new DirectBroker({ registry, transport, backlog: 0 }), invalid)
  assert.throws(() => new DirectBroker({ registry, transport, nodeId: 'a b' }), invalid)
  assert.throws(
    () => new DirectBroker({ registry, transport, registerTtlMs: 100, registerIntervalMs: 100 }),
    invalid,
  )
  assert.throws(() => new DirectBroker({ registry } as unknown as DirectBrokerOptions), invalid)
})

test('direct - the node record is registered with a TTL and refreshed before it runs out', async () => {
  const clock = new ManualClock()
  const registry = new MemoryRegistry({ clock })
  await registry.start()
  const transport = new MemoryTransport({ network: new MemoryNetwork(), logger: quiet })
  const options = { registerTtlMs: 100, registerIntervalMs: 40, clock, logger: quiet }
  const broker = new DirectBroker({ registry, transport, listen: 'mem:0', ...options })
  try {
    await broker.start()
    await broker.subscribe('kept', () => {})
    for (let i = 0; i < 10; i++) {
      clock.advance(40)
      await new Promise((resolve) => setImmediate(resolve))
    }
    const [record] = await registry.getService('mica.broker')
    assert.deepEqual(
      record?.nodes.map((n) => [n.id, n.metadata.s0]),
      [[broker.nodeId, 'kept']],
    )
    await broker.stop()
    assert.deepEqual(await registry.getService('mica.broker'), [])
  } finally {
    await broker.stop()
    await registry.stop()
  }
})
