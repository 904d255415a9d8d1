/**
 * The direct broker's own subscriptions: matching a topic against them, handing a message to a
 * subscription (a microtask each, as the memory broker does), one member of a queue group in turns,
 * and reading a `publish` frame from the network (checked with the same rules as a local publish).
 */
import { BadRequestError, ErrorCode } from '../errors.ts'
import type { Envelope } from '../transport/transport.ts'
import type { BrokerHandler, BrokerMessage } from './broker.ts'
import type { BrokerGuard } from './guard.ts'
import { checkQueue, checkTopic, matches } from './topic.ts'
import { checkMessage } from './validate.ts'

/** In a frame's `h`: "deliver to the plain subscriptions" (a queue name can never be `*`). */
export const PLAIN = '*'

export interface Entry {
  readonly pattern: string[]
  readonly queue: string | undefined
  readonly handler: BrokerHandler
  active: boolean
}

export interface Matches {
  plain: Entry[]
  groups: Map<string, Entry[]>
}

export class LocalSubscriptions {
  readonly #guard: BrokerGuard
  readonly #turns = new Map<string, number>()
  #entries: Entry[] = []

  constructor(guard: BrokerGuard) {
    this.#guard = guard
  }

  add(entry: Entry): void {
    this.#entries.push(entry)
  }

  /** False when it was removed before. */
  remove(entry: Entry): boolean {
    if (!entry.active) return false
    entry.active = false
    this.#entries = this.#entries.filter((e) => e !== entry)
    return true
  }

  clear(): void {
    for (const entry of this.#entries) entry.active = false
    this.#entries = []
    this.#turns.clear()
  }

  match(tokens: readonly string[]): Matches {
    const plain: Entry[] = []
    const groups = new Map<string, Entry[]>()
    for (const entry of this.#entries) {
      if (!matches(entry.pattern, tokens)) continue
      if (entry.queue === undefined) plain.push(entry)
      else {
        const list = groups.get(entry.queue)
        if (list) list.push(entry)
        else groups.set(entry.queue, [entry])
      }
    }
    return { plain, groups }
  }

  /** One member of group `queue`, in turns. */
  deliverOne(queue: string, members: Entry[], message: BrokerMessage): void {
    const turn = this.#turns.get(queue) ?? 0
    this.#turns.set(queue, (turn + 1) % Number.MAX_SAFE_INTEGER)
    this.deliver(members[turn % members.length]!, message)
  }

  deliver(entry: Entry, message: BrokerMessage): void {
    const copy: BrokerMessage = { ...message, metadata: { ...message.metadata } }
    queueMicrotask(() => {
      // unsubscribed (or stopped) between arrival and delivery: the message is dropped
      if (entry.active) this.#guard.run(entry.handler, copy)
    })
  }

  /** Checks a received publish frame and hands it over; throws a BadRequestError for a bad one. */
  receive(env: Envelope): void {
    if (env.id === undefined) throw bad('publish frame without id')
    if (env.b === undefined) throw bad('publish frame without b')
    const tokens = checkTopic(env.to, false)
    const message = checkMessage(env.to!, { body: view(env.b), contentType: env.ct, metadata: env.md })
    const wanted = (env.h ?? PLAIN).split(' ').filter((w) => w !== '')
    for (const w of wanted) if (w !== PLAIN) checkQueue(w)
    const local = this.match(tokens)
    if (wanted.includes(PLAIN)) for (const entry of local.plain) this.deliver(entry, message)
    for (const q of wanted) {
      const members = local.groups.get(q)
      if (members !== undefined) this.deliverOne(q, members, message)
    }
  }
}

function bad(detail: string): BadRequestError {
  return new BadRequestError(ErrorCode.BAD_REQUEST, detail, 'broker')
}

/** A plain Uint8Array over the same bytes (msgpack decodes `bin` as a Buffer): no copy. */
function view(bytes: Uint8Array): Uint8Array {
  return Object.getPrototypeOf(bytes) === Uint8Array.prototype
    ? bytes
    : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}
