// Several services in one process: one MemoryRegistry and one MemoryNetwork they share. Each
// service's kernel starts and stops "its" registry, so each gets a view whose start and stop touch
// nothing shared; the process stops the shared registry itself at the end.
import {
  MemoryBroker,
  MemoryNetwork,
  MemoryRegistry,
  MemoryTransport,
  type Broker,
  type Registry,
  type ServiceOptions,
} from '../src/index.ts'

export function inProcess() {
  const registry = new MemoryRegistry()
  const network = new MemoryNetwork()
  const broker = new MemoryBroker()
  const registryView: Registry = {
    name: 'shared-memory',
    start: async () => {},
    stop: async () => {},
    register: (s, o) => registry.register(s, o),
    deregister: (s) => registry.deregister(s),
    getService: (n) => registry.getService(n),
    listServices: () => registry.listServices(),
    watch: (o) => registry.watch(o),
  }
  const brokerView: Broker = {
    name: 'shared-memory',
    get handlerErrors() {
      return broker.handlerErrors
    },
    start: async () => {},
    stop: async () => {},
    publish: (t, m) => broker.publish(t, m),
    subscribe: (t, h, o) => broker.subscribe(t, h, o),
  }
  return {
    async start(): Promise<void> {
      await registry.start()
      await broker.start()
    },
    /** What a service needs to join the others: registry, transport, address, broker. */
    options(): Pick<ServiceOptions, 'registry' | 'transport' | 'address' | 'broker'> {
      return {
        registry: registryView,
        transport: new MemoryTransport({ network }),
        address: 'mem:0',
        broker: brokerView,
      }
    },
    async stop(): Promise<void> {
      await broker.stop()
      await registry.stop()
    },
  }
}
