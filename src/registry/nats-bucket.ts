/**
 * The nats registry's KV bucket: opening it (created when missing, also after a server lost a
 * memory-stored one), watching it with a known end to the initial load, and how client failures map
 * to the error catalogue. The client packages are imported here, lazily.
 *
 * The watcher (`kv.watch()`, an ordered consumer delivering the last value of every key, then every
 * change) has no "caught up" marker, so the load ends when the entry holding the stream's last
 * sequence at watch time arrives (`revision >= lastSeq`), at once for an empty bucket, and at the
 * latest after `timeoutMs` (a bucket purged meanwhile never delivers that entry).
 */
import type { NatsConnection } from '@nats-io/transport-node'
import type { KV } from '@nats-io/kv'
import { BadRequestError, ErrorCode, InternalError, MicaError, UnavailableError } from '../errors.ts'

export interface BucketSettings {
  bucket: string
  replicas: number
  storage: 'file' | 'memory'
  timeoutMs: number
}

export async function openBucket(nc: NatsConnection, s: BucketSettings): Promise<KV> {
  const [jetstream, kvm] = await Promise.all([import('@nats-io/jetstream'), import('@nats-io/kv')])
  const js = jetstream.jetstream(nc, { timeout: s.timeoutMs })
  const storage = s.storage === 'memory' ? jetstream.StorageType.Memory : jetstream.StorageType.File
  // creates the bucket, or opens it as it is when it exists (with whatever limits an operator set)
  return new kvm.Kvm(js).create(s.bucket, { replicas: s.replicas, storage, history: 1, timeout: s.timeoutMs })
}

export interface WatchHandlers {
  /** `loading`: part of the bucket's content at watch time rather than a change heard live. */
  put(key: string, revision: number, value: Uint8Array, loading: boolean): void
  delete(key: string, revision: number): void
  /**
   * Once, when the initial load ends: the keys it found (live changes during the load included);
   * `complete` false when it ended by the timeout (keys may be missing).
   */
  loaded(keys: ReadonlySet<string>, complete: boolean): void
  /** The watch ended without `stop()` (its consumer or connection went away). */
  ended(): void
}

export interface BucketWatch {
  /** Resolves when the initial load ended. */
  readonly loaded: Promise<void>
  /** Ends the watch; resolves when its loop has ended. */
  stop(): Promise<void>
}

export async function watchBucket(kv: KV, timeoutMs: number, on: WatchHandlers): Promise<BucketWatch> {
  const { state } = (await kv.status()).streamInfo
  const lastSeq = state.messages === 0 ? 0 : state.last_seq
  const iterator = await kv.watch()
  const found = new Set<string>()
  let loading = true
  let stopped = false
  let markLoaded!: () => void
  const loaded = new Promise<void>((resolve) => (markLoaded = resolve))
  const finish = (complete: boolean): void => {
    if (!loading) return
    loading = false
    clearTimeout(timer)
    on.loaded(found, complete)
    found.clear()
    markLoaded()
  }
  const timer = setTimeout(() => finish(false), timeoutMs)
  if (lastSeq === 0) finish(true)
  const loop = (async () => {
    for await (const entry of iterator) {
      if (stopped) break
      if (entry.operation === 'PUT') {
        if (loading) found.add(entry.key)
        on.put(entry.key, entry.revision, entry.value, loading)
      } else {
        found.delete(entry.key)
        on.delete(entry.key, entry.revision)
      }
      if (loading && entry.revision >= lastSeq) finish(true)
    }
  })()
    .catch(() => undefined)
    .then(() => {
      if (!stopped) on.ended()
    })
  return {
    loaded,
    stop: async () => {
      stopped = true
      clearTimeout(timer)
      markLoaded()
      iterator.stop()
      await loop
    },
  }
}

/** The server refused a write because the key is not at the revision the write expected. */
export function isWrongLastSequence(error: unknown): boolean {
  return (error as { code?: unknown }).code === 10071 || /wrong last sequence/i.test(text(error))
}

export function unavailable(detail: string, cause?: unknown): UnavailableError {
  return new UnavailableError(ErrorCode.UNAVAILABLE, `registry: nats: ${detail}`, 'registry', { cause })
}

/**
 * A client failure in the catalogue: MicaErrors pass; a payload over max_payload is a bad request; a
 * server API error (it answered, and refused) is internal unless it says 503; everything else
 * (timeouts, no responders, closed or lost connections) is unavailable: retry later.
 */
export function registryError(error: unknown, what: string): MicaError {
  if (error instanceof MicaError) return error
  const detail = `${what}: ${text(error)}`
  if (/max_payload|maximum payload/i.test(text(error))) {
    return new BadRequestError(ErrorCode.MESSAGE_TOO_LARGE, `registry: nats: ${detail}`, 'registry')
  }
  const api = error as { apiError?: unknown; status?: unknown }
  if (typeof api.apiError === 'function' && api.status !== 503) {
    return new InternalError(ErrorCode.INTERNAL, `registry: nats: ${detail}`, 'registry', { cause: error })
  }
  return unavailable(detail, error)
}

export function text(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
