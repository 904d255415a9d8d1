/**
 * Placement: which node serves an address. It keeps a snapshot of the nodes hosting each kind (our
 * own registrations at once, others from lookups and registry watch events), places a keyed actor by
 * rendezvous over them (cached per key while membership holds: any change of nodes or a mark-down
 * moves an epoch), and serves a stateless kind here when this node hosts it.
 *
 * It also says when keyed actors of a kind this node hosts may have changed hands (`moved`): a node
 * hosting it was marked down here or left it (its ids move to the nodes left, this one among them,
 * which may still hold an activation from the last time they came here), or this node's own
 * registration of it was deleted (expired in the registry, or removed by another registrant: others
 * now route around this node). The kernel then has its persistent actors catch up with their
 * journals (catch-up.ts); nothing here costs anything per message.
 */
import { ErrorCode, NotFoundError } from '../errors.ts'
import type { Clock } from '../clock.ts'
import type { Registry, RegistryNode, Service, Watcher } from '../registry/registry.ts'
import type { Selector } from '../registry/selector.ts'
import type { Address } from './address.ts'
import type { Logger } from './options.ts'

export type Where = 'local' | RegistryNode

/** A cached keyed placement is re-checked after this long even when nothing moved (a mark-down ended). */
export const PLACEMENT_CACHE_MS = 1_000
const MAX_CACHED_PLACEMENTS = 100_000

export interface PlacementOptions {
  nodeId: string
  registry: Registry
  selector: Selector
  clock: Clock
  logger: Logger
  /** The nodes this node registered for `kind` (none when it does not host it). */
  own(kind: string): RegistryNode[] | undefined
  /** Keyed actors of a kind this node hosts may have changed hands (see above); `reason` is for logs. */
  moved?(reason: string): void
}

export class Placement {
  readonly #o: PlacementOptions
  /** Nodes hosting each kind, as last seen. */
  readonly #nodes = new Map<string, RegistryNode[]>()
  readonly #cache = new Map<string, { where: Where; epoch: number; until: number }>()
  #epoch = 0
  #watcher: Watcher | undefined

  constructor(options: PlacementOptions) {
    this.#o = options
  }

  /** Where `to` lives, or a promise of it when this node has not seen the kind yet. */
  place(to: Address): Where | Promise<Where> {
    if (to.node !== undefined) return to.node === this.#o.nodeId ? 'local' : this.#pinned(to)
    if (!this.#nodes.has(to.kind)) return this.lookup(to.kind).then(() => this.#choose(to))
    return this.#choose(to)
  }

  /** Asks the registry again for the nodes of `kind`. */
  async lookup(kind: string): Promise<void> {
    const services = await this.#o.registry.getService(kind)
    this.#set(kind, dedupe([...(this.#o.own(kind) ?? []), ...services.flatMap((s) => s.nodes)]))
  }

  /** Kinds with a snapshot (to refresh them). */
  kinds(): string[] {
    return [...this.#nodes.keys()]
  }

  merge(kind: string, nodes: RegistryNode[]): void {
    this.#set(kind, dedupe([...(this.#nodes.get(kind) ?? []), ...nodes]))
  }

  markDown(nodeId: string): void {
    const fresh = !this.#o.selector.isDown(nodeId)
    this.#o.selector.markDown(nodeId)
    this.#epoch++
    if (fresh && this.#o.moved !== undefined) {
      const shared = this.kinds().filter(
        (kind) => this.#o.own(kind) !== undefined && this.#nodes.get(kind)!.some((n) => n.id === nodeId),
      )
      if (shared.length > 0) this.#o.moved(`${nodeId} marked down (it hosts ${shared.join(', ')})`)
    }
  }

  /** Marks down every node at `address` (its connection was lost). */
  markDownAddress(address: string): void {
    for (const nodes of this.#nodes.values())
      for (const n of nodes) if (n.address === address) this.markDown(n.id)
  }

  markUp(nodeId: string): void {
    this.#o.selector.markUp(nodeId)
  }

  /** Follows the registry's events until `stop()`. */
  watch(): void {
    const watcher = this.#o.registry.watch()
    this.#watcher = watcher
    void (async () => {
      try {
        for await (const event of watcher) {
          const kind = event.service.name
          if (event.action !== 'delete') {
            this.merge(kind, event.service.nodes)
            continue
          }
          const gone = new Set(event.service.nodes.map((n) => n.id))
          const own = this.#o.own(kind) !== undefined ? this.#o.nodeId : undefined
          this.#set(
            kind,
            (this.#nodes.get(kind) ?? []).filter((n) => !gone.has(n.id) || n.id === own),
          )
          if (own === undefined) continue
          const ids = [...gone].join(', ')
          this.#o.moved?.(
            gone.has(own) ? `this node's registration of ${kind} was deleted` : `${ids} left ${kind}`,
          )
        }
      } catch (err) {
        if (this.#watcher !== undefined) this.#o.logger.warn('registry watch ended', (err as Error).message)
      }
    })()
  }

  stop(): void {
    const watcher = this.#watcher
    this.#watcher = undefined
    watcher?.stop()
  }

  #choose(to: Address): Where {
    if (to.id === '') return this.#select(to)
    const now = this.#o.clock.now()
    const cached = this.#cache.get(to.key)
    if (cached !== undefined && cached.epoch === this.#epoch && cached.until > now) return cached.where
    const where = this.#select(to)
    if (this.#cache.size >= MAX_CACHED_PLACEMENTS) this.#cache.clear()
    this.#cache.set(to.key, { where, epoch: this.#epoch, until: now + PLACEMENT_CACHE_MS })
    return where
  }

  #select(to: Address): Where {
    const nodes = this.#nodes.get(to.kind) ?? []
    const hosted = this.#o.own(to.kind) !== undefined
    if ((to.id === '' && hosted) || (nodes.length === 0 && hosted)) return 'local'
    if (nodes.length === 0) throw new NotFoundError(ErrorCode.KIND_NOT_FOUND, `no node hosts kind ${to.kind}`)
    const service: Service = { name: to.kind, version: '', metadata: {}, endpoints: [], nodes }
    const node = this.#o.selector.select([service], to.id === '' ? {} : { key: to.key })
    return node.id === this.#o.nodeId ? 'local' : node
  }

  async #pinned(to: Address): Promise<Where> {
    const find = () => this.#nodes.get(to.kind)?.find((n) => n.id === to.node)
    const node = find() ?? (await this.lookup(to.kind), find())
    if (node === undefined) {
      throw new NotFoundError(ErrorCode.KIND_NOT_FOUND, `node ${to.node} does not host ${to.kind}`)
    }
    return node
  }

  #set(kind: string, nodes: RegistryNode[]): void {
    this.#nodes.set(kind, nodes)
    this.#epoch++
  }
}

function dedupe(nodes: RegistryNode[]): RegistryNode[] {
  const byId = new Map<string, RegistryNode>()
  for (const n of nodes) byId.set(n.id, n)
  return [...byId.values()]
}
