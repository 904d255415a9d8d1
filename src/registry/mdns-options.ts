/**
 * The mdns registry's options: one typed object, defaults as named constants, checked once at
 * construction (BadRequestError `invalid_options`), resolved into a fresh object (the caller's is
 * never written to).
 *
 * They mirror multicast-dns: `interface` picks the network interface for multicast membership and
 * sending (`127.0.0.1` keeps everything on loopback), `bind` the address the socket binds (`0.0.0.0`
 * receives the group's traffic), `port` the UDP port (tests use a random one so that parallel test
 * files never hear each other).
 */
import { systemClock, type Clock } from '../clock.ts'
import { BadRequestError, ErrorCode } from '../errors.ts'

export const DEFAULT_MDNS_PORT = 5353
export const DEFAULT_MDNS_DOMAIN = 'local'
/** RFC 6762 §10's TTL for records naming a host (SRV, A): long enough to be quiet, short enough to heal. */
export const DEFAULT_MDNS_TTL_MS = 120_000
export const DEFAULT_QUERY_TIMEOUT_MS = 100

export interface MdnsRegistryOptions {
  /** Default: every interface. */
  interface?: string
  /** Default: every address. */
  bind?: string
  port?: number
  /** TTL of the records of nodes registered without their own `ttlMs`; at least 1000. */
  ttlMs?: number
  domain?: string
  clock?: Clock
  /** How long a lookup of an unknown name (and listServices) listens for answers. */
  queryTimeoutMs?: number
  /** Socket and send errors that do not stop the registry (the link may come back). */
  onWarning?: (error: Error) => void
}

export interface ResolvedMdnsOptions {
  interface: string | undefined
  bind: string | undefined
  port: number
  ttlMs: number
  domain: string
  clock: Clock
  queryTimeoutMs: number
  onWarning: ((error: Error) => void) | undefined
}

export function resolveMdnsOptions(options: MdnsRegistryOptions): ResolvedMdnsOptions {
  const resolved: ResolvedMdnsOptions = {
    interface: options.interface,
    bind: options.bind,
    port: options.port ?? DEFAULT_MDNS_PORT,
    ttlMs: options.ttlMs ?? DEFAULT_MDNS_TTL_MS,
    domain: options.domain ?? DEFAULT_MDNS_DOMAIN,
    clock: options.clock ?? systemClock,
    queryTimeoutMs: options.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS,
    onWarning: options.onWarning,
  }
  const { port, ttlMs, queryTimeoutMs, domain } = resolved
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`port must be 0..65535, got ${port}`)
  if (!(ttlMs >= 1000 && ttlMs < Infinity)) fail(`ttlMs must be at least 1000, got ${ttlMs}`)
  if (!(queryTimeoutMs > 0 && queryTimeoutMs < Infinity)) {
    fail(`queryTimeoutMs must be positive, got ${queryTimeoutMs}`)
  }
  // the instance name (63-byte label + `._mica._tcp.`) must stay within DNS's 254 bytes
  if (!/^[a-z0-9-]+(\.[a-z0-9-]+)*$/.test(domain) || domain.length > 100) {
    fail(`domain must be a lower-case DNS name of at most 100 characters, got ${domain}`)
  }
  return resolved
}

function fail(detail: string): never {
  throw new BadRequestError(ErrorCode.INVALID_OPTIONS, `registry: mdns: ${detail}`, 'registry')
}
