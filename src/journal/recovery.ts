/**
 * Recovery on start: every segment is read in order and its records fed to the index; the rules below
 * decide what damaged bytes mean. Only the tail of the LAST segment may be torn (a crash in the middle
 * of a write): bytes there that are not a whole record, when nothing but zeros follows them, are cut
 * away, together with the records of an append whose COMMIT record is missing (appends are atomic).
 * Anything else that fails a check (a CRC mismatch followed by more data, damage in an earlier
 * segment, a sequence out of order) is corruption: start fails with JournalCorruptError naming the file
 * and offset. Nothing is ever skipped silently.
 */
import { open, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from '../kernel/options.ts'
import { JournalCorruptError } from './journal.ts'
import { FLAG_COMMIT, FLAG_DELETE_TO, HEADER_BYTES, decodeRecord, type RecordFields } from './record.ts'
import { segmentName } from './segments.ts'
import type { Location, StreamIndex } from './stream-index.ts'

export interface RecoveryOptions {
  dir: string
  index: StreamIndex
  logger: Pick<Logger, 'warn'>
  /** fsync the repaired segment (false under the 'never' policy). */
  durable: boolean
}

/** Scans `segments` into the index; returns the size of the last one after any repair. */
export async function recover(segments: number[], options: RecoveryOptions): Promise<number> {
  let size = 0
  for (const [i, n] of segments.entries()) {
    size = await scanSegment(n, i === segments.length - 1, options)
  }
  return size
}

async function scanSegment(n: number, isLast: boolean, options: RecoveryOptions): Promise<number> {
  const file = join(options.dir, segmentName(n))
  const buf = await readFile(file)
  const corrupt = (offset: number, why: string): never => {
    throw new JournalCorruptError(file, offset, why)
  }
  let pending: { record: RecordFields; location: Location }[] = []
  let committedEnd = 0
  let pos = 0
  let torn: string | undefined
  while (pos < buf.length) {
    const decoded = decodeRecord(buf, pos)
    if (decoded.kind === 'record') {
      pending.push({ record: decoded.record, location: { segment: n, pos, len: decoded.end - pos } })
      if (decoded.record.flags & FLAG_COMMIT) {
        for (const { record, location } of pending) apply(record, location, options.index, corrupt)
        pending = []
        committedEnd = decoded.end
      }
      pos = decoded.end
      continue
    }
    // Damage: torn only at the very end of the last segment (what follows is nothing or zero fill).
    const why =
      decoded.kind === 'short'
        ? 'record cut short'
        : decoded.kind === 'bad-header'
          ? 'header CRC mismatch'
          : `body ${decoded.why}`
    const after =
      decoded.kind === 'short' ? buf.length : decoded.kind === 'bad-header' ? pos + HEADER_BYTES : decoded.end
    if (!isLast || !zeroFrom(buf, after)) corrupt(pos, why)
    torn = `${why} at offset ${pos}`
    break
  }
  if (pending.length > 0 && !torn) {
    if (!isLast) corrupt(pending[0]!.location.pos, 'append without its commit record')
    torn = `append without its commit record at offset ${pending[0]!.location.pos}`
  }
  if (torn) await repair(file, committedEnd, buf.length, torn, options)
  return torn ? committedEnd : buf.length
}

function apply(
  record: RecordFields,
  location: Location,
  index: StreamIndex,
  corrupt: (offset: number, why: string) => never,
): void {
  if (record.flags & FLAG_DELETE_TO) return index.deleteTo(record.persistenceId, record.seq)
  if (!index.add(record.persistenceId, record.seq, location)) {
    const highest = index.highest(record.persistenceId)
    corrupt(location.pos, `${record.persistenceId} sequence ${record.seq} does not follow ${highest}`)
  }
}

function zeroFrom(buf: Buffer, from: number): boolean {
  for (let i = from; i < buf.length; i++) if (buf[i] !== 0) return false
  return true
}

async function repair(file: string, keep: number, size: number, why: string, options: RecoveryOptions) {
  options.logger.warn(
    `journal: torn tail in ${file} (${why}): truncating ${size - keep} bytes at offset ${keep}`,
  )
  const fh = await open(file, 'r+')
  try {
    await fh.truncate(keep)
    if (options.durable) await fh.sync()
  } finally {
    await fh.close()
  }
}
