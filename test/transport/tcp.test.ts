// The TCP transport: the shared contract, then what only a socket can get wrong: bad bytes from a raw
// client close that connection alone (before an oversized body is read), a reader that stops reading
// makes `send` refuse with bounded memory, and heartbeats close a silent connection.
import { test, describe, beforeEach, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { Packr } from 'msgpackr'
import { TcpTransport } from '../../src/transport/tcp.ts'
import { backoffDelay, resolveCommonOptions } from '../../src/transport/options.ts'
import { BadRequestError, ErrorCode, UnavailableError } from '../../src/errors.ts'
import { decodeEnvelope, encodeEnvelope } from '../../src/transport/envelope.ts'
import { FrameReader } from '../../src/transport/framing.ts'
import type { Peer } from '../../src/transport/transport.ts'
import { transportContract } from './contract.ts'
import { frame, handles, logger, Recorder, unusedTcpAddress, until } from './util.ts'

transportContract({
  name: 'tcp',
  any: '127.0.0.1:0',
  create: (options) => new TcpTransport(options),
  unused: unusedTcpAddress,
})

const raw = new Packr({ useRecords: false })
const MiB = 1024 * 1024

/** Connects a raw socket, writes `chunks`, optionally ends; resolves when the socket closes. */
function rawClient(address: string, chunks: Buffer[], end = false) {
  const [host, port] = address.split(':')
  const socket = net.connect({ host, port: Number(port) })
  const received: Buffer[] = []
  let endedByServer = false
  socket.on('data', (chunk: Buffer) => received.push(chunk))
  socket.on('end', () => (endedByServer = !end))
  socket.on('error', () => {}) // a reset is one way the server may close it
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()))
  socket.on('connect', () => {
    for (const chunk of chunks) socket.write(chunk)
    if (end) socket.end()
  })
  return { socket, closed, received, byServer: () => endedByServer || socket.destroyed }
}

describe('tcp transport - bad input closes that connection only', () => {
  let server: TcpTransport
  let client: TcpTransport
  let address: string
  let log: ReturnType<typeof logger>
  let atServer: Recorder
  let good: Peer

  beforeEach(async () => {
    log = logger()
    server = new TcpTransport({ logger: log, maxFrameBytes: 64 * 1024, maxQueuedBytes: MiB })
    atServer = new Recorder(server)
    server.onEnvelope((env, peer) => peer.send(env))
    address = await server.listen('127.0.0.1:0')
    client = new TcpTransport({ logger: logger() })
    good = client.connect(address)
    good.send({ t: 'send', to: 'a/', h: 'before' })
    await atServer.received(1)
  })

  afterEach(async () => {
    await Promise.all([server.stop(), client.stop()])
  })

  /** The connection that was up before keeps working, and a new one is served. */
  async function stillServing(): Promise<void> {
    const n = atServer.envelopes.length
    good.send({ t: 'send', to: 'a/', h: 'after' })
    const fresh = new TcpTransport({ logger: logger() })
    try {
      fresh.connect(address).send({ t: 'send', to: 'a/', h: 'fresh' })
      await atServer.received(n + 2)
      assert.deepEqual(
        atServer.envelopes
          .slice(n)
          .map((e) => e.h)
          .sort(),
        ['after', 'fresh'],
      )
      assert.equal(good.connected, true)
    } finally {
      await fresh.stop()
    }
  }

  const cases: [string, () => Buffer[], RegExp][] = [
    [
      'garbage (an HTTP request)',
      () => [Buffer.from('GET / HTTP/1.1\r\nHost: mica\r\n\r\n')],
      /exceeds the limit/,
    ],
    [
      'garbage (bytes that are no msgpack)',
      () => [frame(Buffer.from([0xc1, 0xc1, 0xc1]))],
      /not a msgpack envelope/,
    ],
    ['an unknown frame kind', () => [frame(raw.pack({ v: 1, t: 'bogus' }))], /unknown frame kind "bogus"/],
    ['a wrong version', () => [frame(raw.pack({ v: 2, t: 'send', to: 'a/', h: 'x' }))], /envelope version 2/],
    [
      'a wrong field type',
      () => [frame(raw.pack({ v: 1, t: 'ask', id: '1', to: 'a/', h: 'x' }))],
      /field id/,
    ],
    ['an empty frame', () => [frame(Buffer.alloc(0))], /not a msgpack envelope/],
  ]
  for (const [what, bytes, reason] of cases) {
    test(`tcp - ${what} closes the connection with a logged reason`, async () => {
      // a good frame ahead of the bad one, in the same write, is still delivered
      const ok = frame(encodeEnvelope({ t: 'send', to: 'a/', h: 'ahead' }))
      const bad = rawClient(address, [Buffer.concat([ok, ...bytes()])])
      await bad.closed
      assert.ok(bad.byServer(), 'the server closed it')
      assert.ok(atServer.envelopes.some((e) => e.h === 'ahead'))
      assert.equal(log.warnings.length, 1, log.warnings.join('\n'))
      assert.match(log.warnings[0]!, /closing connection from 127\.0\.0\.1:\d+: bad input: /)
      assert.match(log.warnings[0]!, reason)
      await stillServing()
    })
  }

  test('tcp - a 100 MB length prefix is refused before any body is read or allocated', async () => {
    const before = process.memoryUsage().arrayBuffers
    const prefix = Buffer.alloc(4)
    prefix.writeUInt32BE(100_000_000)
    const bad = rawClient(address, [prefix, Buffer.alloc(16 * 1024, 1)])
    await bad.closed
    assert.ok(bad.byServer())
    assert.match(log.warnings[0] ?? '', /frame of 100000000 bytes exceeds the limit of 65536 bytes/)
    const grown = process.memoryUsage().arrayBuffers - before
    assert.ok(grown < 16 * MiB, `array buffers grew by ${grown} bytes`)
    await stillServing()
  })

  test('tcp - a frame cut short by a close is logged', async () => {
    const prefix = Buffer.alloc(4)
    prefix.writeUInt32BE(100)
    const bad = rawClient(address, [prefix, Buffer.alloc(10)], true)
    await bad.closed
    await until('the warning', () => log.warnings.length === 1)
    assert.match(log.warnings[0]!, /closed in the middle of a frame \(14 bytes received\)/)
    await stillServing()
  })
})

describe('tcp transport - back-pressure and heartbeats', () => {
  test('tcp - a peer that stops reading: send refuses, memory stays bounded, nothing is lost', async () => {
    const sockets: net.Socket[] = []
    const sink = net.createServer((socket) => {
      socket.pause() // reads nothing: the kernel buffers fill, then the client's socket, then its queue
      sockets.push(socket)
    })
    await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve))
    const { port } = sink.address() as net.AddressInfo
    const client = new TcpTransport({ maxFrameBytes: 128 * 1024, maxQueuedBytes: MiB, heartbeatMs: 60_000 })
    try {
      const peer = client.connect(`127.0.0.1:${port}`)
      const body = Buffer.alloc(64 * 1024, 7)
      const before = process.memoryUsage().arrayBuffers
      let sent = 0
      let refused = false
      for (let tick = 0; tick < 4_000 && !refused; tick++) {
        for (let i = 0; i < 4 && !refused; i++) {
          if (peer.send({ t: 'send', to: 'a/', h: 'x', b: body })) sent++
          else refused = true
        }
        await new Promise((resolve) => setImmediate(resolve))
      }
      assert.ok(refused, `send never refused after ${sent} frames`)
      assert.ok(sent * body.length > 2 * MiB, 'the socket took frames before the queue filled')
      // keep pushing for a while: everything is refused and the queue does not grow
      for (let tick = 0; tick < 50; tick++) {
        assert.equal(peer.send({ t: 'send', to: 'a/', h: 'x', b: body }), false)
        await new Promise((resolve) => setImmediate(resolve))
      }
      assert.ok(peer.queuedBytes <= MiB, `queued ${peer.queuedBytes}`)
      // garbage included (no forced GC here): about two copies of what was sent, never unbounded
      const grown = process.memoryUsage().arrayBuffers - before
      assert.ok(
        grown < 3 * sent * body.length + 4 * MiB,
        `array buffers grew by ${grown} bytes for ${sent} frames`,
      )

      // the reader resumes: every accepted frame arrives, in order, and send accepts again
      const reader = new FrameReader(128 * 1024)
      let frames = 0
      sockets[0]!.on('data', (chunk: Buffer) =>
        reader.push(chunk, (f) => (frames += decodeEnvelope(f).b ? 1 : 0)),
      )
      sockets[0]!.resume()
      await until(`${sent} frames at the reader (have ${frames})`, () => frames === sent, 10_000)
      assert.equal(peer.send({ t: 'send', to: 'a/', h: 'x', b: body }), true)
    } finally {
      await client.stop()
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => sink.close(() => resolve()))
    }
  })

  test('tcp - heartbeats: a silent connection is closed, a quiet one is kept alive by pings', async () => {
    const log = logger()
    const server = new TcpTransport({ heartbeatMs: 40, logger: log })
    const atServer = new Recorder(server)
    const client = new TcpTransport({ heartbeatMs: 40, logger: logger() })
    const atClient = new Recorder(client)
    try {
      const address = await server.listen('127.0.0.1:0')
      const quiet = client.connect(address)
      quiet.send({ t: 'send', to: 'a/', h: 'hello' })
      const started = Date.now()
      const silent = rawClient(address, [])
      await silent.closed
      const after = Date.now() - started
      assert.ok(after >= 100 && after < 1_000, `closed after ${after} ms`)
      assert.ok(silent.byServer())
      assert.match(
        log.warnings.join('\n'),
        /closing connection from .*: silent for \d+ ms \(heartbeat every 40 ms\)/,
      )
      // the silent client was pinged meanwhile: the pings are plain frames
      const reader = new FrameReader(1024)
      const pings: unknown[] = []
      for (const chunk of silent.received) reader.push(chunk, (f) => pings.push(raw.unpack(f)))
      assert.ok(pings.length >= 2)
      assert.deepEqual(pings[0], { v: 1, t: 'ping' })

      await new Promise((resolve) => setTimeout(resolve, 300)) // > 7 heartbeats with no traffic
      assert.equal(quiet.connected, true)
      assert.equal(atClient.downs.length, 0)
      assert.deepEqual(
        atServer.envelopes.map((e) => e.h),
        ['hello'],
        'pings are not delivered',
      )
      assert.equal(atServer.downs.length, 1, 'only the silent connection went down')
    } finally {
      await Promise.all([server.stop(), client.stop()])
    }
  })
})

describe('tcp transport - options', () => {
  test('tcp - invalid options and addresses are refused with exact messages', async () => {
    const invalid = (options: ConstructorParameters<typeof TcpTransport>[0], detail: RegExp) =>
      assert.throws(
        () => new TcpTransport(options),
        (err: unknown) =>
          err instanceof BadRequestError && err.code === ErrorCode.INVALID_OPTIONS && detail.test(err.detail),
      )
    invalid({ heartbeatMs: 0 }, /heartbeatMs must be a positive integer, got 0/)
    invalid({ maxFrameBytes: 1.5 }, /maxFrameBytes must be a positive integer/)
    invalid({ reconnect: { maxMs: -1 } }, /reconnect.maxMs must be a positive integer/)
    invalid({ maxFrameBytes: 1_000, maxQueuedBytes: 1_000 }, /maxQueuedBytes \(1000\) must hold one frame/)
    const transport = new TcpTransport({ logger: logger() })
    for (const address of ['localhost', '127.0.0.1:99999', 'tcp://127.0.0.1:80', ':80', '[::1]']) {
      assert.throws(
        () => transport.connect(address),
        (err: unknown) => err instanceof BadRequestError && err.code === ErrorCode.INVALID_ADDRESS,
        address,
      )
    }
    assert.equal(transport.connect('[::1]:4000').address, '[::1]:4000')
    await transport.stop()
  })

  test('tcp - stop while listen is binding leaves nothing listening', async () => {
    const before = handles()
    const transport = new TcpTransport({ logger: logger() })
    const listening = assert.rejects(transport.listen('127.0.0.1:0'), UnavailableError)
    await transport.stop()
    await listening
    assert.deepEqual(handles(), before)
  })

  test('tcp - reconnect backoff doubles, is capped, and jitters within [50%, 100%]', () => {
    const base = resolveCommonOptions('tcp', { reconnect: { initialMs: 100, maxMs: 1_000 } })
    const at = (random: number) => (attempt: number) =>
      backoffDelay({ ...base, random: () => random }, attempt)
    assert.deepEqual([0, 1, 2, 3, 4, 10].map(at(0.999_999)), [100, 200, 400, 800, 1_000, 1_000])
    assert.deepEqual([0, 1, 2, 3, 4, 10].map(at(0)), [50, 100, 200, 400, 500, 500])
  })
})
