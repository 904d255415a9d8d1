/**
 * Reading one persistence id's events out of the shared stream, efficient for long streams:
 *
 * 1. locate: the first message on the id's subject whose last event is at or after `first`. The
 *    journal sequence (`Mica-Seq`) grows with the stream sequence, so this is a binary search over
 *    stream sequences with direct gets `{ seq, next_by_subj }`: O(log n) round trips, and one when
 *    the read starts at the subject's first message (recovery from the start).
 * 2. walk: when the rest spans a few stream sequences, direct gets `next_by_subj` again; otherwise
 *    an ordered consumer filtered on the subject (a single filter subject: nats-server 2.9), from
 *    just after the located message up to the last message known when the read began. When that
 *    consumer cannot be had (created with the reader's shorter timeout) or stalls, the rest is
 *    walked with direct gets after all: one round trip a message, but any live replica answers
 *    them, whereas nats-server 2.9 places the consumer of a replicated stream on any of the
 *    stream's servers, also one that is down (about one creation in three times out while one
 *    server of three is).
 *
 * Messages appended after the read began are not returned: a read is a consistent prefix.
 */
import type { JetStreamClient, JetStreamManager, StoredMsg } from '@nats-io/jetstream'
import type { MsgHdrs } from '@nats-io/transport-node'
import { InternalError, ErrorCode, UnavailableError } from '../errors.ts'
import { SEQ_HEADER, decodeAppend, readSeq } from './jetstream-codec.ts'
import { journalError, unavailable } from './jetstream-link.ts'
import type { JournalEvent } from './journal.ts'

/** The last message on a subject: its journal sequence and its stream sequence (0, 0: none). */
export interface Tip {
  seq: number
  streamSeq: number
}

export interface ReadContext {
  /** Creates the ordered consumers of long reads (READER_TIMEOUT_MS in jetstream-link.ts). */
  js: JetStreamClient
  jsm: JetStreamManager
  stream: string
  subject: string
  timeout: number
}

/** Spans up to this many stream sequences are walked with direct gets, longer ones consumed. */
const WALK_SPAN = 16
const CONSUME_BATCH = 512

interface Stored {
  subject: string
  seq: number
  header?: MsgHdrs | undefined
  headers?: MsgHdrs | undefined
  data: Uint8Array
}

export function lastSeqOf(msg: Stored): number {
  const headers = msg.header ?? msg.headers
  return readSeq(headers?.get(SEQ_HEADER), { subject: msg.subject, streamSeq: msg.seq })
}

/** The last message on the subject, asked of the stream leader (consistent with acked publishes). */
export async function fetchTip(ctx: ReadContext): Promise<Tip & { msg?: StoredMsg }> {
  let msg: StoredMsg | null
  try {
    msg = await ctx.jsm.streams.getMessage(ctx.stream, { last_by_subj: ctx.subject })
  } catch (error) {
    throw journalError(error, `cannot read the last message of ${ctx.subject}`)
  }
  return msg ? { seq: lastSeqOf(msg), streamSeq: msg.seq, msg } : { seq: 0, streamSeq: 0 }
}

async function nextOnSubject(ctx: ReadContext, fromStreamSeq: number): Promise<StoredMsg> {
  let msg: StoredMsg | null
  try {
    msg = await ctx.jsm.direct.getMessage(ctx.stream, { seq: fromStreamSeq, next_by_subj: ctx.subject })
  } catch (error) {
    throw journalError(error, `cannot read ${ctx.subject}`)
  }
  if (!msg) throw changed(ctx)
  return msg
}

function changed(ctx: ReadContext): InternalError {
  return new InternalError(
    ErrorCode.INTERNAL,
    `journal jetstream: ${ctx.subject} changed during a read`,
    'journal',
  )
}

/** The first message on the subject holding an event at or after `first` (`tip` holds one). */
export async function locate(ctx: ReadContext, first: number, tip: Tip): Promise<StoredMsg> {
  const head = await nextOnSubject(ctx, 0)
  if (lastSeqOf(head) >= first) return head
  // Invariant: the answer is `best` or a subject message in [lo, hi]; every round shrinks that range.
  let lo = head.seq + 1
  let hi = tip.streamSeq
  let best: StoredMsg | undefined
  while (lo <= hi) {
    const mid = Math.floor((lo + hi) / 2)
    const probe = await nextOnSubject(ctx, mid)
    if (probe.seq > tip.streamSeq) throw changed(ctx)
    if (lastSeqOf(probe) >= first) {
      best = probe
      hi = mid - 1
    } else lo = probe.seq + 1
  }
  if (!best) throw changed(ctx)
  return best
}

/** Events first..end (both inclusive, end ≤ tip.seq) in order. */
export async function readRange(
  ctx: ReadContext,
  first: number,
  end: number,
  tip: Tip,
): Promise<JournalEvent[]> {
  const out: JournalEvent[] = []
  /** Takes a message's events in range; true once `end` is reached. */
  const take = (msg: Stored): boolean => {
    const last = lastSeqOf(msg)
    for (const event of decodeAppend(msg.data, last, { subject: msg.subject, streamSeq: msg.seq }))
      if (event.seq >= first && event.seq <= end) out.push(event)
    return last >= end
  }
  const at = await locate(ctx, first, tip)
  if (take(at) || at.seq >= tip.streamSeq) return out
  let cursor = at.seq
  if (tip.streamSeq - at.seq > WALK_SPAN) {
    try {
      const tracked = (msg: Stored): boolean => {
        cursor = msg.seq
        return take(msg)
      }
      await consume(ctx, at.seq + 1, tip.streamSeq, tracked)
      return out
    } catch (error) {
      if (!(error instanceof UnavailableError)) throw error
      // no consumer (or it stalled): the rest with direct gets, from what it delivered
    }
  }
  await walk(ctx, cursor, tip, take)
  return out
}

/** Direct gets of the subject's messages after stream sequence `after`, until `take` or the tip. */
async function walk(
  ctx: ReadContext,
  after: number,
  tip: Tip,
  take: (msg: Stored) => boolean,
): Promise<void> {
  for (let seq = after; seq < tip.streamSeq;) {
    const msg = await nextOnSubject(ctx, seq + 1)
    if (take(msg)) return
    seq = msg.seq
  }
}

async function consume(
  ctx: ReadContext,
  fromStreamSeq: number,
  toStreamSeq: number,
  take: (msg: Stored) => boolean,
): Promise<void> {
  let messages
  try {
    const consumer = await ctx.js.consumers.get(ctx.stream, {
      filter_subjects: ctx.subject,
      deliver_policy: 'by_start_sequence' as never,
      opt_start_seq: fromStreamSeq,
    })
    messages = await consumer.consume({ max_messages: CONSUME_BATCH })
  } catch (error) {
    throw journalError(error, `cannot consume ${ctx.subject}`)
  }
  // The iterator waits for ever on a dead server: a stall of one request timeout ends the read.
  let stalled = false
  let reached = false
  let timer: NodeJS.Timeout | undefined
  const arm = () => {
    clearTimeout(timer)
    timer = setTimeout(() => {
      stalled = true
      void messages.close().catch(() => undefined)
    }, ctx.timeout)
  }
  try {
    arm()
    for await (const m of messages) {
      arm()
      if (m.subject !== ctx.subject) continue // never, with a filter; cheap to make sure
      if (take(m) || m.seq >= toStreamSeq) {
        reached = true
        break
      }
    }
  } catch (error) {
    throw journalError(error, `cannot consume ${ctx.subject}`)
  } finally {
    clearTimeout(timer)
    await messages.close().catch(() => undefined)
  }
  if (stalled) throw unavailable(`reading ${ctx.subject} stalled for ${ctx.timeout} ms`)
  if (!reached) throw unavailable(`reading ${ctx.subject} ended early`)
}
