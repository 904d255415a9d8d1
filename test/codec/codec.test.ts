// Codecs and the content-type table: values round-trip, msgpack stays standard msgpack, and every
// failure is the catalogue's BadRequestError with a stable code, never a raw throw.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { DEFAULT_CONTENT_TYPE, JSON_CONTENT_TYPE, MSGPACK, type Codec } from '../../src/codec/codec.ts'
import { JsonCodec } from '../../src/codec/json.ts'
import { MsgpackCodec } from '../../src/codec/msgpack.ts'
import { CodecTable, defaultCodecs } from '../../src/codec/table.ts'
import { BadRequestError, ErrorCode } from '../../src/errors.ts'

const bytes = (...b: number[]) => new Uint8Array(b)
const utf8 = (text: string) => new TextEncoder().encode(text)

/** Asserts `fn` throws a BadRequestError with `code`. */
function throwsBadRequest(fn: () => unknown, code: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof BadRequestError, `expected BadRequestError, got ${String(err)}`)
    assert.equal(err.status, 400)
    assert.equal(err.code, code)
    assert.equal(err.id, 'codec')
    return true
  })
}

function circular(): unknown {
  const value: Record<string, unknown> = { name: 'loop' }
  value.self = value
  return value
}

const VALUES: [string, unknown][] = [
  ['null', null],
  ['true', true],
  ['false', false],
  ['zero', 0],
  ['a negative integer', -42],
  ['a large safe integer', Number.MAX_SAFE_INTEGER],
  ['a float', -1.5],
  ['an empty string', ''],
  ['a unicode string', 'héllo, 世界 🎉'],
  ['a long string', 'x'.repeat(100_000)],
  ['an empty array', []],
  ['a mixed array', [1, 'two', null, true, [3, [4]]]],
  ['an empty object', {}],
  [
    'a nested object',
    { user: { name: 'ada', tags: ['a', 'b'], address: { city: 'london', zip: null } }, count: 3, ok: false },
  ],
]

const CODECS: [string, () => Codec][] = [
  ['msgpack', () => new MsgpackCodec()],
  ['json', () => new JsonCodec()],
]

for (const [name, make] of CODECS) {
  describe(`${name} codec`, () => {
    for (const [what, value] of VALUES) {
      test(`${name} - round-trips ${what}`, () => {
        const codec = make()
        assert.deepEqual(codec.decode(codec.encode(value)), value)
      })
    }

    test(`${name} - round-trips an object with many keys`, () => {
      const codec = make()
      const value = Object.fromEntries(Array.from({ length: 70_000 }, (_, i) => [`k${i}`, i]))
      assert.deepEqual(codec.decode(codec.encode(value)), value)
    })

    test(`${name} - a function fails with encode_failed`, () => {
      throwsBadRequest(() => make().encode(() => 1), ErrorCode.ENCODE_FAILED)
      throwsBadRequest(() => make().encode({ nested: { fn: () => 1 } }), ErrorCode.ENCODE_FAILED)
    })

    test(`${name} - a symbol fails with encode_failed`, () => {
      throwsBadRequest(() => make().encode(Symbol('s')), ErrorCode.ENCODE_FAILED)
      throwsBadRequest(() => make().encode({ list: [Symbol('s')] }), ErrorCode.ENCODE_FAILED)
    })

    test(`${name} - a circular value fails with encode_failed`, () => {
      throwsBadRequest(() => make().encode(circular()), ErrorCode.ENCODE_FAILED)
    })

    test(`${name} - the encode failure keeps its cause`, () => {
      assert.throws(
        () => make().encode(circular()),
        (err: unknown) => err instanceof BadRequestError && err.cause instanceof Error,
      )
    })

    test(`${name} - a failed encode leaves the codec usable`, () => {
      const codec = make()
      assert.throws(() => codec.encode(() => 1))
      assert.deepEqual(codec.decode(codec.encode({ after: 'failure' })), { after: 'failure' })
    })
  })
}

describe('msgpack codec bytes', () => {
  test('msgpack - a one-key object packs to a standard fixmap', () => {
    assert.deepEqual([...new MsgpackCodec().encode({ a: 1 })], [0x81, 0xa1, 0x61, 0x01])
  })

  test('msgpack - scalars and arrays pack to standard bytes', () => {
    const codec = new MsgpackCodec()
    assert.deepEqual([...codec.encode(null)], [0xc0])
    assert.deepEqual([...codec.encode(true)], [0xc3])
    assert.deepEqual([...codec.encode(false)], [0xc2])
    assert.deepEqual([...codec.encode(5)], [0x05])
    assert.deepEqual([...codec.encode(-1)], [0xff])
    assert.deepEqual([...codec.encode('hi')], [0xa2, 0x68, 0x69])
    assert.deepEqual([...codec.encode([1, 2])], [0x92, 0x01, 0x02])
  })

  test('msgpack - decodes bytes written by another encoder', () => {
    // {"a":[1,"b"],"c":nil} written by hand from the spec
    const packed = bytes(0x82, 0xa1, 0x61, 0x92, 0x01, 0xa1, 0x62, 0xa1, 0x63, 0xc0)
    assert.deepEqual(new MsgpackCodec().decode(packed), { a: [1, 'b'], c: null })
  })

  test('msgpack - round-trips a Uint8Array as binary', () => {
    const codec = new MsgpackCodec()
    const data = bytes(0, 1, 2, 254, 255)
    const encoded = codec.encode({ data })
    // fixmap(1) "data" bin8(5) ...
    assert.deepEqual([...encoded], [0x81, 0xa4, 0x64, 0x61, 0x74, 0x61, 0xc4, 0x05, 0, 1, 2, 254, 255])
    const decoded = codec.decode(encoded) as { data: Uint8Array }
    assert.ok(decoded.data instanceof Uint8Array)
    assert.deepEqual([...decoded.data], [...data])
  })

  test('msgpack - encoded bytes survive later encodes', () => {
    const codec = new MsgpackCodec()
    const first = codec.encode({ first: 'value' })
    const snapshot = [...first]
    for (let i = 0; i < 1_000; i++) codec.encode({ i, filler: 'y'.repeat(100) })
    assert.deepEqual([...first], snapshot)
    assert.deepEqual(codec.decode(first), { first: 'value' })
  })

  test('msgpack - decoded values never share memory with later decodes (small and large bodies)', () => {
    const codec = new MsgpackCodec()
    for (const size of [5, 200, 5_000]) {
      const first = codec.decode(codec.encode({ data: new Uint8Array(size).fill(7), s: 'a' })) as {
        data: Uint8Array
      }
      for (let i = 0; i < 100; i++) codec.decode(codec.encode({ data: new Uint8Array(size).fill(i), s: 'b' }))
      assert.ok(
        first.data.every((x) => x === 7),
        `a ${size}-byte bin changed under a later decode`,
      )
    }
    // the bytes handed in are read, not kept: changing them afterwards changes nothing decoded
    const input = codec.encode({ data: new Uint8Array([1, 2, 3]) })
    const decoded = codec.decode(input) as { data: Uint8Array }
    input.fill(0)
    assert.deepEqual([...decoded.data], [1, 2, 3])
  })

  test('msgpack - truncated bytes fail with decode_failed', () => {
    throwsBadRequest(() => new MsgpackCodec().decode(bytes(0x92, 0x01)), ErrorCode.DECODE_FAILED)
    throwsBadRequest(() => new MsgpackCodec().decode(bytes(0xa5, 0x68, 0x69)), ErrorCode.DECODE_FAILED)
  })

  test('msgpack - empty bytes fail with decode_failed', () => {
    throwsBadRequest(() => new MsgpackCodec().decode(bytes()), ErrorCode.DECODE_FAILED)
  })

  test('msgpack - trailing bytes fail with decode_failed', () => {
    throwsBadRequest(() => new MsgpackCodec().decode(bytes(0x01, 0x02)), ErrorCode.DECODE_FAILED)
  })
})

describe('json codec bytes', () => {
  test('json - encodes UTF-8 JSON text', () => {
    assert.equal(new TextDecoder().decode(new JsonCodec().encode({ a: [1, 'é'] })), '{"a":[1,"é"]}')
  })

  test('json - undefined encodes as an empty body and back', () => {
    const codec = new JsonCodec()
    assert.equal(codec.encode(undefined).byteLength, 0)
    assert.equal(codec.decode(bytes()), undefined)
  })

  test('json - a bigint fails with encode_failed', () => {
    throwsBadRequest(() => new JsonCodec().encode({ n: 1n }), ErrorCode.ENCODE_FAILED)
  })

  test('json - invalid JSON fails with decode_failed', () => {
    throwsBadRequest(() => new JsonCodec().decode(utf8('{"a":')), ErrorCode.DECODE_FAILED)
    throwsBadRequest(() => new JsonCodec().decode(utf8('not json')), ErrorCode.DECODE_FAILED)
  })

  test('json - invalid UTF-8 fails with decode_failed', () => {
    throwsBadRequest(() => new JsonCodec().decode(bytes(0x22, 0xff, 0xfe, 0x22)), ErrorCode.DECODE_FAILED)
  })
})

describe('codec table', () => {
  test('table - the default content type is application/msgpack', () => {
    const table = new CodecTable()
    assert.equal(DEFAULT_CONTENT_TYPE, MSGPACK)
    assert.equal(table.defaultContentType, 'application/msgpack')
    assert.ok(table.get() instanceof MsgpackCodec)
  })

  test('table - serves msgpack and json by default', () => {
    const table = new CodecTable()
    assert.ok(table.get(MSGPACK) instanceof MsgpackCodec)
    assert.ok(table.get(JSON_CONTENT_TYPE) instanceof JsonCodec)
    assert.deepEqual(table.contentTypes().sort(), ['application/json', 'application/msgpack'])
    assert.deepEqual(
      defaultCodecs().map((c) => c.contentType),
      [MSGPACK, JSON_CONTENT_TYPE],
    )
  })

  test('table - content types are normalised', () => {
    const table = new CodecTable()
    assert.ok(table.get('Application/JSON; charset=utf-8') instanceof JsonCodec)
    assert.ok(table.get('  APPLICATION/MSGPACK  ') instanceof MsgpackCodec)
    assert.ok(table.has('application/json;charset=UTF-8'))
    assert.equal(table.has('text/plain'), false)
  })

  test('table - an unknown content type fails with unknown_content_type', () => {
    const table = new CodecTable()
    assert.throws(
      () => table.get('text/plain'),
      (err: unknown) =>
        err instanceof BadRequestError && err.code === ErrorCode.UNKNOWN_CONTENT_TYPE && err.status === 400,
    )
  })

  test('table - a custom default content type is normalised and served', () => {
    const table = new CodecTable([new JsonCodec()], 'Application/Json')
    assert.equal(table.defaultContentType, 'application/json')
    assert.ok(table.get() instanceof JsonCodec)
    assert.throws(
      () => table.get(MSGPACK),
      (err: unknown) => err instanceof BadRequestError,
    )
  })

  test('table - a default content type without a codec fails with invalid_options', () => {
    assert.throws(
      () => new CodecTable([new JsonCodec()]),
      (err: unknown) => err instanceof BadRequestError && err.code === ErrorCode.INVALID_OPTIONS,
    )
    assert.throws(
      () => new CodecTable([], 'application/json'),
      (err: unknown) => err instanceof BadRequestError && err.code === ErrorCode.INVALID_OPTIONS,
    )
  })

  test('table - two tables do not share codecs', () => {
    const a = new CodecTable()
    const b = new CodecTable([new JsonCodec()], JSON_CONTENT_TYPE)
    assert.ok(a.has(MSGPACK))
    assert.equal(b.has(MSGPACK), false)
    assert.notEqual(a.get(JSON_CONTENT_TYPE), b.get(JSON_CONTENT_TYPE))
  })
})
