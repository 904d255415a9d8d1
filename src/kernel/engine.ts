/**
 * The engine switch: `createKernel({ engine: 'nats', servers })` (or `MICA_ENGINE=nats` with
 * `MICA_NATS_SERVERS`) makes a node whose discovery, transport, pubsub and journal all run on NATS
 * with JetStream: the nats registry (KV bucket), the nats transport (one inbox subject per node),
 * the nats broker (core subjects, at-most-once; `durable: true` for the JetStream broker) and the
 * JetStream journal. That is how mica spans many machines: add NATS servers and mica nodes; the
 * consensus is NATS's own. Anything given explicitly (`registry`, `broker`, ...) wins over the engine.
 *
 * Each plugin opens its own connection with the same options (servers, credentials, TLS): a slow
 * journal write never queues behind transport traffic on one socket.
 */
import { BadRequestError, ErrorCode } from '../errors.ts'
import type { NatsConnectionOptions } from '../nats/connection.ts'
import { NatsRegistry, type NatsRegistryOptions } from '../registry/nats.ts'
import { CachedRegistry } from '../registry/cache.ts'
import { NatsTransport, type NatsTransportOptions } from '../transport/nats.ts'
import { NatsBroker, type NatsBrokerOptions } from '../broker/nats.ts'
import { JetStreamBroker, type JetStreamBrokerOptions } from '../broker/jetstream.ts'
import { JetStreamJournal, type JetStreamJournalOptions } from '../journal/jetstream.ts'
import type { KernelOptions } from './options.ts'

export type Engine = 'embedded' | 'nats'

/** What `engine: 'nats'` takes beyond `servers`: connection options shared by all four plugins. */
export interface NatsEngineOptions extends Omit<NatsConnectionOptions, 'servers' | 'connection'> {
  /**
   * Copies JetStream keeps of the registry bucket, the journal stream and the durable broker's
   * streams (3 on a 3-server cluster). Default 1.
   */
  replicas?: number
  /** Pubsub through the JetStream broker (durable, at-least-once) instead of core NATS. Default false. */
  durable?: boolean
  /** Options of each plugin, beyond the connection ones. */
  registry?: Partial<Omit<NatsRegistryOptions, keyof NatsConnectionOptions>>
  transport?: Partial<Omit<NatsTransportOptions, keyof NatsConnectionOptions>> &
    Pick<NatsTransportOptions, 'reconnect'>
  broker?: Partial<Omit<JetStreamBrokerOptions, keyof NatsConnectionOptions>>
  journal?: Partial<Omit<JetStreamJournalOptions, keyof NatsConnectionOptions>>
}

export const DEFAULT_NATS_SERVERS = 'nats://127.0.0.1:4222'

/** Where the engine is read from when the options do not say: the environment. */
export interface EngineEnvironment {
  MICA_ENGINE?: string
  MICA_NATS_SERVERS?: string
}

/**
 * The options with the engine's plugins filled in where the caller left them out. Returns the
 * caller's object itself for the embedded engine (nothing to add).
 */
export function applyEngine(options: KernelOptions, env: EngineEnvironment = process.env): KernelOptions {
  // an empty MICA_ENGINE counts as unset
  const engine = options.engine ?? (env.MICA_ENGINE || 'embedded')
  if (engine === 'embedded') return options
  if (engine !== 'nats')
    throw new BadRequestError(
      ErrorCode.INVALID_OPTIONS,
      `kernel options: engine must be embedded or nats, got ${String(engine)}${options.engine === undefined ? ' (from MICA_ENGINE)' : ''}`,
    )
  const servers = options.servers ?? serversOf(env.MICA_NATS_SERVERS) ?? DEFAULT_NATS_SERVERS
  const {
    replicas = 1,
    durable = false,
    registry,
    transport,
    broker,
    journal,
    ...connection
  } = options.nats ?? {}
  const base = { ...connection, servers }
  // the transport's `reconnect` is its peers' backoff; its connection always reconnects
  const { reconnect: _always, ...transportBase } = base
  return {
    ...options,
    registry: options.registry ?? new CachedRegistry(new NatsRegistry({ ...base, replicas, ...registry })),
    transport: options.transport ?? new NatsTransport({ ...transportBase, ...transport }),
    listen: options.listen ?? 'nats:0',
    broker:
      options.broker ??
      (durable
        ? new JetStreamBroker({ ...base, replicas, ...broker })
        : new NatsBroker({ ...base, ...(broker as Partial<NatsBrokerOptions>) })),
    journal: options.journal ?? new JetStreamJournal({ ...base, replicas, ...journal }),
  }
}

/** `MICA_NATS_SERVERS`: URLs separated by commas (spaces around them allowed); undefined when empty. */
function serversOf(value: string | undefined): string[] | undefined {
  const servers = (value ?? '')
    .split(',')
    .map((url) => url.trim())
    .filter((url) => url !== '')
  return servers.length === 0 ? undefined : servers
}
