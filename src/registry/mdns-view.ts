/**
 * The browser side of the mdns registry: what this process knows about every mica node on the link,
 * learnt from any response it hears (answers to anyone's query, announcements, goodbyes) plus its
 * own nodes, which the registry feeds in directly and which never expire here.
 *
 * A remote node's services live for the TTL its records carried. At 80% of that TTL the view asks
 * the node again (RFC 6762 §5.2 cache maintenance): a live node answers and is kept, a dead one (a
 * killed process says no goodbye) is gone when the TTL runs out. A goodbye (TTL 0) removes at once.
 */
import type { Answer, Packet, Question } from 'dns-packet'
import type { Clock, TimerHandle } from '../clock.ts'
import type { Service, WatchEvent } from './registry.ts'
import { decodeInstance, instanceServices, type Instance, type Names } from './mdns-records.ts'
import { ServiceTable } from './table.ts'

const REFRESH_AT = 0.8

export interface ViewOptions {
  clock: Clock
  names: Names
  onEvent(event: WatchEvent): void
  /** Sends a multicast query (a refresh, or the details of an instance seen only by its PTR). */
  query(questions: Question[]): void
}

interface Known {
  nodeId: string
  own: boolean
  refresh: TimerHandle | undefined
}

export class MdnsView {
  readonly #options: ViewOptions
  readonly #table: ServiceTable
  /** Lower-cased instance name -> what we know of it. */
  readonly #instances = new Map<string, Known>()

  constructor(options: ViewOptions) {
    this.#options = options
    this.#table = new ServiceTable({
      clock: options.clock,
      onEvent: options.onEvent,
      onExpire: (service) => this.#forgetIfEmpty(service.nodes[0]!.id),
    })
  }

  get(name: string): Service[] {
    return this.#table.get(name)
  }

  list(): Service[] {
    return this.#table.names().flatMap((name) => this.#table.get(name))
  }

  /** Replaces what we know of the instance; `ttlMs` undefined marks one of our own nodes. */
  apply(name: string, instance: Instance, ttlMs: number | undefined): void {
    const key = name.toLowerCase()
    const known = this.#instances.get(key)
    if (known?.own && ttlMs !== undefined) return // we are the authority on our own nodes
    known?.refresh?.cancel()
    if (known !== undefined && known.nodeId !== instance.nodeId) this.remove(name, known.own)
    const services = instanceServices(instance)
    const keep = new Set(services.map((s) => `${s.name}@${s.version}`))
    for (const { service } of this.#table.ofNode(instance.nodeId)) {
      if (!keep.has(`${service.name}@${service.version}`)) this.#table.remove(service)
    }
    if (services.length === 0) return this.remove(name, ttlMs === undefined)
    for (const service of services) this.#table.put(service, ttlMs)
    const refresh =
      ttlMs === undefined
        ? undefined
        : this.#options.clock.setTimeout(() => this.#refresh(name), Math.floor(ttlMs * REFRESH_AT))
    this.#instances.set(key, { nodeId: instance.nodeId, own: ttlMs === undefined, refresh })
  }

  /** Forgets the instance (a goodbye, or our own node leaving); `own` must match who owns it. */
  remove(name: string, own: boolean): void {
    const key = name.toLowerCase()
    const known = this.#instances.get(key)
    if (known === undefined || known.own !== own) return
    known.refresh?.cancel()
    this.#instances.delete(key)
    for (const { service } of this.#table.ofNode(known.nodeId)) this.#table.remove(service)
  }

  /** Learns from any response: records in answers and additionals alike. */
  onResponse(packet: Packet): void {
    const records = [...(packet.answers ?? []), ...(packet.additionals ?? [])]
    const suffix = `.${this.#options.names.type.toLowerCase()}`
    const described = new Set<string>()
    for (const srv of records) {
      if (srv.type !== 'SRV' || !srv.name.toLowerCase().endsWith(suffix)) continue
      const key = srv.name.toLowerCase()
      described.add(key)
      if (srv.ttl === 0) {
        this.remove(srv.name, false)
        continue
      }
      const txt = records.find((r) => r.type === 'TXT' && r.name.toLowerCase() === key)
      if (txt?.type !== 'TXT') {
        this.#options.query([{ name: srv.name, type: 'TXT' }])
        continue
      }
      const instance = decodeInstance(srv.data, txt.data, records)
      if (instance === undefined) continue
      const ttl = Math.min(srv.ttl ?? 0, txt.ttl ?? 0)
      if (ttl === 0) this.remove(srv.name, false)
      else this.apply(srv.name, instance, ttl * 1000)
    }
    for (const ptr of records) this.#onPointer(ptr, described)
  }

  /** Forgets everything, cancelling every timer; no events (the registry is stopping). */
  clear(): void {
    for (const known of this.#instances.values()) known.refresh?.cancel()
    this.#instances.clear()
    this.#table.clear()
  }

  #onPointer(ptr: Answer, described: Set<string>): void {
    if (ptr.type !== 'PTR' || ptr.name.toLowerCase() !== this.#options.names.type.toLowerCase()) return
    const key = ptr.data.toLowerCase()
    if (ptr.ttl === 0) this.remove(ptr.data, false)
    // an instance we only saw by name (another responder's terse answer): ask for its details
    else if (!described.has(key) && !this.#instances.has(key)) {
      this.#options.query([
        { name: ptr.data, type: 'SRV' },
        { name: ptr.data, type: 'TXT' },
      ])
    }
  }

  #refresh(name: string): void {
    const known = this.#instances.get(name.toLowerCase())
    if (known === undefined || known.own) return
    known.refresh = undefined
    this.#options.query([
      { name, type: 'SRV' },
      { name, type: 'TXT' },
    ])
  }

  #forgetIfEmpty(nodeId: string): void {
    if (this.#table.ofNode(nodeId).length > 0) return
    for (const [key, known] of this.#instances) {
      if (known.nodeId === nodeId && !known.own) {
        known.refresh?.cancel()
        this.#instances.delete(key)
      }
    }
  }
}
