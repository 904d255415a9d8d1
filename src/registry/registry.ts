/**
 * Service discovery (Go Micro's `registry`): who serves which kinds where. This file is the contract
 * only: the record shape, the Registry interface every implementation (memory, mdns, nats, the cache
 * wrapper) honours, and the limits a record must respect. Implementations live beside it.
 *
 * Records are Go Micro's: one `Service` per name and version, whose `nodes` are the processes serving
 * it. Each node registers its own record; a lookup merges the nodes of every registrant that shares a
 * name and version. A node registered with a TTL must be registered again before the TTL runs out or
 * it expires; without a TTL it stays until deregistered (or its registry stops).
 *
 * Every method rejects with the catalogue's errors only: BadRequestError (400, `bad_request`) for a
 * record or name that breaks the rules below, UnavailableError (503, `unavailable`, retryable) when
 * the registry is not started, already stopped, or its backend cannot be reached.
 *
 * A registry with a connection to a shared backend (nats) may report that link's losses and returns
 * (`onLinkChange`, src/link.ts): while it is down this node's records are not refreshed, so other
 * nodes may expire them and route around this node.
 */
import type { LinkHandler } from '../link.ts'

export type { LinkEvent, LinkHandler } from '../link.ts'

/** One handler of a service (Go Micro's endpoint); request/response descriptions go in metadata. */
export interface Endpoint {
  name: string
  metadata: Record<string, string>
}

/** One process serving a service: a unique id and the transport address (`host:port`) to reach it. */
export interface RegistryNode {
  id: string
  address: string
  metadata: Record<string, string>
}

export interface Service {
  name: string
  /** Kept apart in lookups: `getService` returns one record per version. May be empty. */
  version: string
  metadata: Record<string, string>
  endpoints: Endpoint[]
  nodes: RegistryNode[]
}

export interface RegisterOptions {
  /** The node expires unless registered again within this many ms. Absent: it lives until deregistered. */
  ttlMs?: number
}

export interface WatchOptions {
  /** Only events about this service name. Absent: every service. */
  service?: string
}

/**
 * What changed, per node: `create` when a node of a name+version appears, `update` when an existing
 * one changes (address, metadata, endpoints), `delete` when it is deregistered or expires. Registering
 * again with identical content only refreshes the TTL and produces no event.
 */
export type WatchAction = 'create' | 'update' | 'delete'

export interface WatchEvent {
  action: WatchAction
  /** The record as registered, with `nodes` holding the one node the event is about. */
  service: Service
}

/**
 * A live stream of events from the moment `watch` was called. Iteration ends when the watcher or its
 * registry stops. Events queue while nobody iterates (registry churn is small and a watcher that is
 * not read should be stopped).
 */
export interface Watcher extends AsyncIterable<WatchEvent> {
  stop(): void
}

export interface Registry {
  readonly name: string
  /** Binds whatever the registry needs (sockets, connections); call once before anything else. */
  start(): Promise<void>
  /** Deregisters what this registry registered where the backend needs it, ends watchers; idempotent. */
  stop(): Promise<void>
  /** Adds or refreshes every node of `service`. */
  register(service: Service, options?: RegisterOptions): Promise<void>
  /** Removes the nodes listed in `service` (name and version pick the record). */
  deregister(service: Service): Promise<void>
  /** One record per version of `name`, nodes merged across registrants; `[]` when nobody serves it. */
  getService(name: string): Promise<Service[]>
  /** Every known service, in the same shape as getService. */
  listServices(): Promise<Service[]>
  watch(options?: WatchOptions): Watcher
  /** Optional: the backend link's losses and returns; returns an unsubscribe function. */
  onLinkChange?(handler: LinkHandler): () => void
}

/**
 * The rules a record must follow (BadRequestError otherwise). Sized so that one node's record fits in
 * one mDNS packet with room to spare: the mdns registry is the default and cannot split a record.
 */
export const LIMITS = {
  /** Names follow the kind rule: `[A-Za-z0-9_.-]`, 1..128 characters. */
  nameLength: 128,
  /** `[A-Za-z0-9_.+-]`, 0..64 characters. */
  versionLength: 64,
  /** Node ids follow the kernel's rule: `[A-Za-z0-9_.:-]`, 1..128 characters. */
  nodeIdLength: 128,
  /** `host:port` or `[ipv6]:port`. */
  addressLength: 255,
  nodes: 256,
  endpoints: 256,
  endpointNameLength: 128,
  metadataEntries: 64,
  metadataKeyLength: 128,
  /** UTF-8 bytes of all keys and values of one metadata map. */
  metadataBytes: 4096,
  /** UTF-8 bytes of the JSON of name, version, metadata and endpoints (nodes apart). */
  recordBytes: 6144,
} as const
