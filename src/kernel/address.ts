/**
 * Addresses: `kind/id` (location-free) or `kind/id@nodeId` (pinned to a node). The id may be empty
 * (`kind/`: a stateless kind, any instance may serve) and may contain `/`, never `@`.
 */
import { BadRequestError, ErrorCode } from '../errors.ts'
import { KIND_PATTERN } from '../actors/define.ts'

export const MAX_ID_LENGTH = 512
const NODE_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/

export interface Address {
  readonly kind: string
  readonly id: string
  /** The node it is pinned to, when written `kind/id@node`. */
  readonly node: string | undefined
  /** `kind/id`: the key of the actor wherever it lives. */
  readonly key: string
  /** `hashKey(key)`, computed once: it picks the worker of a keyed actor on every message. */
  readonly hash: number
}

export function parseAddress(text: string): Address {
  if (typeof text !== 'string') throw invalid(`address must be a string, got ${typeof text}`)
  const slash = text.indexOf('/')
  const at = text.indexOf('@')
  const kind = slash === -1 ? (at === -1 ? text : text.slice(0, at)) : text.slice(0, slash)
  const id = slash === -1 ? '' : at === -1 ? text.slice(slash + 1) : text.slice(slash + 1, at)
  const node = at === -1 ? undefined : text.slice(at + 1)
  if (!KIND_PATTERN.test(kind)) throw invalid(`bad kind in address ${JSON.stringify(text.slice(0, 200))}`)
  if (id.length > MAX_ID_LENGTH) throw invalid(`actor id longer than ${MAX_ID_LENGTH} characters`)
  if (node !== undefined && (!NODE_PATTERN.test(node) || node.includes('@'))) {
    throw invalid(`bad node in address ${JSON.stringify(text.slice(0, 200))}`)
  }
  const key = `${kind}/${id}`
  return { kind, id, node, key, hash: hashKey(key) }
}

export function formatAddress(kind: string, id = ''): string {
  return `${kind}/${id}`
}

function invalid(detail: string): BadRequestError {
  return new BadRequestError(ErrorCode.INVALID_ADDRESS, detail)
}

/** A small bounded cache of parsed addresses: actors address the same peers over and over. */
export class AddressCache {
  readonly #map = new Map<string, Address>()
  readonly #max: number

  constructor(max = 10_000) {
    this.#max = max
  }

  parse(text: string): Address {
    let a = this.#map.get(text)
    if (a === undefined) {
      a = parseAddress(text)
      if (this.#map.size >= this.#max) this.#map.clear()
      this.#map.set(text, a)
    }
    return a
  }
}

/** FNV-1a, 32 bit: pins a keyed actor to one worker. */
export function hashKey(key: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}
