// The shared kit of the service tests: services on one MemoryRegistry + MemoryNetwork, stopped after
// each test, and small actor definitions.
import { MemoryRegistry } from '../../src/registry/memory.ts'
import { MemoryNetwork, MemoryTransport } from '../../src/transport/memory.ts'
import { MemoryBroker } from '../../src/broker/memory.ts'
import { createService, type Service } from '../../src/service/service.ts'
import type { ServiceOptions } from '../../src/service/options.ts'
import type {
  Broker,
  BrokerHandler,
  PublishMessage,
  SubscribeOptions,
  Subscription,
} from '../../src/broker/broker.ts'
import { RegistryView } from '../helpers/cluster.ts'
import { captureLogger } from '../helpers/kernels.ts'

/** A broker that forwards to a shared one; starting and stopping it touches nothing shared. */
export class BrokerView implements Broker {
  readonly name = 'view'
  readonly #inner: Broker
  readonly #subs = new Set<Subscription>()
  constructor(inner: Broker) {
    this.#inner = inner
  }
  get handlerErrors(): number {
    return this.#inner.handlerErrors
  }
  async start(): Promise<void> {}
  async stop(): Promise<void> {
    await Promise.all([...this.#subs].map((s) => s.unsubscribe()))
  }
  publish(topic: string, message: PublishMessage): Promise<void> {
    return this.#inner.publish(topic, message)
  }
  async subscribe(topic: string, handler: BrokerHandler, options?: SubscribeOptions): Promise<Subscription> {
    const sub = await this.#inner.subscribe(topic, handler, options)
    this.#subs.add(sub)
    return sub
  }
}

export class Services {
  readonly registry = new MemoryRegistry()
  readonly network = new MemoryNetwork()
  readonly broker = new MemoryBroker()
  readonly services: Service[] = []
  #n = 0

  async start(): Promise<void> {
    await this.registry.start()
    await this.broker.start()
  }

  /** A service on the shared registry and network, not started. */
  make(options: Partial<ServiceOptions> & { name: string }): Service {
    const nodeId = options.kernel?.nodeId ?? `${options.name}-${++this.#n}`
    const service = createService({
      registry: new RegistryView(this.registry),
      transport: new MemoryTransport({ network: this.network, logger: { warn: () => {} } }),
      address: 'mem:0',
      broker: new BrokerView(this.broker),
      handleSignal: false,
      ...options,
      kernel: { logger: captureLogger(), drainTimeoutMs: 1_000, ...options.kernel, nodeId },
    })
    this.services.push(service)
    return service
  }

  async started(options: Partial<ServiceOptions> & { name: string }, setup?: (s: Service) => Promise<void>) {
    const s = this.make(options)
    await setup?.(s)
    await s.start()
    return s
  }

  async stop(): Promise<void> {
    await Promise.all(this.services.map((s) => s.stop().catch(() => undefined)))
    await this.registry.stop()
    await this.broker.stop()
  }
}

export async function withServices<T>(fn: (s: Services) => Promise<T>): Promise<T> {
  const s = new Services()
  await s.start()
  try {
    return await fn(s)
  } finally {
    await s.stop()
  }
}
