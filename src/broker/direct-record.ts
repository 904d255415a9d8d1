/**
 * This direct broker's registry record: which distinct subscriptions (pattern and queue) it holds,
 * written into its node's metadata (format in direct-table.ts), registered with a TTL, refreshed on
 * an interval as the kernel does, registered again on every change (one call after another, so the
 * last state wins) and deregistered on stop.
 */
import type { Clock, TimerHandle } from '../clock.ts'
import type { Registry, Service } from '../registry/registry.ts'
import { encodeRecord } from './direct-table.ts'

export interface NodeRecordOptions {
  registry: Registry
  service: string
  nodeId: string
  ttlMs: number
  intervalMs: number
  clock: Clock
  warn(what: string, error: unknown): void
}

export class NodeRecord {
  readonly #o: NodeRecordOptions
  /** `pattern[ queue]` -> how many local subscriptions share it. */
  readonly #keys = new Map<string, number>()
  #address = ''
  #timer: TimerHandle | null = null
  #chain: Promise<void> = Promise.resolve()
  #stopped = false

  constructor(options: NodeRecordOptions) {
    this.#o = options
  }

  /** Registers with the advertised address and starts the refresh timer. */
  async start(address: string): Promise<void> {
    this.#address = address
    await this.register()
    this.#schedule()
  }

  /** Counts one more subscription under `key`; true when the record changes (throws when it would not fit). */
  add(key: string): boolean {
    const count = this.#keys.get(key)
    if (count === undefined) this.#encode([...this.#keys.keys(), key])
    this.#keys.set(key, (count ?? 0) + 1)
    return count === undefined
  }

  /** Counts one subscription less; true when the record changes. */
  remove(key: string): boolean {
    const left = (this.#keys.get(key) ?? 1) - 1
    if (left > 0) this.#keys.set(key, left)
    else this.#keys.delete(key)
    return left <= 0
  }

  register(): Promise<void> {
    const run = () => this.#o.registry.register(this.#encode(), { ttlMs: this.#o.ttlMs })
    const done = this.#chain.then(run, run)
    this.#chain = done.catch(() => undefined)
    return done
  }

  async stop(): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    this.#timer?.cancel()
    this.#timer = null
    await this.#chain
    if (this.#address !== '') await this.#o.registry.deregister(this.#encode()).catch(() => undefined)
  }

  #encode(keys: Iterable<string> = this.#keys.keys()): Service {
    return encodeRecord(this.#o.service, { id: this.#o.nodeId, address: this.#address }, keys)
  }

  #schedule(): void {
    if (this.#stopped) return
    this.#timer = this.#o.clock.setTimeout(() => {
      this.#timer = null
      if (this.#stopped) return
      this.register().catch((e: unknown) => this.#o.warn('re-register failed', e))
      this.#schedule()
    }, this.#o.intervalMs)
  }
}
