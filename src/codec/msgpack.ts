/**
 * application/msgpack through msgpackr. `useRecords: false` keeps the bytes standard msgpack (records
 * need a shared structure table on both sides) and `variableMapSize` sizes each map header by its key
 * count (fixmap for small objects, as other encoders do). Functions and symbols are refused rather
 * than silently encoded as `undefined`, so a message that cannot cross a thread or a socket fails where
 * it is sent.
 */
import { Packr } from 'msgpackr'
import { BadRequestError, ErrorCode } from '../errors.ts'
import { MSGPACK, type Codec } from './codec.ts'

function refuseFunction(): never {
  throw new TypeError('a function cannot be encoded')
}

export class MsgpackCodec implements Codec {
  readonly contentType = MSGPACK
  readonly #packr = new Packr({
    useRecords: false,
    moreTypes: false,
    int64AsType: 'number',
    mapsAsObjects: true,
    // fixmap/map16/map32 by key count: the compact standard form, and no 65,535-key ceiling
    variableMapSize: true,
    writeFunction: refuseFunction,
  })

  encode(value: unknown): Uint8Array {
    try {
      return this.#packr.pack(value)
    } catch (err) {
      throw new BadRequestError(ErrorCode.ENCODE_FAILED, `msgpack encode failed: ${describe(err)}`, 'codec', {
        cause: err,
      })
    }
  }

  decode(bytes: Uint8Array): unknown {
    try {
      return this.#packr.unpack(bytes)
    } catch (err) {
      throw new BadRequestError(ErrorCode.DECODE_FAILED, `msgpack decode failed: ${describe(err)}`, 'codec', {
        cause: err,
      })
    }
  }
}

export function describe(err: unknown): string {
  if (err instanceof RangeError && /call stack/.test(err.message)) return 'value is circular or too deep'
  return err instanceof Error ? err.message : String(err)
}
