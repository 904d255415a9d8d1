/**
 * Checks a message against the contract's LIMITS and copies it, so a publisher that mutates its
 * metadata afterwards never changes what subscribers see.
 */
import { BadRequestError, ErrorCode } from '../errors.ts'
import { LIMITS, type BrokerMessage, type PublishMessage } from './broker.ts'

const METADATA_KEY = /^[A-Za-z0-9_.-]+$/
// No leading or trailing space: NATS header values are trimmed on the way.
const CONTENT_TYPE = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/
const utf8 = new TextEncoder()

function bad(detail: string, code: string = ErrorCode.BAD_REQUEST): never {
  throw new BadRequestError(code, detail, 'broker')
}

/** The message as subscribers will see it (`topic` already checked by the caller). */
export function checkMessage(topic: string, message: PublishMessage): BrokerMessage {
  if (typeof message !== 'object' || message === null) bad('message must be an object')
  const { body, contentType, metadata = {} } = message
  if (!(body instanceof Uint8Array)) bad('message body must be a Uint8Array')
  if (body.byteLength > LIMITS.bodyBytes) {
    bad(`message body of ${body.byteLength} bytes is over ${LIMITS.bodyBytes}`, ErrorCode.MESSAGE_TOO_LARGE)
  }
  if (contentType !== undefined) {
    if (
      typeof contentType !== 'string' ||
      contentType.length > LIMITS.contentTypeLength ||
      !CONTENT_TYPE.test(contentType)
    ) {
      bad(`content type must be printable ASCII, 1..${LIMITS.contentTypeLength} characters`)
    }
  }
  const out: BrokerMessage = { topic, body, metadata: checkMetadata(metadata) }
  if (contentType !== undefined) out.contentType = contentType
  return out
}

function checkMetadata(metadata: unknown): Record<string, string> {
  if (typeof metadata !== 'object' || metadata === null) bad('metadata must be an object of strings')
  const entries = Object.entries(metadata)
  if (entries.length > LIMITS.metadataEntries) bad(`more than ${LIMITS.metadataEntries} metadata entries`)
  const copy: Record<string, string> = {}
  let bytes = 0
  for (const [key, value] of entries) {
    if (key.length > LIMITS.metadataKeyLength || !METADATA_KEY.test(key)) {
      bad(`metadata key "${key}" must match [A-Za-z0-9_.-]{1,${LIMITS.metadataKeyLength}}`)
    }
    if (typeof value !== 'string') bad(`metadata "${key}" must be a string`)
    bytes += utf8.encode(key).byteLength + utf8.encode(value).byteLength
    copy[key] = value
  }
  if (bytes > LIMITS.metadataBytes) {
    bad(`metadata of ${bytes} bytes is over ${LIMITS.metadataBytes}`, ErrorCode.MESSAGE_TOO_LARGE)
  }
  return copy
}
