/**
 * Options of the TCP transport (on top of the shared ones in options.ts), the TLS material read from
 * its files, and `host:port` addresses.
 */
import { readFileSync } from 'node:fs'
import { BadRequestError, ErrorCode } from '../errors.ts'
import { positiveOption, resolveCommonOptions, type CommonTransportOptions } from './options.ts'
import type { TcpPeerOptions } from './tcp-peer.ts'

export const DEFAULT_HEARTBEAT_MS = 5_000
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000
export const DEFAULT_CLOSE_GRACE_MS = 1_000

export interface TcpTransportOptions extends CommonTransportOptions {
  /** Ping period (default 5 s); a connection silent for 3 periods is closed. */
  heartbeatMs?: number
  /** Dial (and TLS handshake) timeout (default 5 s). */
  connectTimeoutMs?: number
  /** How long a closing connection may take to write what is queued (default 1 s). */
  closeGraceMs?: number
  /** PEM file paths; read once, at construction. */
  tls?: { cert: string; key: string; ca?: string }
}

export interface TlsMaterial {
  cert: Buffer
  key: Buffer
  ca: Buffer | undefined
}

export function resolveTcpOptions(options: TcpTransportOptions): TcpPeerOptions {
  const positive = positiveOption('tcp')
  return {
    ...resolveCommonOptions('tcp', options),
    heartbeatMs: positive('heartbeatMs', options.heartbeatMs, DEFAULT_HEARTBEAT_MS),
    connectTimeoutMs: positive('connectTimeoutMs', options.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS),
    closeGraceMs: positive('closeGraceMs', options.closeGraceMs, DEFAULT_CLOSE_GRACE_MS),
  }
}

export function readTls(paths: { cert: string; key: string; ca?: string }): TlsMaterial {
  const read = (name: string, path: string): Buffer => {
    try {
      return readFileSync(path)
    } catch (err) {
      const detail = `tcp transport options: cannot read tls.${name} ${path}: ${(err as Error).message}`
      throw new BadRequestError(ErrorCode.INVALID_OPTIONS, detail)
    }
  }
  const ca = paths.ca === undefined ? undefined : read('ca', paths.ca)
  return { cert: read('cert', paths.cert), key: read('key', paths.key), ca }
}

/** `host:port` or `[v6]:port`. */
export function parseHostPort(address: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address)
  const port = match === null ? NaN : Number(match[3])
  if (match === null || port > 65_535) {
    throw new BadRequestError(
      ErrorCode.INVALID_ADDRESS,
      `transport address must be host:port, got ${address}`,
    )
  }
  return { host: match[1] ?? match[2] ?? '', port }
}

export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}
