/**
 * A NATS connection for one plugin: the options every NATS-backed plugin accepts
 * (registry, transport, broker, journal), opening a connection from them or adopting the caller's,
 * and following whether it is connected right now. With `engine: 'nats'` each of the four opens its
 * own connection from the same options (see src/kernel/engine.ts for why); a caller that wants one
 * socket opens it and passes it to each plugin as `connection`.
 *
 * The client (`@nats-io/transport-node`) is imported when a connection is opened, so code that
 * never uses NATS never loads it. An adopted connection is never closed here: its owner closes it.
 *
 * The link's losses and returns (src/link.ts) come from the client's status stream: `disconnect` or
 * `staleConnection` (the client then reconnects by itself) and `close` (it gave up, or its owner
 * closed an adopted connection) are a loss, reported once until a `reconnect` restores it.
 */
import type { NatsConnection, NodeConnectionOptions } from '@nats-io/transport-node'
import { ErrorCode, UnavailableError } from '../errors.ts'
import type { LinkEvent, LinkHandler } from '../link.ts'

export interface NatsConnectionOptions {
  /** `nats://host:port`, or several for a cluster. Required unless `connection` is given. */
  servers?: string | string[]
  /**
   * Try `servers` in the order given, first at connect and then at every reconnect (a node attached
   * to a nearby server, failing over to the others). Default false: the client shuffles them, which
   * spreads nodes over a cluster.
   */
  noRandomize?: boolean
  /** An open connection to use instead of making one; it is left open by `stop()`. */
  connection?: NatsConnection
  /** Connection name shown by the server's monitoring. */
  name?: string
  user?: string
  pass?: string
  token?: string
  /** A credentials file (`.creds`: JWT + NKey seed), as issued by a NATS operator. */
  credsFile?: string
  tls?: NodeConnectionOptions['tls']
  /** Default true. */
  reconnect?: boolean
  /** -1 (the default): try for ever. */
  maxReconnectAttempts?: number
  /** Pause between reconnect attempts to the same server. Default 2000 ms. */
  reconnectTimeWaitMs?: number
  /**
   * How long one connection attempt may take until the server's first answer (the client's
   * `timeout`). Default 20,000 ms. A server that verifies client certificates drops a client without
   * one after the TLS handshake, and the client only notices at this deadline.
   */
  connectTimeoutMs?: number
}

export const DEFAULT_NATS_RECONNECT_TIME_WAIT_MS = 2000
export const DEFAULT_NATS_CONNECT_TIMEOUT_MS = 20_000

/** An open connection and whether closing it is ours to do. */
export interface NatsLink {
  readonly nc: NatsConnection
  readonly owned: boolean
  /** False between a disconnect and the reconnect that follows. */
  readonly connected: boolean
  /** The server's max_payload (bytes): no message may be larger. */
  readonly maxPayload: number
  /** The link's losses and returns (a throwing handler is ignored); returns an unsubscribe function. */
  onChange(handler: LinkHandler): () => void
  /** Stops following the status and closes the connection when it is ours. */
  close(): Promise<void>
}

/** The client's options from ours (undefined options keep the client's defaults). */
export async function natsClientOptions(
  o: NatsConnectionOptions,
  defaultName: string,
): Promise<NodeConnectionOptions> {
  const out: NodeConnectionOptions = {
    servers: o.servers,
    name: o.name ?? defaultName,
    reconnect: o.reconnect ?? true,
    maxReconnectAttempts: o.maxReconnectAttempts ?? -1,
    reconnectTimeWait: o.reconnectTimeWaitMs ?? DEFAULT_NATS_RECONNECT_TIME_WAIT_MS,
    timeout: o.connectTimeoutMs ?? DEFAULT_NATS_CONNECT_TIMEOUT_MS,
  }
  if (o.noRandomize !== undefined) out.noRandomize = o.noRandomize
  if (o.user !== undefined) out.user = o.user
  if (o.pass !== undefined) out.pass = o.pass
  if (o.token !== undefined) out.token = o.token
  if (o.tls !== undefined) out.tls = o.tls
  if (o.credsFile !== undefined) {
    const [{ readFile }, client] = await Promise.all([
      import('node:fs/promises'),
      import('@nats-io/transport-node'),
    ])
    out.authenticator = client.credsAuthenticator(await readFile(o.credsFile))
  }
  return out
}

/**
 * Opens (or adopts) a connection. Rejects with UnavailableError naming `who` and the servers when
 * the server cannot be reached.
 */
export async function openNatsLink(o: NatsConnectionOptions, who: string): Promise<NatsLink> {
  let nc = o.connection
  const owned = nc === undefined
  if (owned) {
    if (o.servers === undefined || (Array.isArray(o.servers) && o.servers.length === 0))
      throw new UnavailableError(ErrorCode.UNAVAILABLE, `${who}: no NATS servers given`, who)
    try {
      const client = await import('@nats-io/transport-node')
      nc = await client.connect(await natsClientOptions(o, `mica-${who}`))
    } catch (error) {
      const detail = `${who}: cannot connect to nats ${String(o.servers)}: ${connectFailure(error, o)}`
      throw new UnavailableError(ErrorCode.UNAVAILABLE, detail, who, { cause: error })
    }
  }
  return follow(nc!, owned)
}

function follow(nc: NatsConnection, owned: boolean): NatsLink {
  let connected = true
  const handlers = new Set<LinkHandler>()
  const emit = (event: LinkEvent): void => {
    for (const handler of handlers) {
      try {
        handler(event)
      } catch {
        // a listener's failure is its own: the link goes on
      }
    }
  }
  const status = nc.status() as AsyncIterable<{ type: string; server?: string }> & { stop?: () => void }
  void (async () => {
    for await (const s of status) {
      if (s.type === 'disconnect' || s.type === 'staleConnection' || s.type === 'close') {
        if (!connected) continue
        connected = false
        const detail = s.type === 'disconnect' ? `disconnected from ${s.server ?? 'the server'}` : s.type
        emit({ state: 'lost', detail })
      } else if (s.type === 'reconnect' && !connected) {
        connected = true
        emit({ state: 'restored', detail: `reconnected to ${s.server ?? 'a server'}` })
      }
    }
  })().catch(() => undefined)
  return {
    nc,
    owned,
    get connected() {
      return connected && !nc.isClosed()
    },
    maxPayload: nc.info?.max_payload ?? 1024 * 1024,
    onChange(handler) {
      handlers.add(handler)
      return () => void handlers.delete(handler)
    },
    close: async () => {
      status.stop?.()
      if (owned) await nc.close().catch(() => undefined)
    },
  }
}

/**
 * Why a connect failed. The client's own word for a connect deadline is just "timeout": say which,
 * and the likely cause over TLS without a client certificate (the server closed the connection
 * after the handshake, which the client does not report before the deadline).
 */
function connectFailure(error: unknown, o: NatsConnectionOptions): string {
  if (!(error instanceof Error && error.name === 'TimeoutError')) return errorText(error)
  const ms = o.connectTimeoutMs ?? DEFAULT_NATS_CONNECT_TIMEOUT_MS
  const noCertificate = o.tls !== undefined && o.tls !== null && !o.tls.certFile && !o.tls.cert
  const hint = noCertificate
    ? ' (a server that verifies client certificates closes the connection of a client without one: give tls.certFile and tls.keyFile)'
    : ''
  return `no answer from the server within ${ms} ms${hint}`
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
