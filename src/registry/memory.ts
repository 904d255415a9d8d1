/**
 * The in-process registry: a table in memory, shared by whoever holds this instance (tests, a single
 * process, the inner store of other registries). Nodes registered with a TTL expire on the injected
 * Clock unless registered again in time; watchers see every create, update, delete and expiry.
 */
import { systemClock, type Clock } from '../clock.ts'
import { Lifecycle } from './lifecycle.ts'
import type { RegisterOptions, Registry, Service, WatchOptions, Watcher } from './registry.ts'
import { ServiceTable } from './table.ts'
import { checkName, checkRegisterOptions, checkService } from './validate.ts'
import { WatchHub } from './watchers.ts'

export interface MemoryRegistryOptions {
  /** Drives TTL expiry. Default: the system clock. */
  clock?: Clock
}

export class MemoryRegistry implements Registry {
  readonly name = 'memory'
  readonly #lifecycle = new Lifecycle('memory')
  readonly #hub = new WatchHub()
  readonly #table: ServiceTable

  constructor(options: MemoryRegistryOptions = {}) {
    this.#table = new ServiceTable({
      clock: options.clock ?? systemClock,
      onEvent: (event) => this.#hub.emit(event),
    })
  }

  async start(): Promise<void> {
    this.#lifecycle.start()
  }

  async stop(): Promise<void> {
    if (!this.#lifecycle.stop()) return
    this.#hub.stop()
    this.#table.clear()
  }

  async register(service: Service, options?: RegisterOptions): Promise<void> {
    this.#lifecycle.assertLive()
    const record = checkService(service)
    this.#table.put(record, checkRegisterOptions(options))
  }

  async deregister(service: Service): Promise<void> {
    this.#lifecycle.assertLive()
    this.#table.remove(checkService(service))
  }

  async getService(name: string): Promise<Service[]> {
    this.#lifecycle.assertLive()
    return this.#table.get(checkName(name))
  }

  async listServices(): Promise<Service[]> {
    this.#lifecycle.assertLive()
    return this.#table.names().flatMap((name) => this.#table.get(name))
  }

  watch(options: WatchOptions = {}): Watcher {
    if (options.service !== undefined) checkName(options.service)
    return this.#hub.watch(options)
  }
}
