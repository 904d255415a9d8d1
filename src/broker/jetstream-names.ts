/**
 * Names the jetstream broker derives: the stream that stores a topic (one per first token, so the
 * stream holds `orders` and `orders.>`), the durable consumer a queue group shares, and the checks on
 * a durable name given by the caller. JetStream names become file names on the server and may not
 * hold `.`, `*`, `>` or whitespace, so anything outside `[A-Za-z0-9_-]` is escaped, never dropped
 * (dropping would let two topics share a stream name with different subjects).
 */
import { createHash } from 'node:crypto'
import { BadRequestError, ErrorCode } from '../errors.ts'

const NAME = /^[A-Za-z0-9_-]{1,128}$/
export const DEFAULT_STREAM_PREFIX = 'MICA_'

function escape(text: string): string {
  return text.replace(/[^A-Za-z0-9_-]/gu, (c) => `-${c.codePointAt(0)!.toString(16)}-`)
}

/** The stream that stores `tokens` (a checked topic or pattern whose first token is concrete). */
export function streamFor(prefix: string, tokens: readonly string[]): { name: string; subjects: string[] } {
  const first = tokens[0]!
  if (first === '*' || first === '>') {
    // One consumer reads one stream, and a leading wildcard would span all of them.
    throw new BadRequestError(
      ErrorCode.BAD_REQUEST,
      `jetstream cannot subscribe to "${tokens.join('.')}": the first token must not be a wildcard`,
      'broker',
    )
  }
  if (first.startsWith('$') || first === '_INBOX') {
    // A stream there would store the server's own API traffic or every request's replies.
    throw new BadRequestError(ErrorCode.BAD_REQUEST, `jetstream cannot store "${first}" subjects`, 'broker')
  }
  return { name: prefix + escape(first), subjects: [first, `${first}.>`] }
}

/** A queue group's consumer: one per (queue, pattern), so the same queue on two topics never clash. */
export function queueDurable(queue: string, topic: string): string {
  const hash = createHash('sha256').update(`${queue}\n${topic}`).digest('hex').slice(0, 12)
  return `q_${escape(queue).slice(0, 96)}_${hash}`
}

export function checkDurable(durable: unknown): string | undefined {
  if (durable === undefined) return undefined
  if (typeof durable !== 'string' || !NAME.test(durable)) {
    throw new BadRequestError(ErrorCode.BAD_REQUEST, 'durable must match [A-Za-z0-9_-]{1,128}', 'broker')
  }
  return durable
}

export function checkStreamPrefix(prefix: string): string {
  if (!/^[A-Za-z0-9_-]{0,64}$/.test(prefix)) {
    throw new BadRequestError(ErrorCode.INVALID_OPTIONS, 'stream prefix must match [A-Za-z0-9_-]{0,64}')
  }
  return prefix
}
