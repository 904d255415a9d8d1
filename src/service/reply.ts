/**
 * Reply metadata on the wire: the kernel's replies carry a body only, so a service handler that set
 * reply metadata answers `{ [REPLY_MARK]: 1, body, metadata }` and the service client unwraps it
 * (a plain `ref.ask` to such a handler sees the wrapper). Replies without metadata go as they are.
 */
import type { Metadata } from '../actors/types.ts'

export const REPLY_MARK = '$micaReply'

interface WrappedReply {
  readonly [REPLY_MARK]: 1
  readonly body: unknown
  readonly metadata: Metadata
}

export function withReplyMetadata(body: unknown, metadata: Metadata): WrappedReply {
  return { [REPLY_MARK]: 1, body, metadata }
}

/** The body and reply metadata of a reply (metadata undefined when it carries none). */
export function unwrapReply(reply: unknown): { body: unknown; metadata: Metadata | undefined } {
  if (typeof reply === 'object' && reply !== null && (reply as WrappedReply)[REPLY_MARK] === 1) {
    const r = reply as WrappedReply
    return { body: r.body, metadata: r.metadata }
  }
  return { body: reply, metadata: undefined }
}
