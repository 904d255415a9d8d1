// The engine switch: `engine: 'nats'` (or MICA_ENGINE=nats) fills in the NATS registry, transport,
// broker and JetStream journal; what the caller gives explicitly wins; and a kernel on it works,
// persistence included.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { applyEngine } from '../../src/kernel/engine.ts'
import { createKernel } from '../../src/kernel/kernel.ts'
import { MemoryBroker } from '../../src/broker/memory.ts'
import { JetStreamBroker } from '../../src/broker/jetstream.ts'
import { JetStreamJournal } from '../../src/journal/jetstream.ts'
import { CachedRegistry } from '../../src/registry/cache.ts'
import { defineActor } from '../../src/actors/define.ts'
import { account } from '../fixtures/ledger.ts'
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts'
import { captureLogger } from '../helpers/kernels.ts'

let server: NatsServer
before(async () => {
  server = await startNatsServer()
})
after(async () => {
  await server.close()
})

test('engine - embedded (the default) adds nothing', () => {
  const options = { workers: 0 }
  assert.equal(applyEngine(options, {}), options)
  assert.equal(applyEngine(options, { MICA_ENGINE: 'embedded' }), options)
})

test('engine - nats fills in registry, transport, broker and journal; listen is a nats inbox', () => {
  const filled = applyEngine({ engine: 'nats', servers: 'nats://127.0.0.1:1' }, {})
  assert.ok(filled.registry instanceof CachedRegistry)
  assert.equal(filled.transport?.name, 'nats')
  assert.equal(filled.broker?.name, 'nats')
  assert.ok(filled.journal instanceof JetStreamJournal)
  assert.equal(filled.listen, 'nats:0')
  assert.equal(applyEngine({ engine: 'nats', nats: { durable: true } }, {}).broker?.name, 'jetstream')
})

test('engine - MICA_ENGINE and MICA_NATS_SERVERS select it from the environment; explicit plugins win', () => {
  const broker = new MemoryBroker()
  const filled = applyEngine({ broker }, { MICA_ENGINE: 'nats', MICA_NATS_SERVERS: 'nats://a:1,nats://b:2' })
  assert.equal(filled.broker, broker)
  assert.equal(filled.transport?.name, 'nats')
  assert.throws(() => applyEngine({}, { MICA_ENGINE: 'zookeeper' }), {
    code: 'invalid_options',
    message: /engine must be embedded or nats, got zookeeper \(from MICA_ENGINE\)/,
  })
  const empty = { workers: 0 }
  assert.equal(applyEngine(empty, { MICA_ENGINE: '' }), empty, 'an empty MICA_ENGINE is unset')
})

test('engine - MICA_NATS_SERVERS is a list of URLs separated by commas, spaces around them allowed', async () => {
  const options = applyEngine(
    { engine: 'nats', workers: 0, logger: captureLogger() },
    { MICA_NATS_SERVERS: ` ${server.url} ,, ` },
  )
  const kernel = await createKernel(options)
  await kernel.stop()
  assert.ok(
    applyEngine({ engine: 'nats', nats: { durable: true, replicas: 3 } }, {}).broker instanceof
      JetStreamBroker,
  )
})

test('engine - a kernel on nats serves asks and pubsub, and stops cleanly', async () => {
  const echo = defineActor({
    kind: 'engine-echo',
    handlers: {
      echo: (msg: { text: string }) => msg.text.toUpperCase(),
    },
  })
  const kernel = await createKernel({
    engine: 'nats',
    servers: server.url,
    workers: 0,
    logger: captureLogger(),
  })
  try {
    assert.match(kernel.address ?? '', /^nats:[A-Za-z0-9_-]+$/)
    await kernel.spawn(echo)
    assert.equal(await kernel.ref<typeof echo>('engine-echo/').ask('echo', { text: 'hi' }), 'HI')
    const got: unknown[] = []
    await kernel.subscribe('engine.news', (msg) => void got.push(msg))
    await kernel.publish('engine.news', { n: 1 })
    const until = Date.now() + 5000
    while (got.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10))
    assert.deepEqual(got, [{ n: 1 }])
  } finally {
    await kernel.stop()
  }
})

test('engine - a persistent actor on nats is journaled in JetStream and comes back in a new kernel', async () => {
  const node = () =>
    createKernel({ engine: 'nats', servers: server.url, workers: 0, logger: captureLogger() })
  const first = await node()
  try {
    await first.register(account)
    await first.ref<typeof account>('account/engine').ask('deposit', { amount: 5 })
    await first.ref<typeof account>('account/engine').ask('deposit', { amount: 7 })
  } finally {
    await first.stop()
  }
  const second = await node()
  try {
    await second.register(account)
    const state = await second.ref<typeof account>('account/engine').ask('balance')
    assert.deepEqual(state, { balance: 12, entries: 2 })
  } finally {
    await second.stop()
  }
})

test('engine - credentials reach every plugin: a token server admits the node with nats.token only', async () => {
  const guarded = await startNatsServer(['--auth', 's3cret-token'])
  try {
    const options = (token?: string) => ({
      engine: 'nats' as const,
      servers: guarded.url,
      workers: 0,
      logger: captureLogger(),
      nats: token === undefined ? { maxReconnectAttempts: 0 } : { token },
    })
    await assert.rejects(createKernel(options()), { status: 503, message: /Authorization Violation/i })
    await assert.rejects(createKernel(options('wrong')), { status: 503 })
    const kernel = await createKernel(options('s3cret-token'))
    try {
      await kernel.register(account)
      const ref = kernel.ref<typeof account>('account/guarded')
      assert.equal(await ref.ask('deposit', { amount: 3 }), 3, 'registry, transport and journal admitted')
      const got: unknown[] = []
      await kernel.subscribe('guarded.news', (msg) => void got.push(msg))
      await kernel.publish('guarded.news', { n: 1 })
      const until = Date.now() + 5000
      while (got.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10))
      assert.deepEqual(got, [{ n: 1 }], 'the broker admitted')
    } finally {
      await kernel.stop()
    }
  } finally {
    await guarded.close()
  }
})
