/**
 * The jetstream journal's connection: its options, opening it (or adopting the caller's), the
 * stream and KV bucket it needs, whether it is connected right now, and how client failures map to
 * the error catalogue. The client packages are imported here, lazily, when `start` runs.
 *
 * While the client is disconnected (it reconnects by itself) calls are refused at once with
 * UnavailableError instead of being buffered by the client: a buffered publish would otherwise be
 * stored after its caller was told it failed.
 */
import type { MsgHdrs, NatsConnection } from '@nats-io/transport-node'
import { openNatsLink, type NatsConnectionOptions, type NatsLink } from '../nats/connection.ts'
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream'
import type { KV } from '@nats-io/kv'
import type { Clock } from '../clock.ts'
import { BadRequestError, ErrorCode, InternalError, MicaError, UnavailableError } from '../errors.ts'

export interface JetStreamJournalOptions extends NatsConnectionOptions {
  /** The stream holding every persistence id's events. Default `MICA_JOURNAL`. */
  stream?: string
  /** Events of an id are on `<subjectPrefix>.<token>`. Default `mica.journal`. */
  subjectPrefix?: string
  /** The KV bucket of snapshots and deleted marks. Default `MICA_SNAPSHOTS`. */
  snapshotBucket?: string
  /** Copies the server keeps of the stream and the bucket (a cluster). Default 1. */
  replicas?: number
  /** Default 'file'. */
  storage?: 'file' | 'memory'
  /** Largest payload (and snapshot). Default: 1 MiB, or less when the server's max_payload is smaller. */
  maxEventBytes?: number
  /** Longest wait for a publish ack or a JetStream API answer. Default 5000 ms. */
  requestTimeoutMs?: number
  /** Stamps events and snapshots. Default: the system clock. */
  clock?: Clock
}

/** What `start` opened; dropped as one piece by `stop`. */
export interface Link {
  readonly nats: NatsLink
  readonly nc: NatsConnection
  js: JetStreamClient
  /** `js` with the reader's shorter timeout: creates the ordered consumers of long reads. */
  reader: JetStreamClient
  jsm: JetStreamManager
  kv: KV
  headers: () => MsgHdrs
  /** The server's max_payload: no message (append, snapshot) may be larger. */
  maxPayload: number
}

export interface LinkSettings {
  connection: NatsConnectionOptions
  stream: string
  subjectPrefix: string
  snapshotBucket: string
  replicas: number
  storage: 'file' | 'memory'
  timeout: number
}

/**
 * Longest wait for an ordered consumer of a long read to be created. Far above what creation takes
 * on a healthy cluster; beyond it the read goes on with direct gets (jetstream-reader.ts), so a
 * consumer placed on a server that is down costs this long, not a full request timeout.
 */
export const READER_TIMEOUT_MS = 2000

export async function openLink(s: LinkSettings): Promise<Link> {
  const [client, jetstream, kvm] = await Promise.all([
    import('@nats-io/transport-node'),
    import('@nats-io/jetstream'),
    import('@nats-io/kv'),
  ])
  const nats = await openNatsLink({ name: 'mica-journal', ...s.connection }, 'journal')
  const nc = nats.nc
  try {
    const jsm = await jetstream.jetstreamManager(nc, { timeout: s.timeout })
    const js = jetstream.jetstream(nc, { timeout: s.timeout })
    const reader = jetstream.jetstream(nc, { timeout: Math.min(s.timeout, READER_TIMEOUT_MS) })
    const storage = s.storage === 'memory' ? jetstream.StorageType.Memory : jetstream.StorageType.File
    await ensureStream(jsm, s, storage)
    const kvOptions = { replicas: s.replicas, storage, history: 1, timeout: s.timeout }
    const bucket = new kvm.Kvm(js)
    const kv = await bucket.create(s.snapshotBucket, kvOptions).catch(() => bucket.open(s.snapshotBucket))
    return { nats, nc, js, reader, jsm, kv, headers: () => client.headers(), maxPayload: nats.maxPayload }
  } catch (error) {
    await nats.close()
    const where = s.connection.connection ? 'the given connection' : String(s.connection.servers)
    throw new UnavailableError(
      ErrorCode.UNAVAILABLE,
      `journal jetstream: cannot open ${where}: ${text(error)}`,
      'journal',
      { cause: error },
    )
  }
}

async function ensureStream(jsm: JetStreamManager, s: LinkSettings, storage: string): Promise<void> {
  const config = {
    name: s.stream,
    subjects: [`${s.subjectPrefix}.>`],
    num_replicas: s.replicas,
    storage: storage as never,
    allow_direct: true, // reads locate messages with direct gets (next_by_subj)
  }
  try {
    await jsm.streams.add(config)
  } catch (error) {
    // Exists with other settings (limits set by an operator): keep them, but reads need direct gets.
    const info = await jsm.streams.info(s.stream).catch(() => undefined)
    if (!info) throw error
    if (!info.config.subjects?.includes(config.subjects[0]!))
      throw new BadRequestError(
        ErrorCode.INVALID_OPTIONS,
        `journal jetstream: stream ${s.stream} does not store ${config.subjects[0]}`,
        'journal',
      )
    if (!info.config.allow_direct) await jsm.streams.update(s.stream, { ...info.config, allow_direct: true })
  }
}

export async function closeLink(link: Link): Promise<void> {
  await link.nats.close()
}

export function text(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

export function unavailable(detail: string, cause?: unknown): UnavailableError {
  return new UnavailableError(ErrorCode.UNAVAILABLE, `journal jetstream: ${detail}`, 'journal', { cause })
}

/** The server answered (an API error) that the expected last subject sequence was not the last one. */
export function isWrongLastSequence(error: unknown): boolean {
  return (error as { code?: unknown }).code === 10071 || /wrong last sequence/i.test(text(error))
}

/**
 * A client failure in the catalogue: MicaErrors pass; a payload over max_payload is a bad request; a
 * server API error (it answered, and refused) is internal unless it says 503; everything else
 * (timeouts, no responders, closed or lost connections) is unavailable: retry later.
 */
export function journalError(error: unknown, what: string): MicaError {
  if (error instanceof MicaError) return error
  const message = `${what}: ${text(error)}`
  if (/max_payload|maximum payload/i.test(text(error)))
    return new BadRequestError(ErrorCode.MESSAGE_TOO_LARGE, `journal jetstream: ${message}`, 'journal')
  // JetStreamApiError and its subclasses (StreamNotFoundError…): the server answered and refused.
  const api = error as { apiError?: unknown; status?: unknown }
  if (typeof api.apiError === 'function' && api.status !== 503)
    return new InternalError(ErrorCode.INTERNAL, `journal jetstream: ${message}`, 'journal', { cause: error })
  return unavailable(message, error)
}

/** Rejects with UnavailableError while the connection is down. */
export function assertConnected(link: Link): void {
  if (!link.nats.connected) throw unavailable('not connected to the server')
}
