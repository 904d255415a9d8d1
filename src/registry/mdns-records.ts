/**
 * DNS-SD records for mica nodes (RFC 6763), pure functions between a node's registrations and DNS
 * answers. Naming, with the default domain `local`:
 *
 *   _mica._tcp.local                      PTR -> <node>._mica._tcp.local        (one instance per node)
 *   _<service>._sub._mica._tcp.local      PTR -> <node>._mica._tcp.local        (one per hosted service)
 *   <node>._mica._tcp.local               SRV -> port, target                   (the node's address)
 *   <node>._mica._tcp.local               TXT    txtvers=1 node=<id> s0=<name>@<version> ... d0=... d1=...
 *   <node>.local                          A / AAAA -> the address's IP          (when it is an IP)
 *
 * Labels: a DNS label holds at most 63 bytes, no dot, and compares case-insensitively, and dns-packet
 * neither escapes dots nor checks lengths; an id that is not already a safe lower-case label becomes
 * a readable prefix plus a hash of the id. The TXT keys `node` and `s<i>` carry the exact ids, so
 * labels are only handles. `d<j>` holds, base64 of raw-deflated compact JSON, the rest of the record
 * (node metadata, each service's metadata and endpoints), chunked so that no TXT string exceeds the
 * 255 bytes a length octet can say (dns-packet would silently truncate the length).
 */
import { createHash } from 'node:crypto'
import { isIP } from 'node:net'
import { deflateRawSync, inflateRawSync } from 'node:zlib'
import type { Answer, StringAnswer, TxtData } from 'dns-packet'
import { ErrorCode, InternalError } from '../errors.ts'
import type { Endpoint, Service } from './registry.ts'
import { checkService } from './validate.ts'

/** RFC 6762 §17: a multicast DNS packet carries at most 9000 bytes of DNS message. */
export const MAX_PACKET_BYTES = 9000
export const MAX_TXT_STRING_BYTES = 255
/** base64 characters per `d<j>=` string: the key and `=` take at most 5 more bytes below 1000 chunks. */
const CHUNK_CHARS = 250
/** Refuses to inflate a remote payload past this (a packet of 9000 bytes cannot honestly need more). */
const MAX_INFLATED_BYTES = 1 << 20

export interface Names {
  domain: string
  /** `_mica._tcp.<domain>` */
  type: string
  /** `_services._dns-sd._udp.<domain>`: service type enumeration (RFC 6763 §9). */
  enumeration: string
}

export function mdnsNames(domain: string): Names {
  return { domain, type: `_mica._tcp.${domain}`, enumeration: `_services._dns-sd._udp.${domain}` }
}

/** What one node serves, as the network sees it: one address and node metadata for all its services. */
export interface Instance {
  nodeId: string
  address: string
  metadata: Record<string, string>
  services: { name: string; version: string; metadata: Record<string, string>; endpoints: Endpoint[] }[]
}

export function dnsLabel(id: string, max: number): string {
  if (id.length <= max && /^[a-z0-9_:-]+$/.test(id)) return id
  const hash = createHash('sha256').update(id).digest('hex').slice(0, 16)
  const prefix = id.toLowerCase().replace(/[^a-z0-9_:-]/g, '-')
  return `${prefix.slice(0, max - hash.length - 1)}-${hash}`
}

export function instanceName(nodeId: string, names: Names): string {
  return `${dnsLabel(nodeId, 63)}.${names.type}`
}

export function subtypeName(service: string, names: Names): string {
  return `_${dnsLabel(service, 62)}._sub.${names.type}`
}

export interface InstanceRecords {
  ptr: Answer
  subtypes: Answer[]
  srv: Answer
  txt: Answer
  /** Absent when the address's host is a name rather than an IP. */
  host: Answer | undefined
}

export function instanceRecords(instance: Instance, ttl: number, names: Names): InstanceRecords {
  const name = instanceName(instance.nodeId, names)
  const { host, port } = splitAddress(instance.address)
  const family = isIP(host)
  const target = family === 0 ? host : `${dnsLabel(instance.nodeId, 63)}.${names.domain}`
  const subtypes = [...new Set(instance.services.map((s) => subtypeName(s.name, names)))]
  return {
    ptr: { name: names.type, type: 'PTR', ttl, data: name },
    subtypes: subtypes.map((sub) => ({ name: sub, type: 'PTR', ttl, data: name })),
    srv: { name, type: 'SRV', ttl, flush: true, data: { port, target } },
    txt: { name, type: 'TXT', ttl, flush: true, data: encodeTxt(instance) },
    host:
      family === 0
        ? undefined
        : { name: target, type: family === 4 ? 'A' : 'AAAA', ttl, flush: true, data: host },
  }
}

/** Everything a browser needs about the instance in one packet; with ttl 0 it is the goodbye. */
export function announcement(instance: Instance, ttl: number, names: Names): Answer[] {
  const r = instanceRecords(instance, ttl, names)
  return [r.ptr, ...r.subtypes, r.srv, r.txt, ...(r.host ? [r.host] : [])]
}

export function splitAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':')
  const host = address.slice(0, colon)
  return { host: host.startsWith('[') ? host.slice(1, -1) : host, port: Number(address.slice(colon + 1)) }
}

function encodeTxt(instance: Instance): Buffer[] {
  const strings = [
    'txtvers=1',
    `node=${instance.nodeId}`,
    ...instance.services.map((s, i) => `s${i}=${s.name}@${s.version}`),
  ]
  const rest = [
    instance.metadata,
    instance.services.map((s) => [s.metadata, s.endpoints.map((e) => [e.name, e.metadata])]),
  ]
  const data = deflateRawSync(JSON.stringify(rest)).toString('base64')
  for (let j = 0; j * CHUNK_CHARS < data.length; j++) {
    strings.push(`d${j}=${data.slice(j * CHUNK_CHARS, (j + 1) * CHUNK_CHARS)}`)
  }
  const buffers = strings.map((s) => Buffer.from(s))
  const long = buffers.find((b) => b.length > MAX_TXT_STRING_BYTES)
  if (long) {
    throw new InternalError(ErrorCode.INTERNAL, `mdns: a TXT string of ${long.length} bytes`, 'registry')
  }
  return buffers
}

/** `key=value` pairs of a TXT record; the first occurrence of a key wins (RFC 6763 §6.4). */
function txtPairs(data: TxtData): Map<string, string> {
  const pairs = new Map<string, string>()
  for (const item of Array.isArray(data) ? data : [data]) {
    const text = item.toString()
    const eq = text.indexOf('=')
    if (eq <= 0) continue
    const key = text.slice(0, eq).toLowerCase()
    if (!pairs.has(key)) pairs.set(key, text.slice(eq + 1))
  }
  return pairs
}

/**
 * The instance an SRV + TXT pair (and the target's A/AAAA, when present) describes; undefined for
 * anything that is not a well-formed mica record (other software, another txtvers, bad data).
 */
export function decodeInstance(
  srv: { port: number; target: string },
  txt: TxtData,
  hosts: readonly Answer[],
): Instance | undefined {
  try {
    const pairs = txtPairs(txt)
    const nodeId = pairs.get('node')
    if (pairs.get('txtvers') !== '1' || nodeId === undefined) return undefined
    const heads: string[] = []
    for (let i = 0; pairs.has(`s${i}`); i++) heads.push(pairs.get(`s${i}`)!)
    let data = ''
    for (let j = 0; pairs.has(`d${j}`); j++) data += pairs.get(`d${j}`)
    const inflated = inflateRawSync(Buffer.from(data, 'base64'), { maxOutputLength: MAX_INFLATED_BYTES })
    const [nodeMetadata, details] = JSON.parse(inflated.toString()) as [unknown, unknown[]]
    if (!Array.isArray(details) || details.length !== heads.length) return undefined
    const target = srv.target.toLowerCase()
    const ip = hosts.find(
      (h): h is StringAnswer => (h.type === 'A' || h.type === 'AAAA') && h.name.toLowerCase() === target,
    )
    const host = ip === undefined ? srv.target : ip.type === 'AAAA' ? `[${ip.data}]` : ip.data
    const node = { id: nodeId, address: `${host}:${srv.port}`, metadata: nodeMetadata }
    const services = heads.map((head, i) => {
      const at = head.indexOf('@')
      const [metadata, endpoints] = details[i] as [unknown, unknown[]]
      // checkService refuses anything malformed, exactly as it would a local registration
      return checkService({
        name: head.slice(0, at),
        version: head.slice(at + 1),
        metadata,
        endpoints: endpoints.map((e) => (Array.isArray(e) ? { name: e[0], metadata: e[1] } : e)),
        nodes: [node],
      })
    })
    const checked = services[0]?.nodes[0]
    return {
      nodeId,
      address: checked?.address ?? node.address,
      metadata: checked?.metadata ?? {},
      services: services.map(({ nodes: _, ...s }) => s),
    }
  } catch {
    return undefined
  }
}

/** One record per hosted service, each holding the instance's node. */
export function instanceServices(instance: Instance): Service[] {
  const node = { id: instance.nodeId, address: instance.address, metadata: instance.metadata }
  return instance.services.map((s) => ({ ...s, nodes: [node] }))
}
