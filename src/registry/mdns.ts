/**
 * The default registry: DNS-SD over multicast DNS (`multicast-dns`), so nodes on one link find each
 * other with no server, and standard mDNS tools (avahi-browse, dns-sd, dig) see mica services.
 * Records and naming: ./mdns-records.ts; answering queries: ./mdns-answer.ts; what we know of other
 * nodes: ./mdns-view.ts. This file is the runtime shell: our own registrations and their TTLs,
 * announcements and goodbyes, lookups.
 *
 * - register announces the node's records at once (with the node's remaining TTL) and keeps answering
 *   queries for them; a node registered with `ttlMs` expires unless registered again in time, and its
 *   expiry is announced as a goodbye (TTL 0). Without `ttlMs`, the records carry `options.ttlMs`
 *   (120 s) and browsers keep them alive by asking again at 80% of it.
 * - deregister and stop send goodbyes, so browsers drop the node at once; a killed process says
 *   nothing, and its records expire on every browser after their TTL.
 * - getService answers from what this process has heard; a name it knows nothing of costs one query
 *   and up to `queryTimeoutMs` of listening. listServices always asks the link and listens that long.
 * - One node is one DNS-SD instance with one SRV: every service a node registers must give the same
 *   address (BadRequestError otherwise), and the node metadata of the latest registration is the
 *   node's metadata for all of them. All of a node's records must fit one 9000-byte packet.
 *
 * Options: ./mdns-options.ts; the UDP socket: ./mdns-socket.ts.
 */
import type { RemoteInfo } from 'node:dgram'
import type { QueryPacket } from 'multicast-dns'
import type { Answer, Packet, Question } from 'dns-packet'
import { BadRequestError, ErrorCode } from '../errors.ts'
import { Lifecycle } from './lifecycle.ts'
import { replyTo, type Owned } from './mdns-answer.ts'
import { announcement, instanceName, mdnsNames, subtypeName, MAX_PACKET_BYTES } from './mdns-records.ts'
import type { Instance, Names } from './mdns-records.ts'
import { resolveMdnsOptions, type MdnsRegistryOptions, type ResolvedMdnsOptions } from './mdns-options.ts'
import { MdnsSocket, type Destination } from './mdns-socket.ts'
import { MdnsView } from './mdns-view.ts'
import type { RegisterOptions, Registry, Service, WatchOptions, Watcher } from './registry.ts'
import { ServiceTable } from './table.ts'
import { checkName, checkRegisterOptions, checkService } from './validate.ts'
import { WatchHub } from './watchers.ts'

export {
  DEFAULT_MDNS_DOMAIN,
  DEFAULT_MDNS_PORT,
  DEFAULT_MDNS_TTL_MS,
  DEFAULT_QUERY_TIMEOUT_MS,
  type MdnsRegistryOptions,
} from './mdns-options.ts'

interface Waiter {
  name: string | undefined
  done(): void
}

export class MdnsRegistry implements Registry {
  readonly name = 'mdns'
  readonly #lifecycle = new Lifecycle('mdns')
  readonly #hub = new WatchHub()
  readonly #options: ResolvedMdnsOptions
  readonly #names: Names
  /** What we registered: the authority for what we answer. */
  readonly #own: ServiceTable
  /** What the link was last told about each of our nodes, so a goodbye names exactly that. */
  readonly #announced = new Map<string, Instance>()
  readonly #view: MdnsView
  readonly #waiters = new Set<Waiter>()
  #socket: MdnsSocket | undefined
  #starting: Promise<void> | undefined

  constructor(options: MdnsRegistryOptions = {}) {
    this.#options = resolveMdnsOptions(options)
    this.#names = mdnsNames(this.#options.domain)
    const clock = this.#options.clock
    this.#own = new ServiceTable({
      clock,
      onEvent: () => {},
      onExpire: (service) => void this.#changed(service.nodes[0]!.id),
    })
    this.#view = new MdnsView({
      clock,
      names: this.#names,
      onEvent: (event) => {
        this.#hub.emit(event)
        for (const w of this.#waiters) if (w.name === event.service.name) w.done()
      },
      query: (questions) => void this.#send('query', { questions }),
    })
  }

  start(): Promise<void> {
    this.#starting ??= this.#start()
    return this.#starting
  }

  async #start(): Promise<void> {
    this.#lifecycle.begin()
    const { interface: iface, bind, port, onWarning } = this.#options
    this.#socket = await MdnsSocket.open(
      { interface: iface, bind, port, onWarning },
      {
        onQuery: (query, from) => this.#onQuery(query, from),
        onResponse: (response) => {
          if (!this.#lifecycle.stopped) this.#view.onResponse(response)
        },
      },
    )
    this.#lifecycle.start() // throws when stop() came first; stop() then closes the socket
    await this.#send('query', { questions: [{ name: this.#names.type, type: 'PTR' }] })
  }

  async stop(): Promise<void> {
    if (!this.#lifecycle.stop()) return
    await this.#starting?.catch(() => {})
    const goodbyes = [...this.#announced.values()].map((instance) =>
      this.#send('respond', { answers: announcement(instance, 0, this.#names) }),
    )
    await Promise.all(goodbyes)
    this.#announced.clear()
    this.#hub.stop()
    for (const waiter of this.#waiters) waiter.done()
    this.#own.clear()
    this.#view.clear()
    const socket = this.#socket
    this.#socket = undefined
    await socket?.close()
  }

  async register(service: Service, options?: RegisterOptions): Promise<void> {
    this.#lifecycle.assertLive()
    const record = checkService(service)
    const ttlMs = checkRegisterOptions(options)
    for (const node of record.nodes) this.#checkFits(record, node.id, node.address)
    this.#own.put(record, ttlMs)
    await Promise.all(record.nodes.map((node) => this.#changed(node.id)))
  }

  async deregister(service: Service): Promise<void> {
    this.#lifecycle.assertLive()
    const record = checkService(service)
    this.#own.remove(record)
    await Promise.all(record.nodes.map((node) => this.#changed(node.id)))
  }

  async getService(name: string): Promise<Service[]> {
    this.#lifecycle.assertLive()
    checkName(name)
    const known = this.#view.get(name)
    if (known.length > 0) return known
    const questions: Question[] = [{ name: subtypeName(name, this.#names), type: 'PTR' }]
    await Promise.all([this.#send('query', { questions }), this.#wait(name)])
    return this.#view.get(name)
  }

  async listServices(): Promise<Service[]> {
    this.#lifecycle.assertLive()
    await Promise.all([
      this.#send('query', { questions: [{ name: this.#names.type, type: 'PTR' }] }),
      this.#wait(undefined),
    ])
    return this.#view.list()
  }

  watch(options: WatchOptions = {}): Watcher {
    if (options.service !== undefined) checkName(options.service)
    return this.#hub.watch(options)
  }

  /** Refuses a registration that would give a node two addresses or overflow its packet. */
  #checkFits(record: Service, nodeId: string, address: string): void {
    const others = this.#own
      .ofNode(nodeId)
      .filter((e) => e.service.name !== record.name || e.service.version !== record.version)
    const clash = others.find((e) => e.service.nodes[0]!.address !== address)
    if (clash) {
      throw bad(
        `node ${nodeId} is registered at ${clash.service.nodes[0]!.address}; one node has one address`,
      )
    }
    const node = record.nodes.find((n) => n.id === nodeId)!
    const instance = instanceOf(nodeId, [...others.map((e) => e.service), { ...record, nodes: [node] }])
    const bytes = this.#socket!.encodingLength({ answers: announcement(instance, 1, this.#names) })
    if (bytes > MAX_PACKET_BYTES) {
      throw bad(
        `the records of node ${nodeId} take ${bytes} bytes, over one mDNS packet (${MAX_PACKET_BYTES})`,
      )
    }
  }

  /** Brings the view and the link up to date with our registrations for one node. */
  async #changed(nodeId: string): Promise<void> {
    if (this.#lifecycle.stopped) return
    const name = instanceName(nodeId, this.#names)
    const before = this.#announced.get(nodeId)
    const entries = this.#own.ofNode(nodeId)
    if (entries.length === 0) {
      this.#announced.delete(nodeId)
      this.#view.remove(name, true)
      if (before) await this.#send('respond', { answers: announcement(before, 0, this.#names) })
      return
    }
    const instance = instanceOf(
      nodeId,
      entries.map((e) => e.service),
    )
    this.#announced.set(nodeId, instance)
    this.#view.apply(name, instance, undefined)
    // a service the node no longer hosts: its subtype pointer says goodbye, the new TXT says the rest
    const hosted = new Set(instance.services.map((s) => subtypeName(s.name, this.#names)))
    const gone = (before?.services ?? [])
      .map((s) => subtypeName(s.name, this.#names))
      .filter((sub) => !hosted.has(sub))
      .map((sub): Answer => ({ name: sub, type: 'PTR', ttl: 0, data: name }))
    await this.#send('respond', {
      answers: [...gone, ...announcement(instance, this.#ttlOf(nodeId), this.#names)],
    })
  }

  /** Seconds until the node's first registration expires (the records must not outlive any). */
  #ttlOf(nodeId: string): number {
    const now = this.#options.clock.now()
    const left = this.#own.ofNode(nodeId).map((e) => (e.expiresAt ?? now + this.#options.ttlMs) - now)
    return Math.max(1, Math.ceil(Math.min(...left) / 1000))
  }

  #onQuery(query: QueryPacket, rinfo: RemoteInfo): void {
    if (this.#lifecycle.stopped || this.#announced.size === 0) return
    const owned: Owned[] = [...this.#announced].map(([nodeId, instance]) => ({
      instance,
      ttl: this.#ttlOf(nodeId),
    }))
    const reply = replyTo(query, rinfo.port, this.#options.port, owned, this.#names)
    if (reply)
      void this.#send(
        'respond',
        reply.packet,
        reply.unicast ? { address: rinfo.address, port: rinfo.port } : undefined,
      )
  }

  #send(kind: 'query' | 'respond', packet: Packet, to?: Destination): Promise<void> {
    const socket = this.#socket
    if (socket === undefined) return Promise.resolve()
    return kind === 'query' ? socket.query(packet.questions ?? [], to) : socket.respond(packet, to)
  }

  /** Resolves when `name` gets its first node (or, undefined, never), or after queryTimeoutMs. */
  #wait(name: string | undefined): Promise<void> {
    return new Promise((resolve) => {
      const waiter: Waiter = {
        name,
        done: () => {
          timer.cancel()
          this.#waiters.delete(waiter)
          resolve()
        },
      }
      this.#waiters.add(waiter)
      const timer = this.#options.clock.setTimeout(() => waiter.done(), this.#options.queryTimeoutMs)
    })
  }
}

/** The instance a node's registrations make: the last registration gives the node's address and metadata. */
function instanceOf(nodeId: string, services: Service[]): Instance {
  const node = services[services.length - 1]!.nodes[0]!
  return {
    nodeId,
    address: node.address,
    metadata: node.metadata,
    services: services.map(({ nodes: _, ...s }) => s),
  }
}

function bad(detail: string): BadRequestError {
  return new BadRequestError(ErrorCode.BAD_REQUEST, `registry: mdns: ${detail}`, 'registry')
}
