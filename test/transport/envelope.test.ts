// The wire envelope: every kind round trips, absent fields are omitted, and decode refuses bad bytes,
// a wrong version, an unknown kind, wrong field types, missing fields and oversized metadata with a
// typed error (encode refuses the same, so a bad envelope fails its sender).
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { Packr } from 'msgpackr'
import { BadRequestError, ErrorCode, MicaError, NotFoundError } from '../../src/errors.ts'
import {
  decodeEnvelope,
  encodeEnvelope,
  FrameKind,
  MAX_METADATA_BYTES,
  MAX_METADATA_ENTRIES,
  type Envelope,
} from '../../src/transport/envelope.ts'
import { everyKind, normalize } from './util.ts'

const raw = new Packr({ useRecords: false })
const decodeRaw = (value: unknown) => decodeEnvelope(raw.pack(value))

function assertRefused(fn: () => unknown, code: string, detail?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof BadRequestError, `expected BadRequestError, got ${String(err)}`)
    assert.equal(err.status, 400)
    assert.equal(err.code, code)
    if (detail) assert.match(err.detail, detail)
    return true
  })
}

describe('envelope - round trip', () => {
  test('envelope - every kind round trips with all its fields', () => {
    const kinds = everyKind()
    assert.deepEqual(new Set(kinds.map((e) => e.t)), new Set(Object.values(FrameKind)))
    for (const env of kinds) assert.deepEqual(normalize(decodeEnvelope(encodeEnvelope(env))), env)
  })

  test('envelope - absent fields are omitted and the version is written', () => {
    const bytes = encodeEnvelope({ t: 'send', to: 'greeter/', h: 'hello' })
    assert.deepEqual(raw.unpack(bytes), { v: 1, t: 'send', to: 'greeter/', h: 'hello' })
    const ping = encodeEnvelope({ t: 'ping' })
    assert.deepEqual(raw.unpack(ping), { v: 1, t: 'ping' })
    assert.ok(ping.byteLength <= 12)
  })

  test('envelope - b is msgpack bin, and a foreign encoder’s map decodes', () => {
    const bytes = encodeEnvelope({ t: 'reply', id: 3, b: new Uint8Array([1, 2, 3]) })
    // 0xc4 = bin 8: the body is bytes on the wire, not an array or a string
    assert.ok(Buffer.from(bytes).includes(Buffer.from([0xc4, 3, 1, 2, 3])))
    const env = decodeRaw({ t: 'ask', v: 1, id: 1, to: 'a/b', h: 'x', b: Buffer.from('hi') })
    assert.equal(Buffer.from(env.b ?? []).toString(), 'hi')
  })

  test('envelope - nil counts as absent and unknown keys are dropped', () => {
    const env = decodeRaw({ v: 1, t: 'send', to: 'a/', h: 'x', md: null, dl: null, extra: 'x', b: null })
    assert.deepEqual(env, { t: 'send', to: 'a/', h: 'x' })
  })

  test('envelope - an error frame carries { id, code, detail, status } and rebuilds its class', () => {
    const e = { ...new NotFoundError('actor_not_found', 'no cart 7', 'cart').toWire(), stack: 'x' }
    const env = decodeEnvelope(encodeEnvelope({ t: 'error', id: 9, e }))
    assert.deepEqual(env.e, { id: 'cart', code: 'actor_not_found', detail: 'no cart 7', status: 404 })
    const rebuilt = MicaError.fromWire(env.e)
    assert.ok(rebuilt instanceof NotFoundError)
  })
})

describe('envelope - decode refuses', () => {
  test('envelope - bytes that are not one msgpack map', () => {
    for (const bytes of [
      Buffer.alloc(0),
      Buffer.from('hello world'),
      Buffer.concat([encodeEnvelope({ t: 'ping' }), Buffer.from([1])]),
      encodeEnvelope({ t: 'ping' }).subarray(0, 4),
    ]) {
      assertRefused(() => decodeEnvelope(bytes), ErrorCode.DECODE_FAILED, /not a msgpack envelope/)
    }
    for (const value of [[1, 'send'], 42, 'send', Buffer.from([1]), null, new Date(0)]) {
      assertRefused(() => decodeRaw(value), ErrorCode.DECODE_FAILED, /must be a msgpack map/)
    }
    // 0xc1 is "never used" in msgpack; msgpackr decodes it as a marker object
    assertRefused(() => decodeEnvelope(Buffer.from([0xc1])), ErrorCode.DECODE_FAILED, /must be a msgpack map/)
  })

  test('envelope - a wrong version', () => {
    for (const v of [2, 0, '1', undefined, null]) {
      assertRefused(() => decodeRaw({ v, t: 'send', to: 'a/', h: 'x' }), ErrorCode.DECODE_FAILED, /version/)
    }
  })

  test('envelope - an unknown frame kind', () => {
    for (const t of ['bogus', 'SEND', 1, undefined]) {
      assertRefused(() => decodeRaw({ v: 1, t, to: 'a/', h: 'x' }), ErrorCode.DECODE_FAILED, /frame kind/)
    }
  })

  test('envelope - wrong field types', () => {
    const cases: [string, unknown][] = [
      ['id', -1],
      ['id', 1.5],
      ['id', '7'],
      ['id', 2 ** 60],
      ['to', 5],
      ['from', true],
      ['h', Buffer.from('x')],
      ['dl', 'soon'],
      ['dl', -5],
      ['ct', 1],
      ['b', 'body as a string'],
      ['b', [1, 2]],
      ['e', 'boom'],
      ['e', { id: 'x', code: 'c', detail: 'd', status: '500' }],
      ['n', 0],
    ]
    for (const [field, value] of cases) {
      const base = { v: 1, t: 'ask', id: 1, to: 'a/', h: 'x', [field]: value }
      const t = field === 'e' ? 'error' : field === 'n' ? 'stream-credit' : 'ask'
      assertRefused(() => decodeRaw({ ...base, t }), ErrorCode.DECODE_FAILED, new RegExp(`field ${field}`))
    }
  })

  test('envelope - a missing required field', () => {
    const cases: Record<string, unknown>[] = [
      { t: 'ask', to: 'a/', h: 'x' },
      { t: 'ask', id: 1, h: 'x' },
      { t: 'send', to: 'a/' },
      { t: 'reply' },
      { t: 'error', id: 1 },
      { t: 'stream-credit', id: 1 },
      { t: 'publish' },
    ]
    for (const fields of cases) {
      assertRefused(() => decodeRaw({ v: 1, ...fields }), ErrorCode.DECODE_FAILED, /frame without/)
    }
  })

  test('envelope - metadata that is not a small flat map of strings', () => {
    const many = Object.fromEntries(
      Array.from({ length: MAX_METADATA_ENTRIES + 1 }, (_, i) => [`k${i}`, 'v']),
    )
    const big = { k: 'x'.repeat(MAX_METADATA_BYTES) }
    for (const md of [many, big, { a: 1 }, { a: { b: 'c' } }, ['a'], 'a=b']) {
      assertRefused(
        () => decodeRaw({ v: 1, t: 'send', to: 'a/', h: 'x', md }),
        ErrorCode.BAD_REQUEST,
        /metadata|md/,
      )
    }
    const fits = Object.fromEntries(Array.from({ length: MAX_METADATA_ENTRIES }, (_, i) => [`k${i}`, 'v']))
    assert.deepEqual(decodeRaw({ v: 1, t: 'send', to: 'a/', h: 'x', md: fits }).md, fits)
  })
})

describe('envelope - encode refuses', () => {
  test('envelope - what decode would refuse fails the sender with ENCODE_FAILED', () => {
    const bad = [
      { t: 'bogus' },
      { t: 'ask', to: 'a/', h: 'x' },
      { t: 'reply', id: 1, b: 'not bytes' },
      { t: 'error', id: 1, e: new Error('boom') },
    ] as unknown as Envelope[]
    for (const env of bad) assertRefused(() => encodeEnvelope(env), ErrorCode.ENCODE_FAILED)
    const md = Object.fromEntries(Array.from({ length: MAX_METADATA_ENTRIES + 1 }, (_, i) => [`k${i}`, 'v']))
    assertRefused(() => encodeEnvelope({ t: 'send', to: 'a/', h: 'x', md }), ErrorCode.BAD_REQUEST)
  })
})
