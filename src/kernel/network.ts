/**
 * The embedded network, chosen in one place: mDNS discovery (behind the lru-cache registry cache),
 * the TCP transport, and the direct broker (subscriptions recorded in that registry, messages over a
 * TCP transport of its own). `createKernel({ ...embeddedNetwork() })` makes a node that finds the
 * others on its link and talks to them directly, with no server to run.
 */
import { CachedRegistry, type CachedRegistryOptions } from '../registry/cache.ts'
import { MdnsRegistry } from '../registry/mdns.ts'
import type { MdnsRegistryOptions } from '../registry/mdns-options.ts'
import type { Registry } from '../registry/registry.ts'
import { TcpTransport, type TcpTransportOptions } from '../transport/tcp.ts'
import type { Transport } from '../transport/transport.ts'
import { DirectBroker, type DirectBrokerOptions } from '../broker/direct.ts'
import type { Broker } from '../broker/broker.ts'

export interface EmbeddedNetworkOptions {
  mdns?: MdnsRegistryOptions
  tcp?: TcpTransportOptions
  cache?: CachedRegistryOptions
  /** Transport listen address (default `0.0.0.0:0`: every interface, any free port). */
  listen?: string
  /** The direct broker's options (its registry and transport are these); `false` leaves pubsub in-process. */
  direct?: Partial<Omit<DirectBrokerOptions, 'registry' | 'transport'>> | false
}

export function embeddedNetwork(options: EmbeddedNetworkOptions = {}): {
  registry: Registry
  transport: Transport
  listen: string
  broker?: Broker
} {
  const registry = new CachedRegistry(new MdnsRegistry(options.mdns), options.cache)
  const listen = options.listen ?? '0.0.0.0:0'
  const network = { registry, transport: new TcpTransport(options.tcp), listen }
  if (options.direct === false) return network
  const direct = new DirectBroker({
    listen,
    ...options.direct,
    registry,
    transport: new TcpTransport(options.tcp),
  })
  return { ...network, broker: direct }
}

/** mDNS and TCP on loopback only, on a given mDNS port: what tests and demos use. */
export function loopbackNetwork(mdnsPort: number, options: EmbeddedNetworkOptions = {}) {
  return embeddedNetwork({
    ...options,
    mdns: { interface: '127.0.0.1', bind: '0.0.0.0', port: mdnsPort, ...options.mdns },
    listen: options.listen ?? '127.0.0.1:0',
  })
}
