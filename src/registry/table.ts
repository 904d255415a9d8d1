/**
 * The store behind the memory registry and the mdns registry's view: one entry per (name, version,
 * node), each with an optional expiry driven by the injected Clock. It reports every change as a
 * WatchEvent and merges entries into Go Micro's records on lookup.
 *
 * Merging: the nodes of every entry sharing a name and version form one record; its service-level
 * fields (metadata, endpoints) come from the entry that changed last, as in Go Micro's memory
 * registry. A refresh with identical content keeps its place, so two registrants that disagree do
 * not flip the merged record on every heartbeat.
 */
import { isDeepStrictEqual } from 'node:util'
import type { Clock, TimerHandle } from '../clock.ts'
import type { Service, WatchEvent } from './registry.ts'
import { copyService } from './watchers.ts'

interface Entry {
  /** The record as registered, holding exactly one node. */
  readonly service: Service
  /** Order of the last change; the highest wins the service-level fields of a merged record. */
  readonly seq: number
  readonly expiresAt: number | undefined
  readonly timer: TimerHandle | undefined
}

export interface TableOptions {
  clock: Clock
  onEvent(event: WatchEvent): void
  /** Called after an entry expired (and its delete event went out). */
  onExpire?(service: Service): void
}

export class ServiceTable {
  /** name -> `${version}@${nodeId}` -> entry ('@' is in neither a version nor a node id). */
  readonly #names = new Map<string, Map<string, Entry>>()
  readonly #options: TableOptions
  #seq = 0

  constructor(options: TableOptions) {
    this.#options = options
  }

  /** Adds or refreshes every node of `service` (already validated), each with its own TTL. */
  put(service: Service, ttlMs: number | undefined): void {
    let entries = this.#names.get(service.name)
    if (entries === undefined) this.#names.set(service.name, (entries = new Map()))
    for (const node of service.nodes) {
      const record = { ...copyService(service), nodes: [{ ...node, metadata: { ...node.metadata } }] }
      const key = `${service.version}@${node.id}`
      const old = entries.get(key)
      old?.timer?.cancel()
      const changed = old === undefined || !isDeepStrictEqual(old.service, record)
      const expiresAt = ttlMs === undefined ? undefined : this.#options.clock.now() + ttlMs
      const timer =
        ttlMs === undefined ? undefined : this.#options.clock.setTimeout(() => this.#expire(record), ttlMs)
      const seq = changed ? ++this.#seq : old.seq
      entries.set(key, { service: record, seq, expiresAt, timer })
      if (changed) this.#options.onEvent({ action: old === undefined ? 'create' : 'update', service: record })
    }
  }

  /** Removes the nodes of `service` under its name and version; unknown nodes are ignored. */
  remove(service: Service): void {
    for (const node of service.nodes) this.#delete(service.name, `${service.version}@${node.id}`)
  }

  /** One merged record per version of `name`, as fresh copies. */
  get(name: string): Service[] {
    const entries = this.#names.get(name)
    if (entries === undefined) return []
    const byVersion = new Map<string, Entry[]>()
    for (const entry of entries.values()) {
      const list = byVersion.get(entry.service.version)
      if (list) list.push(entry)
      else byVersion.set(entry.service.version, [entry])
    }
    return [...byVersion.values()].map((list) => {
      const latest = list.reduce((a, b) => (b.seq > a.seq ? b : a))
      return { ...copyService(latest.service), nodes: list.map((e) => copyService(e.service).nodes[0]!) }
    })
  }

  names(): string[] {
    return [...this.#names.keys()]
  }

  /** Every entry of one node with its expiry (undefined: none), the one changed last at the end. */
  ofNode(nodeId: string): { service: Service; expiresAt: number | undefined }[] {
    const found: Entry[] = []
    for (const entries of this.#names.values()) {
      for (const entry of entries.values()) if (entry.service.nodes[0]!.id === nodeId) found.push(entry)
    }
    return found.sort((a, b) => a.seq - b.seq).map(({ service, expiresAt }) => ({ service, expiresAt }))
  }

  /** Forgets everything without events, cancelling every expiry timer. */
  clear(): void {
    for (const entries of this.#names.values()) for (const entry of entries.values()) entry.timer?.cancel()
    this.#names.clear()
  }

  #expire(record: Service): void {
    if (this.#delete(record.name, `${record.version}@${record.nodes[0]!.id}`)) {
      this.#options.onExpire?.(record)
    }
  }

  #delete(name: string, key: string): boolean {
    const entries = this.#names.get(name)
    const entry = entries?.get(key)
    if (entries === undefined || entry === undefined) return false
    entry.timer?.cancel()
    entries.delete(key)
    if (entries.size === 0) this.#names.delete(name)
    this.#options.onEvent({ action: 'delete', service: entry.service })
    return true
  }
}
