// What an ask to another node reports when the way there fails: an ask that never left this process
// (the node cannot be dialed) is `unavailable`, retryable, and is retried on another node; one that
// was written to a connection that then dropped is `connection_lost` (it may have run): not retried.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { defineActor } from '../../src/actors/define.ts'
import { TcpTransport } from '../../src/transport/tcp.ts'
import { withCluster } from '../helpers/cluster.ts'
import { MicaError } from '../../src/errors.ts'

const ghost = defineActor({
  kind: 'ghost',
  handlers: {
    boo: () => 'boo',
    hang: () => new Promise<never>(() => {}),
  },
})

async function rejection(p: Promise<unknown>): Promise<MicaError> {
  try {
    await p
  } catch (err) {
    return err as MicaError
  }
  assert.fail('expected a rejection')
}

async function unusedAddress(): Promise<string> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port
      server.close(() => resolve(`127.0.0.1:${port}`))
    })
  })
}

const record = (address: string) => ({
  name: 'ghost',
  version: '',
  metadata: {},
  endpoints: [{ name: 'ghost.boo', metadata: {} }],
  nodes: [{ id: 'gone', address, metadata: {} }],
})

test('lost asks - a node nobody answers at: unavailable (never left), retried on a live node', async () => {
  await withCluster('tcp', async (c) => {
    const a = await c.node('a', { retries: 3, retryBackoffMs: 5 })
    await c.registry.register(record(await unusedAddress()))
    const alone = await rejection(a.ref<typeof ghost>('ghost/').ask('boo', undefined, { timeout: 3000 }))
    assert.equal(alone.code, 'unavailable', alone.detail)
    const b = await c.node('b')
    await b.register(ghost)
    for (let i = 0; i < 10; i++) assert.equal(await a.ref<typeof ghost>('ghost/').ask('boo'), 'boo')
  })
})

test('lost asks - a connection that drops under an ask in flight: connection_lost, not repeated', async () => {
  await withCluster('tcp', async (c) => {
    const a = await c.node('a', { retries: 3, retryBackoffMs: 5 })
    const transport = new TcpTransport({ logger: { warn: () => {} } })
    const b = await c.node('b', { transport })
    await b.register(ghost)
    assert.equal(await a.ref<typeof ghost>('ghost/').ask('boo'), 'boo') // connected
    const pending = rejection(a.ref<typeof ghost>('ghost/').ask('hang', undefined, { timeout: 5000 }))
    await new Promise((resolve) => setTimeout(resolve, 50))
    await transport.stop() // b's side of the connection goes away with the ask in flight
    const lost = await pending
    assert.equal(lost.code, 'connection_lost', lost.detail)
    assert.equal(lost.status, 503)
    assert.equal(lost.retryable, false)
  })
})
