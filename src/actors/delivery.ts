/**
 * Delivery: one message queued in a mailbox, as the actor runtime sees it. The body is either the
 * value itself (inline, by reference) or encoded bytes with their content type, decoded only when the
 * handler runs (on the thread that runs it). `reply` is absent for sends.
 */
import type { MicaError } from '../errors.ts'
import type { Clock } from '../clock.ts'
import type { Metadata } from './types.ts'

export interface Reply {
  /** True once answered, expired or aborted: a queued ask whose caller gave up is skipped. */
  readonly settled: boolean
  ok(value: unknown): void
  fail(error: MicaError): void
}

export interface Delivery {
  /** Handler name; names starting with `$` are system messages (lifecycle), served first. */
  readonly handler: string
  readonly body: unknown
  /** Set when `body` holds encoded bytes of this content type. */
  readonly ct: string | undefined
  readonly md: Metadata | undefined
  /**
   * Deadline, epoch ms; 0 for none. A negative value is a timeout not yet anchored to the clock
   * (reading the clock costs ~50 ns, a third of an inline ask): `deadlineOf` anchors it when needed.
   */
  dl: number
  readonly reply: Reply | undefined
  /** A streaming handler's turn: it lasts as long as the stream, so the turn timeout does not apply. */
  readonly stream?: boolean
}

/** The absolute deadline of `d` (anchoring a relative one to `now` on first use), 0 for none. */
export function deadlineOf(d: Delivery, clock: Clock): number {
  if (d.dl < 0) d.dl = clock.now() - d.dl
  return d.dl
}

export const SYS_STARTED = '$started'
export const SYS_STOP = '$stop'
export const SYS_RESTART = '$restart'
/** A persistent actor reads its journal (on activation, after a restart or a failed append). */
export const SYS_RECOVER = '$recover'
/**
 * A persistent actor catches up with its journal before its next message: this node may have been
 * routed around, so another activation may have written (ActorHost.catchUp).
 */
export const SYS_CATCH_UP = '$catchUp'
/** An idle keyed actor leaves memory; it comes back from its journal on its next message. */
export const SYS_PASSIVATE = '$passivate'
/** A machine actor's timer is due (its `body` fires it). */
export const SYS_TIMER = '$timer'
/** A machine actor stores events that arrived between turns. */
export const SYS_COMMIT = '$commit'

export function systemDelivery(handler: string): Delivery {
  return { handler, body: undefined, ct: undefined, md: undefined, dl: 0, reply: undefined }
}

const NO_METADATA: Readonly<Metadata> = Object.freeze({})
export { NO_METADATA }
