/**
 * How a BrokerMessage travels as a NATS message: the body is the payload, unchanged; the content type
 * goes in the `Mica-Content-Type` header and each metadata entry in a `Mica-Md-<key>` header (keys
 * keep their case). Metadata values are percent-encoded (`encodeURIComponent`) because NATS header
 * values may not hold CR/LF and lose leading and trailing spaces; encoding keeps every value exact.
 * Messages from other publishers are accepted: without headers they arrive with `metadata: {}`.
 */
import type { Msg, MsgHdrs } from '@nats-io/transport-node'
import type { BrokerMessage } from './broker.ts'

export const CONTENT_TYPE_HEADER = 'Mica-Content-Type'
export const METADATA_PREFIX = 'Mica-Md-'

/** Fills `headers` (made by the lazily loaded client) from the message; false when there is nothing to send. */
export function writeHeaders(message: BrokerMessage, headers: MsgHdrs): boolean {
  let any = false
  if (message.contentType !== undefined) {
    headers.set(CONTENT_TYPE_HEADER, message.contentType)
    any = true
  }
  for (const [key, value] of Object.entries(message.metadata)) {
    headers.set(METADATA_PREFIX + key, encodeURIComponent(value))
    any = true
  }
  return any
}

/** Takes a core message or a JetStream one (both have these three fields). */
export function readMessage(msg: Pick<Msg, 'subject' | 'data' | 'headers'>): BrokerMessage {
  // The client hands a Buffer (a view of the socket's read chunk); a plain Uint8Array view of the same
  // bytes, without a copy, gives subscribers the type the memory broker gives (Buffer's slice differs).
  const data = msg.data
  const body = new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  const message: BrokerMessage = { topic: msg.subject, body, metadata: {} }
  if (!msg.headers) return message
  const prefix = METADATA_PREFIX.toLowerCase()
  for (const [name, values] of msg.headers) {
    const value = values[0] ?? ''
    const lower = name.toLowerCase()
    if (lower === CONTENT_TYPE_HEADER.toLowerCase()) message.contentType = value
    else if (lower.startsWith(prefix) && name.length > prefix.length) {
      message.metadata[name.slice(prefix.length)] = decode(value)
    }
  }
  return message
}

function decode(value: string): string {
  try {
    return decodeURIComponent(value)
  } catch {
    // Not ours (a foreign publisher's raw value): keep it as sent rather than drop it.
    return value
  }
}
