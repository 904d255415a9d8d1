/**
 * The deleted marks of the jetstream journal: KV key `<token>.deleted` in the snapshot bucket holds
 * the highest sequence `deleteTo` has hidden, as decimal text. It is raised with compare-and-set
 * (create, or update at the revision read) and never lowered, so concurrent deleteTo calls from
 * several processes keep the highest. Reads skip everything at or under it.
 */
import type { KV } from '@nats-io/kv'
import { isWrongLastSequence, journalError } from './jetstream-link.ts'
import type { IdNames } from './jetstream-subjects.ts'

/** Compare-and-set rounds before a contended mark gives up. */
const MARK_ATTEMPTS = 10

/** Raises the deleted mark to `target` (compare-and-set); false when it was already there. */
export async function raiseMark(kv: KV, names: IdNames, target: number): Promise<boolean> {
  try {
    for (let attempt = 0; attempt < MARK_ATTEMPTS; attempt++) {
      const entry = await kv.get(names.deletedKey)
      const current = entry?.operation === 'PUT' ? Number(entry.string()) : 0
      if (current >= target) return false
      const value = new TextEncoder().encode(String(target))
      const written = await (
        entry ? kv.update(names.deletedKey, value, entry.revision) : kv.create(names.deletedKey, value)
      ).then(
        () => true,
        (error: unknown) =>
          isWrongLastSequence(error) || /exists/i.test(String(error)) ? false : Promise.reject(error),
      )
      if (written) return true
    }
  } catch (error) {
    throw journalError(error, `cannot record deleteTo of ${names.subject}`)
  }
  throw journalError(new Error('too much contention'), `cannot record deleteTo of ${names.subject}`)
}

export async function deletedTo(kv: KV, names: IdNames): Promise<number> {
  try {
    const entry = await kv.get(names.deletedKey)
    return entry?.operation === 'PUT' ? Number(entry.string()) : 0
  } catch (error) {
    throw journalError(error, `cannot read the deleted mark of ${names.subject}`)
  }
}
