// The engine switch: `engine: 'nats'` (or MICA_ENGINE=nats) fills in the NATS registry, transport,
// broker and JetStream journal; what the caller gives explicitly wins; and a kernel on it works.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { applyEngine } from '../../src/kernel/engine.ts'
import { createKernel } from '../../src/kernel/kernel.ts'
import { MemoryBroker } from '../../src/broker/memory.ts'
import { JetStreamJournal } from '../../src/journal/jetstream.ts'
import { CachedRegistry } from '../../src/registry/cache.ts'
import { defineActor } from '../../src/actors/define.ts'
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
    message: /engine must be embedded or nats/,
  })
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
