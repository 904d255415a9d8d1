// The memory transport: the shared contract, and networks that never see each other.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MemoryNetwork, MemoryTransport } from '../../src/transport/memory.ts'
import { BadRequestError } from '../../src/errors.ts'
import { transportContract } from './contract.ts'
import { logger, Recorder, until } from './util.ts'

const network = new MemoryNetwork()

transportContract({
  name: 'memory',
  any: 'mem:0',
  create: (options) => new MemoryTransport({ ...options, network }),
  unused: async () => network.ephemeral(),
})

test('memory - two networks are two worlds', async () => {
  const a = new MemoryNetwork()
  const b = new MemoryNetwork()
  const server = new MemoryTransport({ network: a, logger: logger() })
  const stranger = new MemoryTransport({ network: b, logger: logger(), reconnect: { initialMs: 5 } })
  const atStranger = new Recorder(stranger)
  try {
    const address = await server.listen('mem:orders')
    assert.equal(address, 'mem:orders')
    stranger.connect(address).send({ t: 'send', to: 'a/', h: 'x' })
    await until('peer down in the other network', () => atStranger.downs.length === 1)
    assert.throws(() => stranger.connect('tcp://x'), BadRequestError)
  } finally {
    await Promise.all([server.stop(), stranger.stop()])
  }
})
