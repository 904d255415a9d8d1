/**
 * How the nats registry lays records out in its KV bucket: one key per (service name, version, node
 * id), whose value is that one node's record plus who put it, its TTL and when it was last put.
 *
 * Keys: KV keys allow `[-/_=.A-Za-z0-9]` and use `.` to separate tokens, so each part is escaped:
 * every character outside `[A-Za-z0-9_-]` becomes `=XX` (its hex code; the parts are ASCII by the
 * record rules), and the version token starts with `v` so that an empty version is not an empty
 * token. `greeter` 1.0.0 on node `n1` is `greeter.v1=2E0=2E0.n1`: still readable in `nats kv ls`.
 *
 * Values are JSON (an operator can read them with `nats kv get`), checked on the way in like any
 * record from the network: a value that is not a valid one-node record is refused.
 */
import { checkService } from './validate.ts'
import type { Service } from './registry.ts'

export const VALUE_VERSION = 1

export interface StoredNode {
  /** The record as registered, holding exactly one node. */
  service: Service
  /** The random token of the registry instance that put it (who may refresh it). */
  owner: string
  /** Absent: the node lives until deregistered. */
  ttlMs: number | undefined
  /** The writer's clock (epoch ms) when it was put. */
  heartbeat: number
}

export function keyOf(name: string, version: string, nodeId: string): string {
  return `${escape(name)}.v${escape(version)}.${escape(nodeId)}`
}

export function keyOfRecord(service: Service): string {
  return keyOf(service.name, service.version, service.nodes[0]!.id)
}

function escape(part: string): string {
  return part.replace(
    /[^A-Za-z0-9_-]/g,
    (c) => `=${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`,
  )
}

export function encodeValue(stored: StoredNode): Uint8Array {
  const { service, owner, ttlMs, heartbeat } = stored
  return Buffer.from(JSON.stringify({ v: VALUE_VERSION, owner, ttlMs, heartbeat, service }))
}

/** The stored node in `bytes`, or throws an Error saying what is wrong with it. */
export function decodeValue(bytes: Uint8Array): StoredNode {
  let value: unknown
  try {
    value = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'))
  } catch {
    throw new Error('the value is not JSON')
  }
  if (typeof value !== 'object' || value === null) throw new Error('the value is not an object')
  const { v, owner, ttlMs, heartbeat, service } = value as Record<string, unknown>
  if (v !== VALUE_VERSION) throw new Error(`unknown value version ${String(v)}`)
  if (typeof owner !== 'string' || owner.length === 0 || owner.length > 64) throw new Error('bad owner')
  if (typeof heartbeat !== 'number' || !Number.isFinite(heartbeat)) throw new Error('bad heartbeat')
  if (ttlMs !== undefined && (typeof ttlMs !== 'number' || !(ttlMs > 0 && ttlMs < Infinity))) {
    throw new Error('bad ttlMs')
  }
  const checked = checkService(service) // throws a BadRequestError naming the field
  if (checked.nodes.length !== 1) throw new Error('a stored record holds exactly one node')
  return { service: checked, owner, ttlMs, heartbeat }
}
