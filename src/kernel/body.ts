/** Encoding message bodies for a hop, with the size limit and metadata checks every hop applies. */
import { BadRequestError, ErrorCode } from '../errors.ts'
import type { CodecTable } from '../codec/table.ts'
import type { Metadata } from '../actors/types.ts'

export const MAX_METADATA_ENTRIES = 64
export const MAX_METADATA_BYTES = 8_192

export function encodeBody(
  codecs: CodecTable,
  value: unknown,
  contentType: string | undefined,
  maxBytes: number,
) {
  const codec = codecs.get(contentType)
  const bytes = codec.encode(value)
  checkSize(bytes, maxBytes)
  return { ct: codec.contentType, bytes }
}

/**
 * The content type a frame carries: null for the default. A 19-character string per frame cost a
 * measurable share of packing on one side and of hashing (for the codec lookup) on the other.
 */
export function frameContentType(codecs: CodecTable, contentType: string): string | null {
  return contentType === codecs.defaultContentType ? null : contentType
}

export function checkSize(bytes: Uint8Array, maxBytes: number): void {
  if (bytes.byteLength > maxBytes) {
    throw new BadRequestError(
      ErrorCode.MESSAGE_TOO_LARGE,
      `message of ${bytes.byteLength} bytes exceeds the limit of ${maxBytes} bytes`,
    )
  }
}

/** Metadata must be a small flat map of strings; anything else is a 400 before it travels. */
export function checkMetadata(md: unknown): Metadata | undefined {
  if (md === undefined || md === null) return undefined
  if (typeof md !== 'object' || Array.isArray(md)) throw badMetadata('metadata must be an object of strings')
  let entries = 0
  let bytes = 0
  for (const [k, v] of Object.entries(md)) {
    if (typeof v !== 'string') throw badMetadata(`metadata ${k} must be a string`)
    entries++
    bytes += k.length + v.length
  }
  if (entries > MAX_METADATA_ENTRIES) throw badMetadata(`more than ${MAX_METADATA_ENTRIES} metadata entries`)
  if (bytes > MAX_METADATA_BYTES) throw badMetadata(`metadata larger than ${MAX_METADATA_BYTES} bytes`)
  return md as Metadata
}

function badMetadata(detail: string): BadRequestError {
  return new BadRequestError(ErrorCode.BAD_REQUEST, detail)
}
