/**
 * Topic rules and wildcard matching, NATS-style, so that a topic valid for the memory broker is a
 * valid subject for the nats broker and matches the same subscriptions there.
 */
import { BadRequestError, ErrorCode } from '../errors.ts'
import { LIMITS } from './broker.ts'

// Whitespace and control characters split NATS protocol lines; `*` and `>` inside a token are
// literal for NATS but read like wildcards, so both are refused to keep one meaning everywhere.
const BAD_TOKEN_CHAR = /[\s\p{Cc}*>]/u
const QUEUE = /^[A-Za-z0-9_.-]+$/

function bad(detail: string): never {
  throw new BadRequestError(ErrorCode.BAD_REQUEST, detail, 'broker')
}

/** Topics published to recently, already checked (publishers repeat a few topics many times). */
const checkedTopics = new Map<string, string[]>()
const CHECKED_TOPICS_MAX = 1024

/** Splits and checks `topic`; wildcards (`*` any token, `>` last token) only when `patterns` is set. */
export function checkTopic(topic: unknown, patterns: boolean): string[] {
  if (!patterns && typeof topic === 'string') {
    const known = checkedTopics.get(topic)
    if (known !== undefined) return known
    const tokens = splitTopic(topic, false)
    if (checkedTopics.size >= CHECKED_TOPICS_MAX) checkedTopics.clear()
    checkedTopics.set(topic, tokens)
    return tokens
  }
  return splitTopic(topic, patterns)
}

function splitTopic(topic: unknown, patterns: boolean): string[] {
  if (typeof topic !== 'string' || topic.length === 0) bad('topic must be a non-empty string')
  if (topic.length > LIMITS.topicLength) bad(`topic longer than ${LIMITS.topicLength} characters`)
  const tokens = topic.split('.')
  tokens.forEach((token, i) => {
    if (token === '') bad(`topic "${topic}" has an empty token`)
    if (token === '*' || token === '>') {
      if (!patterns) bad(`cannot publish to wildcard topic "${topic}"`)
      if (token === '>' && i !== tokens.length - 1) bad(`">" must be the last token of "${topic}"`)
      return
    }
    if (BAD_TOKEN_CHAR.test(token))
      bad(`topic "${topic}" holds whitespace, a control character or a wildcard`)
  })
  return tokens
}

export function checkQueue(queue: unknown): string | undefined {
  if (queue === undefined) return undefined
  if (typeof queue !== 'string' || queue.length > LIMITS.queueLength || !QUEUE.test(queue)) {
    bad(`queue must match [A-Za-z0-9_.-]{1,${LIMITS.queueLength}}`)
  }
  return queue
}

/** True when the checked `pattern` tokens match the checked concrete `topic` tokens. */
export function matches(pattern: readonly string[], topic: readonly string[]): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]
    if (p === '>') return topic.length > i
    if (i >= topic.length) return false
    if (p !== '*' && p !== topic[i]) return false
  }
  return pattern.length === topic.length
}
