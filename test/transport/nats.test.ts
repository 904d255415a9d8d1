// The NATS transport against a nats-server of its own: the shared contract, then what only NATS can
// get wrong: envelopes against the server's max_payload, garbage published straight on a node's
// subjects, two kernels talking over it, and the server restarted under traffic.
import { after, afterEach, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { Packr } from 'msgpackr'
import { NatsTransport, type NatsTransportOptions } from '../../src/transport/nats.ts'
import { randomToken } from '../../src/transport/nats-options.ts'
import { encodeEnvelope } from '../../src/transport/envelope.ts'
import { BadRequestError, ErrorCode, UnavailableError } from '../../src/errors.ts'
import { createKernel, type Kernel } from '../../src/kernel/kernel.ts'
import { MemoryRegistry } from '../../src/registry/memory.ts'
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts'
import { RegistryView } from '../helpers/cluster.ts'
import { captureLogger, rejection } from '../helpers/kernels.ts'
import { counter } from '../fixtures/actors.ts'
import { chat } from '../fixtures/streams.ts'
import { assertWindowHeld } from '../helpers/streams.ts'
import { transportContract } from './contract.ts'
import { frame, logger, Recorder, until } from './util.ts'

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

const MiB = 1024 * 1024
const raw = new Packr({ useRecords: false })

describe('nats transport - limits, garbage and silence', () => {
  const started: NatsTransport[] = []
  const opened: NatsConnection[] = []
  const create = (options: Partial<NatsTransportOptions> = {}) => {
    const t = new NatsTransport({ servers: server.url, logger: logger(), ...options })
    started.push(t)
    return t
  }
  const rawClient = async () => {
    const nc = await connect({ servers: server.url })
    opened.push(nc)
    return nc
  }
  afterEach(async () => {
    await Promise.all(started.splice(0).map((t) => t.stop()))
    await Promise.all(opened.splice(0).map((nc) => nc.close()))
  })

  test('nats - options and addresses are checked; a subject prefix of its own is used on both ends', async () => {
    const refused = (fn: () => unknown, code: string) =>
      assert.throws(fn, (e: unknown) => e instanceof BadRequestError && e.code === code)
    refused(() => new NatsTransport({}), ErrorCode.INVALID_OPTIONS)
    refused(() => new NatsTransport({ servers: server.url, subjectPrefix: 'a.*' }), ErrorCode.INVALID_OPTIONS)
    refused(() => new NatsTransport({ servers: server.url, heartbeatMs: 0 }), ErrorCode.INVALID_OPTIONS)
    refused(
      () => new NatsTransport({ servers: server.url, heartbeatMs: 100, heartbeatTimeoutMs: 100 }),
      ErrorCode.INVALID_OPTIONS,
    )
    const t = create({ subjectPrefix: 'acme.mesh' })
    for (const bad of ['127.0.0.1:4000', 'nats:', 'nats:a.b', 'nats:>', `nats:${'x'.repeat(65)}`]) {
      refused(() => t.connect(bad), ErrorCode.INVALID_ADDRESS)
      await assert.rejects(t.listen(bad), (e: unknown) => e instanceof BadRequestError)
    }
    const address = await t.listen('nats:orders-1')
    assert.equal(address, 'nats:orders-1')
    const nc = await rawClient()
    const seen: string[] = []
    nc.subscribe('acme.mesh.>', {
      callback: (_e, m) => {
        seen.push(m.subject)
      },
    })
    await nc.flush()
    t.onEnvelope((env, peer) => peer.send(env))
    const client = create({ subjectPrefix: 'acme.mesh' })
    const atClient = new Recorder(client)
    client.connect(address).send({ t: 'send', to: 'a/', h: 'x' })
    await atClient.received(1)
    assert.ok(seen.includes('acme.mesh.orders-1'), seen.join(' '))
  })

  test("nats - an envelope over the server's max_payload is refused at send; a tick of big ones is split", async () => {
    const srv = create()
    srv.onEnvelope((env, peer) => peer.send({ t: 'reply', id: env.id ?? 0 }))
    const address = await srv.listen('nats:0')
    const client = create({ maxFrameBytes: 4 * MiB, maxQueuedBytes: 32 * MiB })
    const atClient = new Recorder(client)
    const peer = client.connect(address)
    peer.send({ t: 'ask', id: 0, to: 'a/', h: 'x' }) // opens the connection: max_payload is known
    await atClient.received(1)
    // the server here has the default max_payload of 1 MiB, under maxFrameBytes
    assert.throws(
      () => peer.send({ t: 'ask', id: 0, to: 'a/', h: 'x', b: new Uint8Array(MiB) }),
      (e: unknown) =>
        e instanceof BadRequestError &&
        e.code === ErrorCode.MESSAGE_TOO_LARGE &&
        /max_payload/.test(e.detail) &&
        /exceeds the frame limit of 1048572 bytes/.test(e.detail),
    )
    // five frames of 600 KB in one tick: more than one message can hold, each frame fits one
    for (let id = 1; id <= 5; id++) {
      assert.equal(peer.send({ t: 'ask', id, to: 'a/', h: 'x', b: new Uint8Array(600 * 1024) }), true)
    }
    const got = await atClient.received(6)
    assert.deepEqual(
      got.map((e) => e.id),
      [0, 1, 2, 3, 4, 5],
    )
    assert.equal(peer.connected, true)
  })

  test('nats - garbage published straight on the subjects is logged and dropped; the transport keeps serving', async () => {
    const log = logger()
    const srvConnection = await rawClient()
    const srv = create({ logger: log, maxFrameBytes: 64 * 1024, connection: srvConnection })
    const atServer = new Recorder(srv)
    srv.onEnvelope((env, peer) => peer.send(env))
    const address = await srv.listen('nats:0')
    const listenSubject = `mica.node.${address.slice(5)}`
    const clientLog = logger()
    const client = create({ logger: clientLog })
    const atClient = new Recorder(client)
    const good = client.connect(address)
    good.send({ t: 'send', to: 'a/', h: 'before' })
    await atClient.received(1)
    const inboxSubject = `mica.node.${atServer.peers[0]!.address.slice(5)}`

    const nc = await rawClient()
    const forged = `mica.node.${randomToken()}`
    const ok = frame(encodeEnvelope({ t: 'send', to: 'a/', h: 'ahead' }))
    const bad: [Uint8Array, string | undefined][] = [
      [Buffer.from('GET / HTTP/1.1\r\n\r\n'), forged], // a length prefix of 1.1 GB
      [frame(Buffer.from([0xc1, 0xc1])), forged],
      [frame(raw.pack({ v: 2, t: 'send', to: 'a/', h: 'x' })), forged],
      [Buffer.from([0, 0]), forged],
      [Buffer.concat([ok, frame(raw.pack({ v: 1, t: 'bogus' }))]), forged],
      [ok, undefined], // no reply subject: nobody to answer
      [ok, 'not.a.mica.subject'],
    ]
    for (const [payload, reply] of bad) nc.publish(listenSubject, payload, reply ? { reply } : {})
    nc.publish(inboxSubject, Buffer.from('garbage'), { reply: listenSubject })
    await nc.flush()
    await until('a warning per bad message', () => log.warnings.length >= 7 && clientLog.warnings.length >= 1)
    const all = log.warnings.join('\n')
    assert.match(all, /frame of \d+ bytes exceeds the limit of 65536 bytes/)
    assert.match(all, /not a msgpack envelope/)
    assert.match(all, /envelope version 2/)
    assert.match(all, /2 bytes after the last frame/)
    assert.match(all, /unknown frame kind "bogus"/)
    assert.match(all, /no valid reply subject \(""\)/)
    assert.match(all, /no valid reply subject \("not\.a\.mica\.subject"\)/)
    assert.match(clientLog.warnings.join('\n'), /dropped a message .*bad input/)
    // the good frame ahead of the bad one made its peer and was delivered; garbage alone made none
    assert.equal(atServer.envelopes.filter((e) => e.h === 'ahead').length, 1)
    assert.equal(new Set(atServer.peers).size, 2)
    assert.equal(atServer.downs.length + atClient.downs.length, 0)

    good.send({ t: 'send', to: 'a/', h: 'after' })
    await atClient.received(2)
    assert.equal(atClient.envelopes[1]!.h, 'after')
    assert.equal(good.connected, true)
    // the echo of 'ahead' went to a forged subject nobody receives on: the server answered the listen
    // subject with a 503 status (it is queued before the reply to 'after', so before this flush's PONG)
    await srvConnection.flush()
    assert.equal(log.warnings.length, 7, log.warnings.join('\n'))
  })

  test('nats - a peer that goes silent (a stalled process) is down after the heartbeat timeout; a quiet one stays up', async () => {
    const nc = await rawClient()
    const fast = { heartbeatMs: 40, heartbeatTimeoutMs: 150, reconnect: { initialMs: 20, maxMs: 50 } }
    const doomed = create({ ...fast, connection: nc }) // its connection dies under it, no bye said
    const quiet = create(fast)
    const quietAddress = await quiet.listen('nats:0')
    doomed.onEnvelope((env, peer) => peer.send(env))
    const doomedAddress = await doomed.listen('nats:0')
    const log = logger()
    const client = create({ ...fast, logger: log })
    const atClient = new Recorder(client)
    const toDoomed = client.connect(doomedAddress)
    const toQuiet = client.connect(quietAddress)
    toDoomed.send({ t: 'send', to: 'a/', h: 'x' })
    toQuiet.send({ t: 'send', to: 'a/', h: 'x' })
    await atClient.received(1)
    // a subscriber that never answers keeps the subject alive (no 503 status): only silence tells
    const zombie = await rawClient()
    zombie.subscribe(`mica.node.${doomedAddress.slice(5)}`)
    await zombie.flush()
    const started = Date.now()
    await nc.close()
    await until('peer down', () => atClient.downs.length === 1)
    const after = Date.now() - started
    assert.ok(after >= 100 && after < 2_000, `down after ${after} ms`)
    assert.equal(atClient.downs[0]!.peer, toDoomed)
    assert.ok(atClient.downs[0]!.reason instanceof UnavailableError)
    assert.match(atClient.downs[0]!.reason.detail, /silent for \d+ ms/)
    await new Promise((r) => setTimeout(r, 300)) // many heartbeats, no traffic but pings
    assert.equal(toQuiet.connected, true)
    assert.equal(atClient.downs.length, 1, 'the quiet peer stayed up')
  })

  test('nats - a listener that crashed is down as soon as a frame finds nobody (a 503), not after the silence', async () => {
    const nc = await rawClient()
    const slow = { heartbeatMs: 20_000 } // silence alone would take a minute
    const doomed = create({ ...slow, connection: nc })
    doomed.onEnvelope((env, peer) => peer.send(env))
    const client = create(slow)
    const atClient = new Recorder(client)
    const peer = client.connect(await doomed.listen('nats:0'))
    peer.send({ t: 'send', to: 'a/', h: 'x' })
    await atClient.received(1)
    await nc.close() // no bye
    const started = Date.now()
    // traffic goes on: a frame that reached the server before it saw the connection go still finds
    // a subscriber; the next ones find nobody
    const traffic = setInterval(() => peer.send({ t: 'send', to: 'a/', h: 'x' }), 100)
    try {
      // bounded well below the silence (a minute) yet loose enough for a loaded machine
      await until('peer down', () => atClient.downs.length === 1, 10_000)
    } finally {
      clearInterval(traffic)
    }
    assert.ok(Date.now() - started < 10_000)
    assert.match(atClient.downs[0]!.reason.detail, /nobody listens any more \(no responders/)
    assert.equal(peer.connected, false)
  })

  test("nats - the connection's loss and return are reported once each (onLinkChange); a stop reports nothing", async () => {
    const own = await startNatsServer() // this case kills its server
    try {
      const transport = create({ servers: own.url, reconnectTimeWaitMs: 50 })
      const events: string[] = []
      transport.onLinkChange((e) => events.push(`${e.state}: ${e.detail}`))
      await transport.listen('nats:0')
      assert.deepEqual(events, [])
      await own.stop()
      await until('the link lost', () => events.length === 1)
      assert.match(events[0]!, /^lost: disconnected from /)
      await new Promise((r) => setTimeout(r, 400)) // reconnect attempts, every 50 ms, all failing
      assert.equal(events.length, 1, 'once per loss, not once per failed attempt')
      await own.restart()
      await until('the link restored', () => events.length === 2)
      assert.match(events[1]!, /^restored: reconnected to /)
      await transport.stop()
      assert.equal(events.length, 2, 'stopping is no loss')
    } finally {
      await own.close()
    }
    // an adopted connection its owner closes: lost for good
    const nc = await rawClient()
    const adopted = create({ connection: nc })
    const events: string[] = []
    adopted.onLinkChange((e) => events.push(e.state))
    await adopted.listen('nats:0')
    await nc.close()
    await until('the adopted link lost', () => events.length === 1)
    assert.deepEqual(events, ['lost'])
  })
})

describe('nats transport - kernels', () => {
  const registry = new MemoryRegistry()
  const kernels: Kernel[] = []
  const node = async (nodeId: string, options: Partial<NatsTransportOptions> = {}) => {
    const kernel = await createKernel({
      nodeId,
      workers: 0,
      logger: captureLogger(),
      registry: new RegistryView(registry),
      transport: new NatsTransport({ servers: server.url, logger: { warn: () => {} }, ...options }),
      listen: 'nats:0',
      drainTimeoutMs: 1_000,
    })
    kernels.push(kernel)
    return kernel
  }
  before(() => registry.start())
  after(async () => {
    await Promise.all(kernels.map((k) => k.stop()))
    await registry.stop()
  })

  test('nats - two kernels: send, ask, errors and a stream cross over NATS', async () => {
    const a = await node('na')
    const b = await node('nb')
    assert.match(b.address!, /^nats:[A-Za-z0-9_-]+$/)
    await b.register(counter)
    await b.register(chat)
    const ref = a.ref<typeof counter>('counter/x')
    assert.equal(await ref.ask('add', { by: 2 }), 2)
    for (let i = 0; i < 100; i++) ref.send('add', { by: 1 })
    const many = await Promise.all(Array.from({ length: 500 }, () => ref.ask('add', { by: 0 })))
    assert.ok(
      many.every((n) => n === 102),
      'sends before asks, in order',
    )
    assert.equal(await b.ref<typeof counter>('counter/x').ask('get'), 102, 'the actor lives on b')
    assert.equal((await rejection(a.ref('counter/x').ask('nope'))).code, 'handler_not_found')

    const s = a.ref<typeof chat>('chat/s').stream('echo')
    const got: number[] = []
    const reading = (async () => {
      for await (const n of s) got.push(n)
    })()
    for (let i = 1; i <= 20; i++) await s.send(i)
    s.end()
    await reading
    await s.done
    assert.deepEqual(
      got,
      Array.from({ length: 20 }, (_, i) => (i + 1) * 2),
    )
  })

  test('nats - stream flow control: a slow reader holds the writer to its window across NATS', async () => {
    const a = await node('fa')
    const b = await node('fb')
    await b.register(chat)
    await assertWindowHeld(a.ref<typeof chat>('chat/slow'))
  })

  test('nats - an ask to a node nobody listens for (no responders) fails as unavailable, 503', async () => {
    const a = await node('ua', { reconnect: { initialMs: 20, maxMs: 100 } })
    await registry.register({
      name: 'ghost',
      version: '',
      metadata: {},
      endpoints: [],
      nodes: [{ id: 'ghost-node', address: `nats:${randomToken()}`, metadata: {} }],
    })
    const started = Date.now()
    const failed = await rejection(a.ref('ghost/x').ask('boo', undefined, { timeout: 5_000 }))
    assert.deepEqual([failed.status, failed.code], [503, ErrorCode.UNAVAILABLE])
    assert.ok(
      Date.now() - started < 2_000,
      `refused at once, not at the deadline (${Date.now() - started} ms)`,
    )
  })

  // last in the file: it restarts the file's server
  test('nats - the server restarted under traffic: asks fail fast or succeed, nothing hangs, traffic resumes', async () => {
    const fast = { heartbeatMs: 100, reconnectTimeWaitMs: 50, reconnect: { initialMs: 20, maxMs: 200 } }
    const a = await node('ra', fast)
    const b = await node('rb', fast)
    await b.register(counter)
    const ref = a.ref<typeof counter>('counter/r')
    assert.equal(await ref.ask('add', { by: 1 }), 1)
    let ok = 0
    let failed = 0
    let running = true
    const loops = Array.from({ length: 8 }, async () => {
      while (running) {
        try {
          await ref.ask('add', { by: 1 }, { timeout: 1_000 })
          ok++
        } catch {
          failed++
          await new Promise((r) => setTimeout(r, 20))
        }
      }
    })
    await until('traffic', () => ok > 200)
    await server.restart()
    const okAfterRestart = ok
    await until('traffic resumed after the restart', () => ok > okAfterRestart + 200, 20_000)
    running = false
    await Promise.all(loops) // every loop ends: no ask hung
    const n = await ref.ask('get')
    assert.ok(n >= ok + 1, `the counter (${n}) holds every acknowledged ask (${ok + 1}; ${failed} failed)`)
    // each kernel heard its link go and come back: its persistent actors would catch up
    for (const k of [a, b]) assert.ok((await k.stats()).catchUps >= 2, `${k.nodeId} caught up`)
  })
})
