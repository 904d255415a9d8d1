// Several kernels in one process: a memory registry they share (each kernel sees a view whose
// start/stop belong to the test) and a transport each (memory or TCP on loopback).
import type {
  Registry,
  RegisterOptions,
  Service,
  WatchOptions,
  Watcher,
} from '../../src/registry/registry.ts'
import { MemoryRegistry } from '../../src/registry/memory.ts'
import { MemoryNetwork, MemoryTransport } from '../../src/transport/memory.ts'
import { TcpTransport } from '../../src/transport/tcp.ts'
import type { Transport } from '../../src/transport/transport.ts'
import { createKernel, type Kernel } from '../../src/kernel/kernel.ts'
import type { KernelOptions } from '../../src/kernel/options.ts'
import { captureLogger } from './kernels.ts'

/** A registry that forwards to a shared one; starting and stopping it touches nothing shared. */
export class RegistryView implements Registry {
  readonly name = 'view'
  readonly #inner: Registry
  constructor(inner: Registry) {
    this.#inner = inner
  }
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  register(service: Service, options?: RegisterOptions): Promise<void> {
    return this.#inner.register(service, options)
  }
  deregister(service: Service): Promise<void> {
    return this.#inner.deregister(service)
  }
  getService(name: string): Promise<Service[]> {
    return this.#inner.getService(name)
  }
  listServices(): Promise<Service[]> {
    return this.#inner.listServices()
  }
  watch(options?: WatchOptions): Watcher {
    return this.#inner.watch(options)
  }
}

export type TransportKind = 'memory' | 'tcp'

export class Cluster {
  readonly registry = new MemoryRegistry()
  readonly network = new MemoryNetwork()
  readonly kernels: Kernel[] = []
  readonly #transport: TransportKind

  constructor(transport: TransportKind) {
    this.#transport = transport
  }

  async start(): Promise<void> {
    await this.registry.start()
  }

  async node(nodeId: string, options: KernelOptions = {}): Promise<Kernel> {
    const transport: Transport =
      this.#transport === 'memory'
        ? new MemoryTransport({ network: this.network, logger: { warn: () => {} } })
        : new TcpTransport({ logger: { warn: () => {} } })
    const kernel = await createKernel({
      nodeId,
      workers: 0,
      logger: captureLogger(),
      registry: new RegistryView(this.registry),
      transport,
      listen: this.#transport === 'memory' ? 'mem:0' : '127.0.0.1:0',
      drainTimeoutMs: 1_000,
      ...options,
    })
    this.kernels.push(kernel)
    return kernel
  }

  async stop(): Promise<void> {
    await Promise.all(this.kernels.map((k) => k.stop()))
    await this.registry.stop()
  }
}

export async function withCluster<T>(transport: TransportKind, fn: (c: Cluster) => Promise<T>): Promise<T> {
  const cluster = new Cluster(transport)
  await cluster.start()
  try {
    return await fn(cluster)
  } finally {
    await cluster.stop()
  }
}
