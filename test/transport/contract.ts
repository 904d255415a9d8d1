// The transport contract (src/transport/transport.ts), run against every implementation: envelopes of
// every kind both ways, order per connection, many peers at once, peer-down, reconnect after the
// server restarts on the same address, bounded queues, errors, and stop leaving no handle open.
import { test, describe, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { BadRequestError, ErrorCode, UnavailableError } from '../../src/errors.ts'
import type { CommonTransportOptions } from '../../src/transport/options.ts'
import type { Envelope } from '../../src/transport/envelope.ts'
import type { Transport } from '../../src/transport/transport.ts'
import { everyKind, handles, logger, Recorder, until } from './util.ts'

export interface Harness {
  name: string
  /** Where a server listens: `127.0.0.1:0`, `mem:0`. */
  any: string
  create(options?: CommonTransportOptions): Transport
  /** An address nobody listens on. */
  unused(): Promise<string>
}

const FAST_RECONNECT = { reconnect: { initialMs: 5, maxMs: 40 } }

export function transportContract(h: Harness): void {
  describe(`${h.name} transport - contract`, () => {
    const started: Transport[] = []
    const create = (options: CommonTransportOptions = {}) => {
      const transport = h.create({ ...FAST_RECONNECT, logger: logger(), ...options })
      started.push(transport)
      return transport
    }
    /** A server echoing every envelope back on the connection it came in on. */
    const echoServer = async (options?: CommonTransportOptions) => {
      const server = create(options)
      server.onEnvelope((env, peer) => assert.ok(peer.send(env)))
      return { server, address: await server.listen(h.any) }
    }
    afterEach(async () => {
      await Promise.all(started.splice(0).map((t) => t.stop()))
    })

    test(`${h.name} - every kind of envelope round trips, both ways`, async () => {
      const server = create()
      const atServer = new Recorder(server)
      server.onEnvelope((env, peer) => peer.send(env))
      const address = await server.listen(h.any)
      assert.equal(server.address, address)
      const client = create()
      const atClient = new Recorder(client)
      const peer = client.connect(address)
      assert.equal(peer.connected, false, 'dialed lazily')
      const kinds = everyKind()
      for (const env of kinds) assert.equal(peer.send(env), true)
      const delivered = kinds.filter((e) => e.t !== 'ping') // pings are the transport's own
      assert.deepEqual(await atServer.received(delivered.length), delivered)
      assert.deepEqual(await atClient.received(delivered.length), delivered)
      assert.ok(atServer.peers.every((p) => p.inbound && p.connected && p !== peer))
      assert.ok(atClient.peers.every((p) => p === peer && !p.inbound))
      assert.equal(peer.connected, true)
    })

    test(`${h.name} - order is preserved per connection, across ticks`, async () => {
      const { address } = await echoServer()
      const client = create()
      const atClient = new Recorder(client)
      const peer = client.connect(address)
      const n = 5_000
      for (let id = 0; id < n; id++) {
        assert.equal(peer.send({ t: 'ask', id, to: 'a/', h: 'x', b: Buffer.from(String(id)) }), true)
        if (id % 700 === 0) await sleep(0)
      }
      const got = await atClient.received(n)
      assert.deepEqual(
        got.map((e) => e.id),
        Array.from({ length: n }, (_, i) => i),
      )
    })

    test(`${h.name} - many peers at once each get their own replies`, async () => {
      const server = create()
      server.onEnvelope((env, peer) => peer.send({ t: 'reply', id: env.id ?? 0, b: env.b }))
      const address = await server.listen(h.any)
      const clients = Array.from({ length: 20 }, () => create())
      const recorders = clients.map((c) => new Recorder(c))
      clients.forEach((client, c) => {
        const peer = client.connect(address)
        for (let id = 0; id < 50; id++)
          peer.send({ t: 'ask', id, to: 'a/', h: 'x', b: Buffer.from(`${c}:${id}`) })
      })
      await Promise.all(recorders.map((r) => r.received(50)))
      recorders.forEach((r, c) => {
        const bodies = r.envelopes.map((e) => Buffer.from(e.b ?? []).toString())
        assert.deepEqual(
          bodies,
          Array.from({ length: 50 }, (_, id) => `${c}:${id}`),
        )
      })
    })

    test(`${h.name} - connect returns one shared peer per address until it is closed`, async () => {
      const { address } = await echoServer()
      const client = create()
      const peer = client.connect(address)
      assert.equal(client.connect(address), peer)
      peer.close('test')
      assert.equal(peer.send({ t: 'send', to: 'a/', h: 'x' }), false, 'a closed peer queues nothing')
      const again = client.connect(address)
      assert.notEqual(again, peer)
      assert.equal(again.send({ t: 'send', to: 'a/', h: 'x' }), true)
    })

    test(`${h.name} - peer down: the client sees the server stop, the server sees the client close`, async () => {
      const { server, address } = await echoServer()
      const atServer = new Recorder(server)
      const client = create()
      const atClient = new Recorder(client)
      const peer = client.connect(address)
      peer.send({ t: 'send', to: 'a/', h: 'x' })
      await atClient.received(1)
      await server.stop()
      await until('peer down at the client', () => atClient.downs.length === 1)
      const { peer: down, reason } = atClient.downs[0]!
      assert.equal(down, peer)
      assert.ok(reason instanceof UnavailableError)
      assert.equal(reason.code, ErrorCode.UNAVAILABLE)
      assert.ok(reason.retryable)
      assert.equal(peer.connected, false)
      assert.equal(atServer.downs.length, 0, 'a local stop reports no peer-down')

      const second = await echoServer()
      const atSecond = new Recorder(second.server)
      const other = create()
      const otherPeer = other.connect(second.address)
      otherPeer.send({ t: 'send', to: 'a/', h: 'x' })
      await atSecond.received(1)
      otherPeer.close('done')
      await until('peer down at the server', () => atSecond.downs.length === 1)
      assert.equal(atSecond.downs[0]!.peer, atSecond.peers[0])
      assert.equal(atSecond.downs[0]!.peer.inbound, true)
      assert.equal(
        atSecond.peers[0]!.send({ t: 'reply', id: 1 }),
        false,
        'an accepted peer does not reconnect',
      )
    })

    test(`${h.name} - a dial nobody answers reports down once, and its queue is bounded`, async () => {
      const client = create({ maxFrameBytes: 1_000, maxQueuedBytes: 10_000 })
      const atClient = new Recorder(client)
      const peer = client.connect(await h.unused())
      const body = new Uint8Array(900)
      assert.equal(peer.send({ t: 'send', to: 'a/', h: 'x', b: body }), true)
      await until('peer down', () => atClient.downs.length === 1)
      await sleep(150) // several reconnect attempts
      assert.equal(atClient.downs.length, 1, 'one report per loss, not one per attempt')
      let accepted = 1
      while (peer.send({ t: 'send', to: 'a/', h: 'x', b: body })) accepted++
      assert.ok(accepted >= 9 && accepted <= 11, `queued ${accepted} frames of ~930 bytes in 10,000`)
      assert.ok(peer.queuedBytes <= 10_000)
      assert.equal(peer.connected, false)
    })

    test(`${h.name} - reconnects after the server restarts on the same address; queued frames arrive in order`, async () => {
      const first = await echoServer()
      const client = create()
      const atClient = new Recorder(client)
      const peer = client.connect(first.address)
      peer.send({ t: 'send', to: 'a/', h: 'x' })
      await atClient.received(1)
      await first.server.stop()
      await until('peer down', () => atClient.downs.length === 1)
      for (let id = 0; id < 10; id++) assert.equal(peer.send({ t: 'ask', id, to: 'a/', h: 'x' }), true)
      const restarted = create()
      const atRestarted = new Recorder(restarted)
      restarted.onEnvelope((env, from) => from.send(env))
      assert.equal(await restarted.listen(first.address), first.address)
      const got = await atRestarted.received(10)
      assert.deepEqual(
        got.map((e) => e.id),
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
      )
      await atClient.received(11)
      assert.equal(peer.connected, true)
    })

    test(`${h.name} - invalid and oversized envelopes throw at the sender; a throwing handler is logged`, async () => {
      const log = logger()
      const server = create({ logger: log })
      let calls = 0
      server.onEnvelope((env, peer) => {
        calls++
        if (env.h === 'boom') throw new Error('handler bug')
        peer.send(env)
      })
      const address = await server.listen(h.any)
      const client = create({ maxFrameBytes: 2_000, maxQueuedBytes: 10_000 })
      const atClient = new Recorder(client)
      const peer = client.connect(address)
      const bad = { t: 'ask', to: 'a/', h: 'x' } as Envelope // no id
      assert.throws(
        () => peer.send(bad),
        (e: unknown) => e instanceof BadRequestError && e.code === 'encode_failed',
      )
      const huge: Envelope = { t: 'send', to: 'a/', h: 'x', b: new Uint8Array(3_000) }
      assert.throws(
        () => peer.send(huge),
        (e: unknown) => e instanceof BadRequestError && e.code === ErrorCode.MESSAGE_TOO_LARGE,
      )
      peer.send({ t: 'send', to: 'a/', h: 'boom' })
      peer.send({ t: 'send', to: 'a/', h: 'fine' })
      const [echo] = await atClient.received(1)
      assert.equal(echo!.h, 'fine')
      assert.equal(calls, 2)
      assert.ok(log.warnings.some((w) => w.includes('handler bug')))
      assert.equal(peer.connected, true)
    })

    test(`${h.name} - listen twice, or on an address in use, is refused`, async () => {
      const { server, address } = await echoServer()
      await assert.rejects(server.listen(h.any), BadRequestError)
      await assert.rejects(create().listen(address), UnavailableError)
    })

    test(`${h.name} - stop is idempotent, refuses later use and leaves no handle open`, async () => {
      const before = handles()
      const { server, address } = await echoServer()
      const client = create()
      const atClient = new Recorder(client)
      const peer = client.connect(address)
      client.connect(await h.unused()).send({ t: 'send', to: 'a/', h: 'x' }) // a peer left reconnecting
      for (let id = 0; id < 100; id++) peer.send({ t: 'ask', id, to: 'a/', h: 'x' })
      await atClient.received(100)
      const stopping = client.stop()
      assert.equal(client.stop(), stopping)
      await Promise.all([stopping, server.stop(), server.stop()])
      assert.throws(() => client.connect(address), UnavailableError)
      await assert.rejects(client.listen(h.any), UnavailableError)
      assert.equal(peer.send({ t: 'send', to: 'a/', h: 'x' }), false)
      assert.deepEqual(handles(), before)
    })
  })
}
