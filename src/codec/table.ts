/**
 * The content-type table: which codec serves which content type. One table per kernel (no global
 * registry); an unknown content type is the catalogue's UNKNOWN_CONTENT_TYPE (400), never a crash.
 */
import { BadRequestError, ErrorCode } from '../errors.ts'
import { DEFAULT_CONTENT_TYPE, type Codec } from './codec.ts'
import { JsonCodec } from './json.ts'
import { MsgpackCodec } from './msgpack.ts'

export class CodecTable {
  readonly #codecs = new Map<string, Codec>()
  readonly defaultContentType: string
  readonly #default: Codec

  constructor(codecs: readonly Codec[] = defaultCodecs(), defaultContentType = DEFAULT_CONTENT_TYPE) {
    for (const codec of codecs) this.#codecs.set(normalize(codec.contentType), codec)
    if (!this.#codecs.has(normalize(defaultContentType))) {
      throw new BadRequestError(
        ErrorCode.INVALID_OPTIONS,
        `default content type ${defaultContentType} has no codec`,
      )
    }
    this.defaultContentType = normalize(defaultContentType)
    this.#default = this.#codecs.get(this.defaultContentType)!
  }

  /** The codec for `contentType` (the default when absent). */
  get(contentType?: string | null): Codec {
    if (contentType === undefined || contentType === null || contentType === '') return this.#default
    // exact names are the common case on every message: look them up before normalizing
    const codec = this.#codecs.get(contentType) ?? this.#codecs.get(normalize(contentType))
    if (codec) return codec
    throw new BadRequestError(
      ErrorCode.UNKNOWN_CONTENT_TYPE,
      `no codec for content type ${String(contentType)}`,
    )
  }

  has(contentType: string): boolean {
    return this.#codecs.has(normalize(contentType))
  }

  contentTypes(): string[] {
    return [...this.#codecs.keys()]
  }
}

export function defaultCodecs(): Codec[] {
  return [new MsgpackCodec(), new JsonCodec()]
}

/** `Application/JSON; charset=utf-8` -> `application/json`. */
function normalize(contentType: string): string {
  const semi = contentType.indexOf(';')
  return (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase()
}
