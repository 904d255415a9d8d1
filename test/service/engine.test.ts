// A service on the NATS engine (`kernel: { engine: 'nats' }`, or MICA_ENGINE=nats): the plugins come
// from the kernel, not the service options, and the service's client and its record use them too.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { createService, type Service } from '../../src/service/service.ts'
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts'
import { captureLogger } from '../helpers/kernels.ts'
import { greeter, slow } from './greeter.ts'

let server: NatsServer
before(async () => {
  server = await startNatsServer()
})
after(async () => {
  await server.close()
})

test('service on the nats engine: the client finds other nodes, the record goes on stop', async () => {
  const make = (name: string) =>
    createService({
      name,
      handleSignal: false,
      kernel: { engine: 'nats', servers: server.url, logger: captureLogger(), drainTimeoutMs: 1_000 },
    })
  const started: Service[] = []
  try {
    const svc = make('engine-greeter')
    await svc.handle(greeter)
    await svc.handle(slow)
    await svc.start()
    started.push(svc)
    const caller = make('engine-caller')
    await caller.start()
    started.push(caller)
    assert.deepEqual(await caller.client.call('engine-greeter', 'Greeter.hello', { name: 'nats' }), {
      greeting: 'Hello nats',
    })
    const registry = caller.kernel.options.network!.registry
    assert.equal((await registry.getService('engine-greeter')).length, 1)
    // stop with a call in flight: the record goes first, then the kernel drains the call
    let replied = false
    const inFlight = caller.client
      .call('engine-greeter', 'Slow.wait', 1_000)
      .then((r) => ((replied = true), r))
    await new Promise((r) => setTimeout(r, 100))
    const stopping = svc.stop()
    const until = Date.now() + 5_000
    while ((await registry.getService('engine-greeter')).length > 0 && Date.now() < until)
      await new Promise((r) => setTimeout(r, 20))
    assert.deepEqual(await registry.getService('engine-greeter'), [], 'deregistered on stop')
    assert.equal(replied, false, 'before the in-flight call was drained')
    assert.equal(await inFlight, 'waited 1000')
    await stopping
  } finally {
    for (const s of started) await s.stop()
  }
})
