/**
 * Codec: bytes <-> values for one content type (Go Micro's `codec`). Codecs throw only the catalogue's
 * errors: ENCODE_FAILED / DECODE_FAILED (400), so a bad value or bad bytes never escape as a raw throw.
 */
export interface Codec {
  /** The content type this codec speaks, e.g. `application/msgpack`. */
  readonly contentType: string
  encode(value: unknown): Uint8Array
  decode(bytes: Uint8Array): unknown
}

export const MSGPACK = 'application/msgpack'
export const JSON_CONTENT_TYPE = 'application/json'
/** The default content type of envelopes that do not name one. */
export const DEFAULT_CONTENT_TYPE = MSGPACK
