// The hand-written envelope codec against the reference (msgpackr plus the checks of envelope.ts):
// its bytes are the standard msgpack map msgpackr reads back as the same envelope, it reads what
// msgpackr writes, it declines what it does not handle (so the reference decides, with its exact
// errors), and random damage to a frame gets the same answer from both paths.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { Packr } from 'msgpackr'
import { MicaError } from '../../src/errors.ts'
import {
  appendEnvelope,
  decodeEnvelope,
  encodeEnvelope,
  packEnvelope,
  unpackEnvelope,
  type Envelope,
} from '../../src/transport/envelope.ts'
import { readEnvelope } from '../../src/transport/envelope-read.ts'
import { Outbox } from '../../src/transport/outbox.ts'
import { seeded } from '../helpers/seeded.ts'
import { everyKind, normalize } from './util.ts'

const raw = new Packr({ useRecords: false, int64AsType: 'number' })

/** Envelopes the hand codec writes itself: no metadata, no error; every int and length class. */
function fastKinds(): Envelope[] {
  const out: Envelope[] = []
  const body = (n: number) => new Uint8Array(n).map((_, i) => i * 7)
  for (const id of [
    0,
    1,
    127,
    128,
    255,
    256,
    65_535,
    65_536,
    2 ** 32 - 1,
    2 ** 32,
    Number.MAX_SAFE_INTEGER,
  ]) {
    out.push({
      t: 'ask',
      id,
      to: 'bcounter/k0',
      from: 'node-1',
      h: 'add',
      dl: Date.now() + 5_000,
      b: body(5),
    })
  }
  for (const n of [0, 1, 16, 17, 255, 256, 65_535, 65_536]) out.push({ t: 'reply', id: 9, b: body(n) })
  for (const s of [
    '',
    'a',
    'x'.repeat(31),
    'x'.repeat(32),
    'y'.repeat(255),
    'z'.repeat(256),
    'ü-7',
    'naïve/€',
  ]) {
    out.push({ t: 'send', to: s, h: 'h', ct: s, from: s })
  }
  out.push({ t: 'stream-credit', id: 3, n: 64 }, { t: 'stream-end', id: 3 }, { t: 'ping' })
  out.push(
    { t: 'publish', to: 'orders.created', b: body(3) },
    { t: 'stream-open', id: 1, to: 'a/', h: 'x', n: 1 },
  )
  return out
}

/** What `decode` answers for `bytes`: the envelope (or bytes), or the error's code and detail. */
function outcome(decode: (b: Uint8Array) => Envelope | Uint8Array, bytes: Uint8Array): unknown {
  try {
    const got = decode(bytes)
    return got instanceof Uint8Array ? Buffer.from(got) : normalize(got)
  } catch (err) {
    assert.ok(err instanceof MicaError, String(err))
    return { code: err.code, detail: err.detail }
  }
}

describe('envelope codec - the same msgpack as the reference', () => {
  test('envelope codec - its bytes decode with msgpackr to the same map', () => {
    for (const env of [...fastKinds(), ...everyKind()]) {
      const bytes = encodeEnvelope(env)
      const { v, ...rest } = raw.unpack(bytes) as Record<string, unknown>
      assert.equal(v, 1)
      assert.deepEqual(normalize(rest as unknown as Envelope), normalize(env))
      assert.deepEqual(normalize(decodeEnvelope(bytes)), normalize(env))
      assert.deepEqual(normalize(unpackEnvelope(bytes)), normalize(env))
    }
  })

  test('envelope codec - it reads what msgpackr writes, in any key order', () => {
    for (const env of fastKinds()) {
      const reversed = Object.fromEntries(Object.entries({ v: 1, ...env }).reverse())
      for (const bytes of [packEnvelope(env), raw.pack(reversed)]) {
        assert.deepEqual(normalize(decodeEnvelope(bytes)), normalize(env))
      }
    }
  })

  test('envelope codec - the common frames are its own (not the reference)', () => {
    const ask: Envelope = {
      t: 'ask',
      id: 7,
      to: 'bcounter/k0',
      from: 'n1',
      h: 'add',
      dl: 2 ** 41,
      b: new Uint8Array(3),
    }
    for (const env of [ask, { t: 'reply', id: 7, b: new Uint8Array(1) } as Envelope]) {
      assert.ok(readEnvelope(encodeEnvelope(env)) !== undefined)
      assert.ok(readEnvelope(packEnvelope(env)) !== undefined, 'msgpackr’s float64 deadline too')
    }
    const buf = Buffer.alloc(200)
    const end = appendEnvelope(ask, buf, 10, { need: 0 })
    assert.deepEqual(normalize(decodeEnvelope(buf.subarray(10, end))), normalize(ask))
    assert.equal(appendEnvelope(ask, Buffer.alloc(20), 0, { need: 0 }), -1, 'no room: declined')
  })

  test('envelope codec - it declines, and the reference decides: nil, unknown keys, md, e, floats, non-ASCII', () => {
    const cases: Record<string, unknown>[] = [
      { v: 1, t: 'send', to: 'a/', h: 'x', md: null, dl: null, extra: 'x', b: null },
      { v: 1, t: 'send', to: 'a/', h: 'x', md: { k: 'v' } },
      { v: 1, t: 'error', id: 1, e: { id: 'a', code: 'c', detail: 'd', status: 500 } },
      { v: 1, t: 'ask', id: 1, to: 'a/', h: 'x', dl: 1.5e12 },
      { v: 1, t: 'send', to: 'ä/', h: 'x' },
      { v: 1, t: 'send', to: 'a/', h: 'x', [''.padEnd(3, 'k')]: 1 },
    ]
    for (const value of cases) {
      const bytes = raw.pack(value)
      assert.deepEqual(outcome(decodeEnvelope, bytes), outcome(unpackEnvelope, bytes))
    }
    assert.equal(readEnvelope(raw.pack(cases[1])), undefined)
    assert.equal(readEnvelope(raw.pack(cases[5])), undefined)
  })

  test('envelope codec - every refusal is the reference’s, with its code and detail', () => {
    const bad: unknown[] = [
      { v: 2, t: 'send', to: 'a/', h: 'x' },
      { v: 1, t: 'bogus', to: 'a/', h: 'x' },
      { v: 1, t: 'ask', to: 'a/', h: 'x' },
      { v: 1, t: 'ask', id: -1, to: 'a/', h: 'x' },
      { v: 1, t: 'ask', id: 2 ** 60, to: 'a/', h: 'x' },
      { v: 1, t: 'stream-credit', id: 1, n: 0 },
      { v: 1, t: 'send', to: 5, h: 'x' },
      { v: 1, t: 'send', to: 'a/', h: Buffer.from('x') },
      { v: 1, t: 'reply', id: 1, b: 'text' },
      { v: 1, t: null },
      { t: 'send', to: 'a/', h: 'x' },
    ]
    for (const value of bad) {
      const bytes = raw.pack(value)
      const expected = outcome(unpackEnvelope, bytes)
      assert.ok(!('t' in (expected as object)), `refused: ${JSON.stringify(value)}`)
      assert.deepEqual(outcome(decodeEnvelope, bytes), expected)
    }
    const frame = encodeEnvelope({ t: 'ask', id: 1, to: 'a/b', h: 'x', b: new Uint8Array(40) })
    for (let cut = 0; cut < frame.length; cut++) {
      const bytes = frame.subarray(0, cut)
      assert.deepEqual(outcome(decodeEnvelope, bytes), outcome(unpackEnvelope, bytes), `cut at ${cut}`)
    }
    const longer = Buffer.concat([frame, Buffer.from([0])])
    assert.deepEqual(outcome(decodeEnvelope, longer), outcome(unpackEnvelope, longer))
  })

  test('envelope codec - random damage gets the same answer from both paths', () => {
    const random = seeded(42)
    const frames = fastKinds().map((env) => Buffer.from(encodeEnvelope(env)))
    for (let round = 0; round < 5_000; round++) {
      const bytes = Buffer.from(frames[Math.floor(random() * frames.length)]!)
      const hits = 1 + Math.floor(random() * 3)
      for (let i = 0; i < hits; i++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256)
      assert.deepEqual(outcome(decodeEnvelope, bytes), outcome(unpackEnvelope, bytes), bytes.toString('hex'))
    }
  })

  test('envelope codec - encode refuses as the reference does', () => {
    const bad = [
      { t: 'ask', id: 1.5, to: 'a/', h: 'x' },
      { t: 'send', to: 'a/', h: 7 },
      { t: 'reply', id: 1, b: 'x' },
      { t: 'stream-credit', id: 1, n: 0 },
      { t: 'send', to: 'a/', h: 'x', dl: -1 },
    ] as unknown as Envelope[]
    for (const env of bad) {
      const expected = outcome(() => packEnvelope(env), new Uint8Array(0))
      assert.deepEqual(
        outcome(() => encodeEnvelope(env), new Uint8Array(0)),
        expected,
      )
      const outbox = new Outbox(1 << 20)
      assert.deepEqual(
        outcome(() => (outbox.pushEnvelope(env, 1 << 20), env), new Uint8Array(0)),
        expected,
      )
      assert.equal(outbox.queuedFrames, 0)
    }
  })
})

describe('envelope codec - the outbox writes frames in place', () => {
  test('envelope codec - frames across slabs come out whole and in order', () => {
    const writes: Buffer[] = []
    const outbox = new Outbox(1 << 26)
    outbox.attach({ writableLength: 0, write: (d) => (writes.push(Buffer.from(d)), true) })
    const sent: Envelope[] = []
    for (let i = 0; i < 3_000; i++) {
      const env: Envelope =
        i % 100 === 7
          ? { t: 'reply', id: i, b: new Uint8Array(70_000 + i) } // bigger than a slab
          : {
              t: 'ask',
              id: i,
              to: `k/${i}`,
              h: 'add',
              md: i % 3 === 0 ? { i: String(i) } : undefined,
              b: new Uint8Array(9),
            }
      assert.equal(outbox.pushEnvelope(env, 1 << 20), true)
      sent.push(env)
    }
    outbox.flushNow()
    const all = Buffer.concat(writes)
    const got: Envelope[] = []
    for (let at = 0; at < all.length;) {
      const len = all.readUInt32BE(at)
      got.push(decodeEnvelope(all.subarray(at + 4, at + 4 + len)))
      at += 4 + len
    }
    assert.equal(got.length, sent.length)
    for (let i = 0; i < sent.length; i++) {
      const expected = { ...sent[i]! }
      if (expected.md === undefined) delete expected.md
      assert.deepEqual(normalize(got[i]!), normalize(expected))
    }
  })

  test('envelope codec - an envelope over the frame limit is refused before it is queued', () => {
    const outbox = new Outbox(1 << 20)
    assert.throws(
      () => outbox.pushEnvelope({ t: 'reply', id: 1, b: new Uint8Array(2_000) }, 1_000),
      (err: unknown) => err instanceof MicaError && err.code === 'message_too_large',
    )
    assert.equal(outbox.queuedBytes, 0)
    assert.equal(outbox.pushEnvelope({ t: 'reply', id: 1, b: new Uint8Array(900) }, 1_000), true)
  })
})
