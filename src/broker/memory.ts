/**
 * The in-process broker: subscriptions in a list, shared by whoever holds this instance (tests, a
 * single process, the kernel's local fan-out). Delivery is at-most-once and asynchronous: publish
 * queues one microtask per receiver and returns, so a publisher never runs subscriber code inside
 * its own call; messages reach each subscription in publish order. Queue groups take turns
 * (round-robin per queue name across every matching member, as NATS groups by queue name). The body
 * is shared between receivers, not copied: receivers must not mutate it; metadata is copied per receiver.
 */
import type {
  Broker,
  BrokerBaseOptions,
  BrokerHandler,
  BrokerMessage,
  PublishMessage,
  SubscribeOptions,
  Subscription,
} from './broker.ts'
import { BrokerGuard } from './guard.ts'
import { checkQueue, checkTopic, matches } from './topic.ts'
import { checkMessage } from './validate.ts'

export type MemoryBrokerOptions = BrokerBaseOptions

interface Entry {
  readonly pattern: string[]
  readonly queue: string | undefined
  readonly handler: BrokerHandler
  active: boolean
}

export class MemoryBroker implements Broker {
  readonly name = 'memory'
  readonly #guard: BrokerGuard
  #entries: Entry[] = []
  /** Next turn per queue name; kept while the broker lives (queue names are few). */
  readonly #turns = new Map<string, number>()

  constructor(options: MemoryBrokerOptions = {}) {
    this.#guard = new BrokerGuard('memory', options.onError)
  }

  get handlerErrors(): number {
    return this.#guard.errors
  }

  async start(): Promise<void> {
    this.#guard.beginStart()
    this.#guard.started()
  }

  async stop(): Promise<void> {
    if (!this.#guard.stop()) return
    for (const entry of this.#entries) entry.active = false
    this.#entries = []
    this.#turns.clear()
  }

  async publish(topic: string, message: PublishMessage): Promise<void> {
    const tokens = checkTopic(topic, false)
    const checked = checkMessage(topic, message)
    this.#guard.assertLive()
    const groups = new Map<string, Entry[]>()
    for (const entry of this.#entries) {
      if (!matches(entry.pattern, tokens)) continue
      if (entry.queue === undefined) this.#deliver(entry, checked)
      else {
        const members = groups.get(entry.queue)
        if (members) members.push(entry)
        else groups.set(entry.queue, [entry])
      }
    }
    for (const [queue, members] of groups) {
      const turn = this.#turns.get(queue) ?? 0
      this.#turns.set(queue, (turn + 1) % Number.MAX_SAFE_INTEGER)
      this.#deliver(members[turn % members.length]!, checked)
    }
  }

  async subscribe(
    topic: string,
    handler: BrokerHandler,
    options: SubscribeOptions = {},
  ): Promise<Subscription> {
    const pattern = checkTopic(topic, true)
    const queue = checkQueue(options.queue)
    this.#guard.assertLive()
    const entry: Entry = { pattern, queue, handler, active: true }
    this.#entries.push(entry)
    const unsubscribe = async (): Promise<void> => {
      if (!entry.active) return
      entry.active = false
      this.#entries = this.#entries.filter((e) => e !== entry)
    }
    return queue === undefined ? { topic, unsubscribe } : { topic, queue, unsubscribe }
  }

  #deliver(entry: Entry, message: BrokerMessage): void {
    const copy: BrokerMessage = { ...message, metadata: { ...message.metadata } }
    queueMicrotask(() => {
      // Unsubscribed (or stopped) between publish and delivery: the message is dropped (at-most-once).
      if (entry.active) this.#guard.run(entry.handler, copy)
    })
  }
}
