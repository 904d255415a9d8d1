// The byte-level pieces of the TCP transport: the frame reader (split anywhere, oversized prefixes
// refused from the prefix alone) and the outbox (one write per tick, back-pressure, bounded queue).
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { BadRequestError, ErrorCode } from '../../src/errors.ts'
import { FrameReader } from '../../src/transport/framing.ts'
import { Outbox, type OutboxSink } from '../../src/transport/outbox.ts'
import { frame } from './util.ts'

const tick = () => new Promise((resolve) => setImmediate(resolve))
const bodies = [Buffer.from('a'), Buffer.alloc(0), Buffer.from('hello world'), Buffer.alloc(3000, 9)]
const stream = Buffer.concat(bodies.map(frame))

function readAll(reader: FrameReader, chunks: Buffer[]): Buffer[] {
  const out: Buffer[] = []
  for (const chunk of chunks) reader.push(chunk, (body) => out.push(Buffer.from(body)))
  return out
}

describe('framing - frame reader', () => {
  test('framing - frames split at any byte come out whole and in order', () => {
    assert.deepEqual(readAll(new FrameReader(4096), [stream]), bodies)
    const bytewise = Array.from(stream, (byte) => Buffer.from([byte]))
    assert.deepEqual(readAll(new FrameReader(4096), bytewise), bodies)
    for (let cut = 1; cut < stream.length; cut += 97) {
      const parts = [stream.subarray(0, cut), stream.subarray(cut)]
      assert.deepEqual(readAll(new FrameReader(4096), parts), bodies, `cut at ${cut}`)
    }
  })

  test('framing - a frame inside one chunk is a view, not a copy', () => {
    const seen: Buffer[] = []
    new FrameReader(4096).push(stream, (body) => seen.push(body))
    assert.equal(seen[2]!.buffer, stream.buffer)
  })

  test('framing - an oversized length is refused from its prefix, with the body never sent', () => {
    const reader = new FrameReader(1000)
    const prefix = Buffer.alloc(4)
    prefix.writeUInt32BE(1001)
    reader.push(prefix.subarray(0, 3), () => assert.fail('no frame'))
    assert.equal(reader.partialBytes, 3)
    assert.throws(
      () => reader.push(prefix.subarray(3), () => assert.fail('no frame')),
      (err: unknown) => err instanceof BadRequestError && err.code === ErrorCode.MESSAGE_TOO_LARGE,
    )
  })

  test('framing - partialBytes tells a frame cut short from a clean end', () => {
    const reader = new FrameReader(4096)
    readAll(reader, [stream])
    assert.equal(reader.partialBytes, 0)
    // 'a' (5 bytes), the empty frame (4), then 10 bytes of 'hello world' (prefix + 6 of its 11)
    readAll(reader, [stream.subarray(0, 19)])
    assert.equal(reader.partialBytes, 10)
  })
})

class FakeSink implements OutboxSink {
  writes: Buffer[] = []
  writableLength = 0
  accept = true
  write(data: Uint8Array): boolean {
    this.writes.push(Buffer.from(data))
    this.writableLength += data.byteLength
    return this.accept
  }
}

describe('framing - outbox', () => {
  test('framing - frames pushed in one tick leave in one write', async () => {
    let writes = 0
    const outbox = new Outbox(1 << 20, () => writes++)
    const sink = new FakeSink()
    outbox.attach(sink)
    for (const body of bodies) assert.equal(outbox.push(body), true)
    assert.equal(sink.writes.length, 0, 'nothing is written before the end of the tick')
    await tick()
    assert.equal(sink.writes.length, 1)
    assert.equal(writes, 1)
    assert.deepEqual(sink.writes[0], stream)
  })

  test('framing - a full socket holds frames until drained; the bound counts its buffer too', async () => {
    const outbox = new Outbox(100)
    const sink = new FakeSink()
    sink.accept = false
    outbox.attach(sink)
    outbox.push(Buffer.alloc(40)) // 44 bytes
    await tick()
    assert.equal(sink.writes.length, 1)
    assert.equal(outbox.push(Buffer.alloc(40)), true) // 88 of 100
    assert.equal(outbox.push(Buffer.alloc(10)), false) // 102 > 100
    await tick()
    assert.equal(sink.writes.length, 1, 'blocked until drain')
    sink.writableLength = 0
    sink.accept = true
    outbox.drained()
    await tick()
    assert.equal(sink.writes.length, 2)
    assert.equal(outbox.queuedBytes, 44)
  })

  test('framing - frames outlive a socket; clear drops them', async () => {
    const outbox = new Outbox(1000)
    outbox.push(Buffer.from('x'))
    await tick()
    assert.equal(outbox.queuedFrames, 1, 'no socket: it waits')
    const first = new FakeSink()
    outbox.attach(first)
    outbox.detach()
    await tick()
    assert.equal(first.writes.length, 0)
    const second = new FakeSink()
    outbox.attach(second)
    await tick()
    assert.deepEqual(second.writes, [frame(Buffer.from('x'))])
    outbox.push(Buffer.from('y'))
    outbox.clear()
    await tick()
    assert.equal(second.writes.length, 1)
    assert.equal(outbox.queuedBytes, 0)
  })
})
