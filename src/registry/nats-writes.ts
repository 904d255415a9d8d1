/**
 * The nats registry's writes to its bucket, each a compare-and-set, because two registries may write
 * the same key at once (two processes claiming one node id, a heartbeat and a register, a reader
 * cleaning up a key its writer refreshes):
 *
 * - put: `kv.create` for a key we never wrote, `kv.update(key, value, revision)` for one we did. When
 *   the key is not at the expected revision, it is read again. Held by another registry instance
 *   (the value's `owner` token) whose record has not expired (no TTL, or heartbeat + TTL still
 *   ahead): a first registration takes it over (the newest registration of a node id wins: a
 *   process restarted with a fixed node id must not wait out its dead predecessor's TTL), a
 *   refresh of a key we held is refused with ConflictError naming the node (we were replaced, and
 *   taking it back would make two live holders replace each other for ever). Otherwise (ours,
 *   expired, deleted, gone, unreadable) it is retried once at the revision just read. A second
 *   clash is a ConflictError too: someone else is writing the key right now.
 * - delete: only at the revision we know; when the key moved on, it is deleted only if it is still
 *   ours (someone else's node under the same id is theirs to keep).
 */
import type { KV, KvEntry } from '@nats-io/kv'
import { ConflictError, ErrorCode } from '../errors.ts'
import { isWrongLastSequence, registryError } from './nats-bucket.ts'
import { decodeValue, encodeValue, type StoredNode } from './nats-records.ts'

/**
 * Puts `stored` under `key`; `revision` is the last one we wrote there, `takeOver` says whether a live
 * record of another instance may be replaced (a first registration). Resolves to the new revision
 * and whether another live instance's record was replaced.
 */
export async function putNode(
  kv: KV,
  key: string,
  stored: StoredNode,
  revision: number | undefined,
  takeOver: boolean,
): Promise<{ revision: number; replaced: boolean }> {
  const value = encodeValue(stored)
  try {
    const written =
      revision === undefined ? await kv.create(key, value) : await kv.update(key, value, revision)
    return { revision: written, replaced: false }
  } catch (error) {
    if (!isWrongLastSequence(error)) throw registryError(error, `cannot put ${key}`)
  }
  const entry = await read(kv, key)
  const holder = entry?.operation === 'PUT' ? decodeOrUndefined(entry) : undefined
  const replaced = holder !== undefined && holder.owner !== stored.owner && alive(holder, stored.heartbeat)
  if (replaced && !takeOver) {
    throw conflict(
      stored,
      `is now registered by another registry instance (${holder.service.nodes[0]!.address})`,
    )
  }
  try {
    const written = entry === null ? await kv.create(key, value) : await kv.update(key, value, entry.revision)
    return { revision: written, replaced }
  } catch (error) {
    if (isWrongLastSequence(error)) throw conflict(stored, 'is being written by another registry instance')
    throw registryError(error, `cannot put ${key}`)
  }
}

/** Deletes `key` if it still holds our record (`owner`); `revision`: the last one we wrote, if any. */
export async function deleteNode(
  kv: KV,
  key: string,
  owner: string | undefined,
  revision: number | undefined,
): Promise<void> {
  if (revision !== undefined) {
    try {
      return await kv.delete(key, { previousSeq: revision })
    } catch (error) {
      if (!isWrongLastSequence(error)) throw registryError(error, `cannot delete ${key}`)
    }
  }
  const entry = await read(kv, key)
  if (entry?.operation !== 'PUT') return // gone already
  if (owner !== undefined && decodeOrUndefined(entry)?.owner !== owner) return // someone else's now
  try {
    await kv.delete(key, { previousSeq: entry.revision })
  } catch (error) {
    // written again meanwhile: by its owner (theirs to keep) or by us (a later register wins)
    if (!isWrongLastSequence(error)) throw registryError(error, `cannot delete ${key}`)
  }
}

/** Deletes `key` only if it is still at `revision` (a record that expired); a lost race is fine. */
export async function deleteExpired(kv: KV, key: string, revision: number): Promise<void> {
  try {
    await kv.delete(key, { previousSeq: revision })
  } catch (error) {
    if (!isWrongLastSequence(error)) throw registryError(error, `cannot delete ${key}`)
  }
}

async function read(kv: KV, key: string): Promise<KvEntry | null> {
  try {
    return await kv.get(key)
  } catch (error) {
    throw registryError(error, `cannot read ${key}`)
  }
}

function decodeOrUndefined(entry: KvEntry): StoredNode | undefined {
  try {
    return decodeValue(entry.value)
  } catch {
    return undefined // unreadable: nobody's, and overwritten
  }
}

/** Not expired at `now` (our clock): no TTL, or heartbeat + TTL still ahead. */
function alive(stored: StoredNode, now: number): boolean {
  return stored.ttlMs === undefined || stored.heartbeat + stored.ttlMs > now
}

function conflict(stored: StoredNode, why: string): ConflictError {
  const { name, version, nodes } = stored.service
  const detail = `registry: nats: node ${nodes[0]!.id} of ${name} ${version || '(no version)'} ${why}`
  return new ConflictError(ErrorCode.CONFLICT, detail, 'registry')
}
