// The shared kit of the transport tests: one envelope of every kind, waiting for a condition,
// recording what a transport receives, and the process's open handles.
import assert from 'node:assert/strict'
import net from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Envelope } from '../../src/transport/envelope.ts'
import type { Peer, Transport } from '../../src/transport/transport.ts'
import type { MicaError } from '../../src/errors.ts'

/** One envelope of each kind, every field it can carry filled in. */
export function everyKind(): Envelope[] {
  const md = { trace: 'abc', tenant: 'ü-7' }
  const b = new Uint8Array([0x93, 1, 2, 3])
  const full = {
    to: 'cart/7@n1',
    from: 'web/',
    h: 'add',
    dl: 1_700_000_000_000,
    md,
    ct: 'application/json',
    b,
  }
  return [
    { t: 'send', ...full },
    { t: 'ask', id: 1, ...full },
    { t: 'reply', id: 1, ct: 'application/json', b },
    { t: 'error', id: 2, e: { id: 'cart', code: 'actor_not_found', detail: 'no cart 7', status: 404 } },
    { t: 'publish', to: 'orders.created', from: 'web/', md, b },
    { t: 'stream-open', id: 3, ...full },
    { t: 'stream-data', id: 3, b },
    { t: 'stream-end', id: 3 },
    { t: 'stream-cancel', id: 3, e: { id: 'web', code: 'aborted', detail: 'gone', status: 499 } },
    { t: 'stream-credit', id: 3, n: 64 },
    { t: 'ping' },
  ]
}

/** Decoded bodies are Buffers (views into the frame); compare them as plain bytes. */
export function normalize(env: Envelope): Envelope {
  return env.b === undefined ? env : { ...env, b: new Uint8Array(env.b) }
}

export async function until(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(2)
  }
}

/** Everything a transport delivers and every peer-down it reports. */
export class Recorder {
  readonly envelopes: Envelope[] = []
  readonly peers: Peer[] = []
  readonly downs: { peer: Peer; reason: MicaError }[] = []

  constructor(transport: Transport) {
    transport.onEnvelope((env, peer) => {
      this.envelopes.push(normalize(env))
      this.peers.push(peer)
    })
    transport.onPeerDown((peer, reason) => this.downs.push({ peer, reason }))
  }

  async received(n: number, timeoutMs?: number): Promise<Envelope[]> {
    await until(`${n} envelopes (have ${this.envelopes.length})`, () => this.envelopes.length >= n, timeoutMs)
    return this.envelopes
  }
}

/** Open handles by type, e.g. { TCPSocketWrap: 2, Timeout: 1 }. */
export function handles(): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const name of process.getActiveResourcesInfo()) counts[name] = (counts[name] ?? 0) + 1
  return counts
}

export function logger(): { warn(message: string): void; warnings: string[] } {
  const warnings: string[] = []
  return { warnings, warn: (message) => warnings.push(message) }
}

/** A TCP address nobody listens on (a port just bound and released). */
export async function unusedTcpAddress(): Promise<string> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return `127.0.0.1:${port}`
}

/** A frame as it goes on the wire: 4-byte big-endian length, then the bytes. */
export function frame(body: Uint8Array): Buffer {
  const header = Buffer.alloc(4)
  header.writeUInt32BE(body.byteLength)
  return Buffer.concat([header, body])
}
