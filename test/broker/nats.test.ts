// The nats broker against a nats-server of its own: the contract (publisher and subscriber on two
// connections), then what only a real server shows: reconnection after a restart.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { connect } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'
import type { BrokerBaseOptions, BrokerMessage } from '../../src/broker/broker.ts'
import { NatsBroker, type NatsBrokerOptions } from '../../src/broker/nats.ts'
import { JetStreamBroker } from '../../src/broker/jetstream.ts'
import { UnavailableError } from '../../src/errors.ts'
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts'
import { brokerContract, until } from './contract.ts'

let server: NatsServer
before(async () => {
  server = await startNatsServer()
})
after(async () => {
  await server.close()
})

const broker = (options: Partial<NatsBrokerOptions> = {}): NatsBroker =>
  new NatsBroker({ servers: server.url, reconnectTimeWaitMs: 100, ...options })

brokerContract(
  'nats',
  async (options?: BrokerBaseOptions) => {
    const publisher = broker(options)
    const subscriber = broker(options)
    await Promise.all([publisher.start(), subscriber.start()])
    return {
      publisher,
      subscriber,
      stop: async () => {
        await Promise.all([publisher.stop(), subscriber.stop()])
      },
    }
  },
  () => broker(),
)

test('nats - a server that is not there fails start as unavailable, and start may be tried again', async () => {
  const b = new NatsBroker({ servers: 'nats://127.0.0.1:1' })
  await assert.rejects(b.start(), (e: unknown) => e instanceof UnavailableError && e.retryable)
  await assert.rejects(b.start(), UnavailableError)
  await b.stop()
})

test('nats - a plain NATS message arrives with empty metadata; headers use the Mica- names', async () => {
  const b = broker()
  await b.start()
  const nc = await connect({ servers: server.url })
  try {
    const got: BrokerMessage[] = []
    await b.subscribe('plain.>', (m) => void got.push(m))
    const raw: string[] = []
    nc.subscribe('plain.mica', { callback: (_e, m) => void raw.push(...(m.headers?.keys() ?? [])) })
    await nc.flush()
    nc.publish('plain.raw', 'hi')
    await nc.flush()
    await b.publish('plain.mica', { body: new Uint8Array(), contentType: 'text/plain', metadata: { k: 'v' } })
    await until(() => got.length === 2 && raw.length === 2, 'both messages')
    assert.deepEqual(got[0], { topic: 'plain.raw', body: new TextEncoder().encode('hi'), metadata: {} })
    assert.deepEqual(raw.sort(), ['Mica-Content-Type', 'Mica-Md-k'])
  } finally {
    await nc.close()
    await b.stop()
  }
})

test('nats - publisher and subscriber reconnect by themselves when the server restarts', async () => {
  const publisher = broker()
  const subscriber = broker()
  await Promise.all([publisher.start(), subscriber.start()])
  const received = new Set<number>()
  await subscriber.subscribe('ticks', (m) => void received.add(Number(m.metadata.seq)))
  let sent = 0
  let running = true
  const publishing = (async () => {
    // Bounded: at most 600 messages, 20 ms apart (12 s); the test ends it much sooner.
    while (running && sent < 600) {
      await publisher.publish('ticks', { body: new Uint8Array([1]), metadata: { seq: String(sent++) } })
      await sleep(20)
    }
  })()
  try {
    await until(() => received.size >= 5, 'messages before the restart')
    await server.stop()
    await sleep(300)
    await server.restart()
    const restartedAt = sent
    await until(
      () => [...received].some((seq) => seq >= restartedAt + 10),
      'messages after the restart',
      10_000,
    )
  } finally {
    running = false
    await publishing
    await Promise.all([publisher.stop(), subscriber.stop()])
  }
  assert.ok(sent < 600, 'the publisher never had to give up')
})

test('nats - brokers share a connection they are given, and leave it open when they stop', async () => {
  const nc = await connect({ servers: server.url })
  try {
    const core = new NatsBroker({ connection: nc })
    const durable = new JetStreamBroker({ connection: nc, streamPrefix: 'SHARED_' })
    await Promise.all([core.start(), durable.start()])
    const got: BrokerMessage[] = []
    await core.subscribe('shared.conn', (m) => void got.push(m))
    await core.publish('shared.conn', { body: new Uint8Array([7]) })
    await until(() => got.length === 1, 'the message on the shared connection')
    await durable.publish('shared.durable', { body: new Uint8Array([8]) })
    await Promise.all([core.stop(), durable.stop()])
    assert.equal(nc.isClosed(), false, 'an adopted connection belongs to its owner')
    await nc.flush() // still usable
  } finally {
    await nc.close()
  }
})

test('nats - a broker with neither servers nor a connection is refused at construction', () => {
  assert.throws(() => new NatsBroker({}), { code: 'invalid_options', message: /servers or connection/ })
  assert.throws(() => new JetStreamBroker({}), { code: 'invalid_options', message: /servers or connection/ })
})

test('jetstream - replicas must be 1..5; its streams are made with that many copies', async () => {
  for (const replicas of [0, 6, 1.5])
    assert.throws(() => new JetStreamBroker({ servers: 'nats://127.0.0.1:1', replicas }), {
      code: 'invalid_options',
      message: /replicas must be 1\.\.5/,
    })
  const broker = new JetStreamBroker({ servers: server.url, replicas: 1, streamPrefix: 'REPL_' })
  const nc = await connect({ servers: server.url })
  try {
    await broker.start()
    await broker.publish('replicated.one', { body: new Uint8Array([1]) })
    const info = await (await jetstreamManager(nc)).streams.info('REPL_replicated')
    assert.equal(info.config.num_replicas, 1)
  } finally {
    await broker.stop()
    await nc.close()
  }
})
