/**
 * The direct broker's view of the registry: how one node's subscriptions are written into its
 * registry record, and the table of every other node's subscriptions that publishers route with.
 *
 * Record: one service (`mica.broker` by default), one node per broker, `address` = its transport
 * address. Topic patterns hold `*` and `>`, which service names may not, so the subscriptions live
 * in the node's metadata: `broker=direct` plus `s0`, `s1`, ... whose values are lines of `pattern`
 * or `pattern queue` (neither holds whitespace), each value kept under 250 bytes so it fits a DNS
 * TXT string. Identical subscriptions (same pattern and queue) are written once. The registry's own
 * limits (64 entries, 4 KiB of metadata) bound the record: a subscription that would break them is
 * refused (see `encodeSubscriptions`).
 *
 * Table: filled from `getService` at start and kept current by `watch`, so a publish never asks the
 * registry. A node's entry changes with its record; when it disappears the owner is told (`onGone`)
 * to close its connection and forget its messages.
 */
import type { Registry, RegistryNode, Service, Watcher } from '../registry/registry.ts'
import { checkService } from '../registry/validate.ts'
import type { TransportLogger } from '../transport/transport.ts'
import { checkQueue, checkTopic, matches } from './topic.ts'

export interface RemoteSub {
  readonly topic: string
  readonly pattern: readonly string[]
  readonly queue: string | undefined
}

export interface RemoteNode {
  readonly id: string
  readonly address: string
  readonly subs: readonly RemoteSub[]
}

const VALUE_BYTES = 250

/** `pattern` or `pattern queue`: the key of a distinct subscription. */
export function subKey(topic: string, queue: string | undefined): string {
  return queue === undefined ? topic : `${topic} ${queue}`
}

/** This node's record; throws the registry's BadRequestError when the subscriptions do not fit. */
export function encodeRecord(
  service: string,
  node: Omit<RegistryNode, 'metadata'>,
  keys: Iterable<string>,
): Service {
  const metadata: Record<string, string> = { broker: 'direct' }
  let value = ''
  let n = 0
  for (const key of keys) {
    if (value !== '' && Buffer.byteLength(value) + 1 + Buffer.byteLength(key) > VALUE_BYTES) {
      metadata[`s${n++}`] = value
      value = ''
    }
    value = value === '' ? key : `${value}\n${key}`
  }
  if (value !== '') metadata[`s${n}`] = value
  return checkService({
    name: service,
    version: '',
    metadata: {},
    endpoints: [],
    nodes: [{ ...node, metadata }],
  })
}

/** The subscriptions in a node's metadata; lines that do not parse are skipped. */
export function decodeSubscriptions(metadata: Record<string, string>): RemoteSub[] {
  const subs: RemoteSub[] = []
  for (const [key, value] of Object.entries(metadata)) {
    if (!/^s\d+$/.test(key)) continue
    for (const line of value.split('\n')) {
      const [topic, queue, extra] = line.split(' ')
      try {
        if (extra !== undefined) continue
        subs.push({ topic: topic!, pattern: checkTopic(topic, true), queue: checkQueue(queue) })
      } catch {
        // a record written by something else: not a subscription this broker can honour
      }
    }
  }
  return subs
}

export interface RemoteTableOptions {
  registry: Registry
  service: string
  self: string
  logger: TransportLogger
  /** A node left the registry, or moved to another address (`address` is the old one). */
  onGone(id: string, address: string): void
}

export class RemoteTable {
  readonly #o: RemoteTableOptions
  readonly #nodes = new Map<string, RemoteNode>()
  #watcher: Watcher | undefined

  constructor(options: RemoteTableOptions) {
    this.#o = options
  }

  /** Watches first, then reads what is there, so nothing registered meanwhile is missed. */
  async start(): Promise<void> {
    const watcher = this.#o.registry.watch({ service: this.#o.service })
    this.#watcher = watcher
    void (async () => {
      for await (const event of watcher) {
        for (const node of event.service.nodes) {
          if (event.action === 'delete') this.#remove(node.id)
          else this.#put(node)
        }
      }
    })().catch((error: unknown) => {
      this.#o.logger.warn(`broker direct: registry watch ended: ${(error as Error)?.message ?? error}`)
    })
    for (const service of await this.#o.registry.getService(this.#o.service)) {
      for (const node of service.nodes) if (!this.#nodes.has(node.id)) this.#put(node)
    }
  }

  stop(): void {
    this.#watcher?.stop()
    this.#watcher = undefined
    this.#nodes.clear()
  }

  get(id: string): RemoteNode | undefined {
    return this.#nodes.get(id)
  }

  byAddress(address: string): RemoteNode[] {
    return [...this.#nodes.values()].filter((n) => n.address === address)
  }

  /** Nodes with a matching subscription: `broadcast` those with a plain one, `queues` per group. */
  route(topic: readonly string[]): { broadcast: RemoteNode[]; queues: Map<string, RemoteNode[]> } {
    const broadcast: RemoteNode[] = []
    const queues = new Map<string, RemoteNode[]>()
    for (const node of this.#nodes.values()) {
      let plain = false
      const seen = new Set<string>()
      for (const sub of node.subs) {
        if (!matches(sub.pattern, topic)) continue
        if (sub.queue === undefined) plain = true
        else if (!seen.has(sub.queue)) {
          seen.add(sub.queue)
          const list = queues.get(sub.queue)
          if (list) list.push(node)
          else queues.set(sub.queue, [node])
        }
      }
      if (plain) broadcast.push(node)
    }
    return { broadcast, queues }
  }

  #put(node: RegistryNode): void {
    if (node.id === this.#o.self) return
    const old = this.#nodes.get(node.id)
    const subs = decodeSubscriptions(node.metadata)
    this.#nodes.set(node.id, { id: node.id, address: node.address, subs })
    // told after the new entry is in, so what is retried goes to the new address
    if (old !== undefined && old.address !== node.address) this.#o.onGone(old.id, old.address)
  }

  #remove(id: string): void {
    const old = this.#nodes.get(id)
    if (old === undefined) return
    this.#nodes.delete(id)
    this.#o.onGone(old.id, old.address)
  }
}
