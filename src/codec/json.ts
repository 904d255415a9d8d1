/** application/json: UTF-8 JSON. `undefined` encodes as an empty body and an empty body decodes to it. */
import { BadRequestError, ErrorCode } from '../errors.ts'
import { JSON_CONTENT_TYPE, type Codec } from './codec.ts'
import { describe } from './msgpack.ts'

const EMPTY = new Uint8Array(0)

export class JsonCodec implements Codec {
  readonly contentType = JSON_CONTENT_TYPE
  readonly #encoder = new TextEncoder()
  readonly #decoder = new TextDecoder('utf-8', { fatal: true })

  encode(value: unknown): Uint8Array {
    if (value === undefined) return EMPTY
    let text: string | undefined
    try {
      text = JSON.stringify(value, refuseUnencodable)
    } catch (err) {
      throw new BadRequestError(ErrorCode.ENCODE_FAILED, `json encode failed: ${describe(err)}`, 'codec', {
        cause: err,
      })
    }
    return this.#encoder.encode(text)
  }

  decode(bytes: Uint8Array): unknown {
    if (bytes.byteLength === 0) return undefined
    try {
      return JSON.parse(this.#decoder.decode(bytes))
    } catch (err) {
      throw new BadRequestError(ErrorCode.DECODE_FAILED, `json decode failed: ${describe(err)}`, 'codec', {
        cause: err,
      })
    }
  }
}

function refuseUnencodable(_key: string, value: unknown): unknown {
  if (typeof value === 'function' || typeof value === 'symbol') {
    throw new TypeError(`a ${typeof value} cannot be encoded`)
  }
  return value
}
