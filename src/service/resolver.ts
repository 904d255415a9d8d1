/**
 * A service's records as the client needs them: looked up in the registry and reused for
 * `cacheTtlMs` (calls to one service do not each cost a lookup), merged with the records this
 * process serves itself (so a single-node service answers its own client without a registry).
 * A failed attempt that suggests the records are stale drops them (`invalidate`).
 */
import { ErrorCode, MicaError, UnavailableError } from '../errors.ts'
import type { Clock } from '../clock.ts'
import type { Registry, Service as RegistryRecord } from '../registry/registry.ts'

/** Names cached at most; past it the cache starts over (services called by one client are few). */
const MAX_CACHED = 1_000

export interface ResolverPorts {
  readonly registry: Registry | undefined
  readonly clock: Clock
  readonly ttlMs: number
  /** Records of `name` this process serves (none when it serves no such service). */
  own(name: string): RegistryRecord[]
}

export class Resolver {
  readonly #p: ResolverPorts
  readonly #cache = new Map<string, { until: number; records: RegistryRecord[] }>()

  constructor(ports: ResolverPorts) {
    this.#p = ports
  }

  async records(name: string): Promise<RegistryRecord[]> {
    const now = this.#p.clock.now()
    const hit = this.#cache.get(name)
    if (hit !== undefined && hit.until > now) return hit.records
    const own = this.#p.own(name)
    let found: RegistryRecord[] = []
    if (this.#p.registry !== undefined) {
      try {
        found = await this.#p.registry.getService(name)
      } catch (err) {
        if (own.length === 0) throw MicaError.from(err)
      }
    }
    const records = merge(own, found)
    if (records.length === 0 || records.every((r) => r.nodes.length === 0)) {
      throw new UnavailableError(ErrorCode.UNAVAILABLE, `service ${name} not found`, 'client')
    }
    if (this.#p.ttlMs > 0) {
      if (this.#cache.size >= MAX_CACHED) this.#cache.clear()
      this.#cache.set(name, { until: now + this.#p.ttlMs, records })
    }
    return records
  }

  invalidate(name: string): void {
    this.#cache.delete(name)
  }
}

/** Our own records first; a registry record of the same version adds the nodes we do not have. */
function merge(own: RegistryRecord[], found: RegistryRecord[]): RegistryRecord[] {
  const out = own.map((r) => ({ ...r, nodes: [...r.nodes] }))
  for (const r of found) {
    const same = out.find((o) => o.version === r.version)
    if (same === undefined) {
      out.push(r)
      continue
    }
    for (const n of r.nodes) if (!same.nodes.some((m) => m.id === n.id)) same.nodes.push(n)
    if (same.endpoints.length === 0) same.endpoints = r.endpoints
  }
  return out
}
