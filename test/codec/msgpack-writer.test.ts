// The hand-written msgpack writer (thread-hop batches, message bodies) against msgpackr: what it writes, msgpackr reads back
// as the same values (every int, length and string class, metadata maps, control payloads); what it
// does not handle, it declines, so the channel packs that batch with msgpackr instead.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { Packr } from 'msgpackr'
import { MsgpackWriter } from '../../src/codec/msgpack-writer.ts'
import { F_ASK, F_CTRL, F_REPLY } from '../../src/kernel/frames.ts'
import { seeded } from '../helpers/seeded.ts'

const reader = new Packr({ useRecords: false, moreTypes: false, int64AsType: 'number' })
const roundTrip = (w: MsgpackWriter, batch: unknown[]): unknown => {
  const bytes = w.pack(batch)
  assert.ok(bytes !== undefined, 'declined a batch it should write')
  assert.equal(bytes.byteOffset, 0, 'the bytes own their buffer (it is transferred)')
  assert.equal(bytes.buffer.byteLength, bytes.byteLength)
  return reader.unpack(bytes)
}
const plain = (v: unknown): unknown =>
  v instanceof Uint8Array
    ? [...v]
    : Array.isArray(v)
      ? v.map(plain)
      : v !== null && typeof v === 'object'
        ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]))
        : v

describe('msgpack writer - the hand writer reads back through msgpackr', () => {
  test('msgpack writer - every integer class, positive and negative, and floats', () => {
    const w = new MsgpackWriter()
    const ints = [0, 1, 127, 128, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER]
    const values = [...ints, ...ints.map((n) => -n).filter((n) => n !== 0), -31, -32, -33, -128, -129]
    values.push(-32_768, -32_769, -(2 ** 31), -(2 ** 31) - 1, 1.5, -0.25, 1e300, Infinity, -Infinity)
    values.push(2 ** 60) // beyond the safe range: a float64, the same number back
    assert.deepEqual(roundTrip(w, [0, ...values]), [0, ...values])
    const nan = roundTrip(w, [0, NaN]) as number[]
    assert.ok(Number.isNaN(nan[1]))
  })

  test('msgpack writer - strings: short ASCII, long, non-ASCII, every length header', () => {
    const w = new MsgpackWriter()
    const strings = ['', 'a', 'bcounter/k3', 'x'.repeat(31), 'x'.repeat(32), 'y'.repeat(255), 'z'.repeat(256)]
    strings.push(
      'é',
      'kind/ïd',
      '日本語'.repeat(30),
      '🎉'.repeat(100),
      'w'.repeat(70_000),
      'ü'.repeat(40_000),
    )
    assert.deepEqual(roundTrip(w, [0, ...strings]), [0, ...strings])
  })

  test('msgpack writer - bodies of every bin length, nulls, booleans, nested arrays and maps', () => {
    const w = new MsgpackWriter()
    const bin = (n: number) => new Uint8Array(n).map((_, i) => (i * 31) & 0xff)
    const frames: unknown[][] = [
      [F_ASK, 7, 'counter/a', '', 'add', 1_764_680_000_000, null, null, bin(3)],
      [
        F_ASK,
        8,
        'counter/b',
        'x/1',
        'add',
        0,
        { trace: 'abc', 'Micro-From-Service': 'app' },
        'application/json',
        bin(0),
      ],
      [F_REPLY, 9, bin(16), null],
      [F_REPLY, 10, bin(17), 'application/json'],
      [F_REPLY, 11, bin(255), null],
      [F_REPLY, 12, bin(256), null],
      [F_REPLY, 13, bin(65_536), null],
      [
        F_CTRL,
        14,
        'kind',
        { kind: 'k', module: 'file:///m.ts', nested: { ok: true, no: false, list: [1, 'a', null] } },
      ],
      [F_CTRL, 15, 'stats', null],
      Array.from({ length: 20 }, (_, i) => i),
      Array.from({ length: 70_000 }, (_, i) => i & 0x7f),
    ]
    const map16 = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, `v${i}`]))
    frames.push([F_CTRL, 16, 'md', map16])
    assert.deepEqual(plain(roundTrip(w, [3, ...frames])), plain([3, ...frames]))
  })

  test('msgpack writer - the scratch buffer grows past its first size and is reused for smaller batches', () => {
    const w = new MsgpackWriter()
    const big = new Uint8Array(300_000).fill(9)
    const a = roundTrip(w, [0, [F_REPLY, 1, big, null]]) as [number, [number, number, Uint8Array, null]]
    assert.equal(a[1][2].byteLength, 300_000)
    assert.ok(a[1][2].every((x) => x === 9))
    const b = w.pack([0, [F_REPLY, 2, new Uint8Array([1]), null]])!
    assert.equal(b.buffer.byteLength, b.byteLength, 'a small batch after a big one is copied out exactly')
    assert.deepEqual(plain(reader.unpack(b)), [0, [F_REPLY, 2, [1], null]])
  })

  test('msgpack writer - declines what it does not write, and writes again afterwards', () => {
    const w = new MsgpackWriter()
    class Thing {
      x = 1
    }
    let deep: unknown[] = [1]
    for (let i = 0; i < 20; i++) deep = [deep]
    for (const odd of [
      undefined,
      10n,
      new Map([[1, 2]]),
      new Date(0),
      new Thing(),
      () => 1,
      Symbol('s'),
      deep,
    ]) {
      assert.equal(w.pack([0, [F_CTRL, 1, 'x', odd]]), undefined, `should decline ${String(odd)}`)
      assert.equal(w.pack([0, [F_CTRL, 1, 'x', { inside: odd }]]), undefined)
    }
    assert.deepEqual(roundTrip(w, [0, [F_REPLY, 1, null, null]]), [0, [F_REPLY, 1, null, null]])
  })

  test('msgpack writer - random frames round trip (seeded)', () => {
    const w = new MsgpackWriter()
    const rnd = seeded(42)
    const str = () => {
      const n = Math.floor(rnd() * 40)
      let s = ''
      for (let i = 0; i < n; i++)
        s += String.fromCharCode(
          rnd() < 0.9 ? 32 + Math.floor(rnd() * 90) : 0x100 + Math.floor(rnd() * 0x700),
        )
      return s
    }
    for (let round = 0; round < 200; round++) {
      const batch: unknown[] = [Math.floor(rnd() * 1000)]
      const frames = 1 + Math.floor(rnd() * 50)
      for (let i = 0; i < frames; i++) {
        const md = rnd() < 0.3 ? { [str()]: str() } : null
        const body = new Uint8Array(Math.floor(rnd() * 300)).map(() => Math.floor(rnd() * 256))
        const id = Math.floor(rnd() * 2 ** 40)
        batch.push([
          F_ASK,
          id,
          str(),
          str(),
          str(),
          Math.floor(rnd() * 2 ** 45),
          md,
          rnd() < 0.5 ? null : str(),
          body,
        ])
      }
      assert.deepEqual(plain(roundTrip(w, batch)), plain(batch))
    }
  })
})

describe('msgpack writer - shared views (message bodies)', () => {
  test('msgpack writer - views handed out stay intact across later values, slab rollovers and growth', () => {
    const w = new MsgpackWriter()
    const kept: [Uint8Array, unknown][] = []
    const rnd = seeded(7)
    for (let i = 0; i < 5_000; i++) {
      // mostly small bodies, now and then one larger than a whole slab
      const value =
        i % 997 === 0
          ? { big: new Uint8Array(100_000).fill(i & 0xff), i }
          : { i, s: 'x'.repeat(Math.floor(rnd() * 300)), list: [i, -i, i / 2] }
      const bytes = w.packShared(value)
      assert.ok(bytes !== undefined)
      kept.push([bytes, value])
      if (i % 13 === 0) assert.equal(w.packShared({ odd: new Date(i) }), undefined, 'declined')
    }
    for (const [bytes, value] of kept) assert.deepEqual(plain(reader.unpack(bytes)), plain(value))
  })

  test('msgpack writer - a declined value leaves no bytes behind: the next view starts where it would have', () => {
    const w = new MsgpackWriter()
    const a = w.packShared({ a: 1 })!
    assert.equal(w.packShared({ a: 1, later: undefined }), undefined)
    const b = w.packShared({ b: 2 })!
    assert.equal(b.byteOffset, a.byteOffset + a.byteLength, 'the declined attempt was written over')
    assert.deepEqual(reader.unpack(a), { a: 1 })
    assert.deepEqual(reader.unpack(b), { b: 2 })
  })
})
