/**
 * Record validation, shared by every registry: a record that breaks a rule of `LIMITS` is refused with
 * a BadRequestError naming the field. A valid record comes back as a fresh copy holding only the
 * known fields, so a registry never keeps (or hands out) an object its caller can still mutate.
 * Records decoded from the network go through the same checks.
 */
import { BadRequestError, ErrorCode } from '../errors.ts'
import { LIMITS, type Endpoint, type RegisterOptions, type RegistryNode, type Service } from './registry.ts'

const NAME = /^[A-Za-z0-9_.-]+$/
const VERSION = /^[A-Za-z0-9_.+-]*$/
const NODE_ID = /^[A-Za-z0-9_.:-]+$/
const ADDRESS = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$/
/** The NATS transport's addresses (transport/nats-options.ts). */
const NATS_ADDRESS = /^nats:[A-Za-z0-9_-]{1,64}$/

function bad(detail: string): BadRequestError {
  return new BadRequestError(ErrorCode.BAD_REQUEST, `registry: ${detail}`, 'registry')
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function checkName(name: unknown): string {
  if (typeof name !== 'string' || !NAME.test(name) || name.length > LIMITS.nameLength) {
    throw bad(`a service name must match [A-Za-z0-9_.-]{1,${LIMITS.nameLength}}, got ${describe(name)}`)
  }
  return name
}

export function checkRegisterOptions(options: RegisterOptions | undefined): number | undefined {
  const ttlMs = options?.ttlMs
  if (ttlMs === undefined) return undefined
  if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw bad(`ttlMs must be a positive number of ms, got ${describe(ttlMs)}`)
  }
  return ttlMs
}

/** A validated copy of `value`: only the known fields, every map and list copied. */
export function checkService(value: unknown): Service {
  if (!isObject(value)) throw bad(`a service must be an object, got ${describe(value)}`)
  const name = checkName(value.name)
  const at = `service ${name}`
  const version = value.version ?? ''
  if (typeof version !== 'string' || !VERSION.test(version) || version.length > LIMITS.versionLength) {
    throw bad(
      `${at}: version must match [A-Za-z0-9_.+-]{0,${LIMITS.versionLength}}, got ${describe(version)}`,
    )
  }
  const metadata = checkMetadata(value.metadata, `${at}: metadata`)
  const endpoints = checkList(value.endpoints ?? [], LIMITS.endpoints, `${at}: endpoints`).map((e, i) =>
    checkEndpoint(e, `${at}: endpoint ${i}`),
  )
  const nodes = checkList(value.nodes, LIMITS.nodes, `${at}: nodes`).map((n, i) =>
    checkNode(n, `${at}: node ${i}`),
  )
  if (nodes.length === 0) throw bad(`${at}: a record needs at least one node`)
  const ids = new Set(nodes.map((n) => n.id))
  if (ids.size !== nodes.length) throw bad(`${at}: node ids must be unique within a record`)
  const bytes = Buffer.byteLength(JSON.stringify({ name, version, metadata, endpoints }))
  if (bytes > LIMITS.recordBytes) {
    throw bad(`${at}: the record is ${bytes} bytes, over ${LIMITS.recordBytes}`)
  }
  return { name, version, metadata, endpoints, nodes }
}

function checkList(value: unknown, max: number, at: string): unknown[] {
  if (!Array.isArray(value)) throw bad(`${at} must be an array, got ${describe(value)}`)
  if (value.length > max) throw bad(`${at}: at most ${max} entries, got ${value.length}`)
  return value
}

function checkEndpoint(value: unknown, at: string): Endpoint {
  if (!isObject(value)) throw bad(`${at} must be an object, got ${describe(value)}`)
  const { name } = value
  if (typeof name !== 'string' || name.length === 0 || name.length > LIMITS.endpointNameLength) {
    throw bad(`${at}: name must be a string of 1..${LIMITS.endpointNameLength} characters`)
  }
  return { name, metadata: checkMetadata(value.metadata, `${at}: metadata`) }
}

function checkNode(value: unknown, at: string): RegistryNode {
  if (!isObject(value)) throw bad(`${at} must be an object, got ${describe(value)}`)
  const { id, address } = value
  if (typeof id !== 'string' || !NODE_ID.test(id) || id.length > LIMITS.nodeIdLength) {
    throw bad(`${at}: id must match [A-Za-z0-9_.:-]{1,${LIMITS.nodeIdLength}}, got ${describe(id)}`)
  }
  if (typeof address !== 'string' || address.length > LIMITS.addressLength || !validAddress(address)) {
    throw bad(`${at}: address must be host:port, [ipv6]:port or nats:<token>, got ${describe(address)}`)
  }
  return { id, address, metadata: checkMetadata(value.metadata, `${at}: metadata`) }
}

function validAddress(address: string): boolean {
  if (NATS_ADDRESS.test(address)) return true
  const match = ADDRESS.exec(address)
  return match !== null && Number(match[2]) <= 65535
}

/** A flat map of strings; absent is `{}`. */
function checkMetadata(value: unknown, at: string): Record<string, string> {
  if (value === undefined) return {}
  if (!isObject(value)) throw bad(`${at} must be a flat map of strings, got ${describe(value)}`)
  const entries = Object.entries(value)
  if (entries.length > LIMITS.metadataEntries) {
    throw bad(`${at}: at most ${LIMITS.metadataEntries} entries, got ${entries.length}`)
  }
  const copy: Record<string, string> = {}
  let bytes = 0
  for (const [key, v] of entries) {
    if (key.length === 0 || key.length > LIMITS.metadataKeyLength) {
      throw bad(`${at}: keys must have 1..${LIMITS.metadataKeyLength} characters`)
    }
    if (typeof v !== 'string') throw bad(`${at}: the value of ${key} must be a string, got ${describe(v)}`)
    bytes += Buffer.byteLength(key) + Buffer.byteLength(v)
    // defineProperty: a `__proto__` key from decoded JSON stays data instead of touching the prototype
    Object.defineProperty(copy, key, { value: v, enumerable: true, writable: true, configurable: true })
  }
  if (bytes > LIMITS.metadataBytes) throw bad(`${at}: ${bytes} bytes, over ${LIMITS.metadataBytes}`)
  return copy
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)
  if (Array.isArray(value)) return 'an array'
  return value === null ? 'null' : typeof value
}
