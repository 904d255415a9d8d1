/**
 * CatchUp: when this node may have been routed around, every live persistent actor on it reads its
 * journal again before its next message.
 *
 * Why. A keyed actor lives where rendezvous hashing over the nodes hosting its kind puts it, as each
 * caller sees them (placement.ts). A node another node cannot reach (marked down in its selector, its
 * registration expired) is left out there, so that caller's messages for the node's actors go to a
 * new activation elsewhere, recovered from the shared journal and written there. The first node
 * still holds its old activations; once traffic returns to it they would answer reads from the state
 * they had before. Writes are safe without this (an append names the sequence it expects, the stale
 * one fails with `conflict` and its cell reads the journal again), reads are not.
 *
 * Evidence. Nothing tells a node that others served its actors, but it does see the situations in
 * which they may have, and each of them `trigger`s a catch-up:
 * - the transport's or the registry's shared link was lost, or came back (`onLinkChange`, src/link.ts:
 *   a NATS connection; while it is down this node is unreachable and its records go unrefreshed);
 * - a connection to a peer was lost, either direction (`onPeerDown`: the far side lost it too and
 *   marks this node down; it also covers a partition that leaves the link to the server up);
 * - from placement (`moved`): this node's own registration of a kind it hosts was deleted (expired
 *   or removed: others route around it), or a node sharing a kind with it was marked down here or
 *   left (its ids move to the nodes left, this one among them, and an activation this node kept
 *   from an earlier stay of those ids holds what it knew then);
 * - this process stalled (its event loop blocked for `stallMs` or more: a long GC pause, a frozen
 *   VM): its peers may have found it silent and its registration unrenewed, while here nothing
 *   went down (what they sent waited in the sockets). A check timer every second sees it late.
 * The last item is the hand-back: a node that served ids while their home was away keeps its copies,
 * and they are caught up whenever ids may come back to it, rather than passivated when they leave.
 * Finding them to passivate would take a walk over every live actor on every thread and a placement
 * per actor at every membership change; the epoch costs nothing until a message comes, which is the
 * only moment a copy's staleness can matter (idle copies still leave by the usual passivation).
 *
 * Settling. Other nodes go on routing around this node for a while after the evidence: their
 * mark-down of it lasts the selector's backoff (`markDownMs`, doubling up to `maxMarkDownMs` while
 * it kept failing), they see its registration again only at its next renewal, and their placement
 * cache re-checks every second. An actor caught up meanwhile could fall behind again, so each piece
 * of evidence also schedules further catch-ups as those backoffs can end: after `settle.first`, then
 * doubling up to `settle.max` (new evidence starts the series again). After that, reads are stale
 * only if a node keeps routing around this one for longer than its own backoff allows.
 *
 * Cost. A catch-up moves an epoch on every thread (one control frame each, in order with the
 * messages that follow it); an actor pays one `highestSeq` round trip at its next message (plus the
 * events others wrote, if any). Evidence in one tick is coalesced into one catch-up, and an actor
 * that gets no message in between pays once however many catch-ups passed. Nothing is per message
 * beyond an integer compare.
 */
import type { Clock, TimerHandle } from '../clock.ts'
import type { LinkEvent } from '../link.ts'
import type { Registry } from '../registry/registry.ts'
import type { Selector } from '../registry/selector.ts'
import type { Transport } from '../transport/transport.ts'
import type { Logger } from './options.ts'
import { PLACEMENT_CACHE_MS } from './placement.ts'

export interface CatchUpOptions {
  clock: Clock
  logger: Logger
  /** Moves the epoch on every thread (LocalRuntime.catchUp). */
  bump(): Promise<void>
  /** When the settling catch-ups run after the last evidence: `first`, doubling up to `max` (ms). */
  settle: { first: number; max: number }
  /** A stall of the event loop this long is evidence (the kernel's registerIntervalMs). */
  stallMs: number
}

/** How often the stall check runs (at most: a smaller `stallMs` makes it run more often). */
const STALL_CHECK_MS = 1_000

export class CatchUp {
  readonly #o: CatchUpOptions
  #epoch = 0
  #queued = false
  #reason = ''
  #timer: TimerHandle | undefined
  #watchdog: TimerHandle | undefined
  readonly #off: (() => void)[] = []
  #stopped = false

  constructor(options: CatchUpOptions) {
    this.#o = options
  }

  /** Catch-ups so far (each one made every live persistent actor read its journal again). */
  get epoch(): number {
    return this.#epoch
  }

  /**
   * Follows the plugins' evidence (every lost connection, their links' losses and returns) and
   * starts the stall check.
   */
  follow(transport: Transport, registry: Registry): void {
    this.#checkStall()
    this.#off.push(
      transport.onPeerDown((peer, reason) =>
        this.trigger(`connection to ${peer.address} lost (${reason.detail})`),
      ),
    )
    const link = (who: string) => (event: LinkEvent) =>
      this.trigger(`the ${who}'s link was ${event.state} (${event.detail})`)
    const offTransport = transport.onLinkChange?.(link('transport'))
    const offRegistry = registry.onLinkChange?.(link('registry'))
    if (offTransport !== undefined) this.#off.push(offTransport)
    if (offRegistry !== undefined) this.#off.push(offRegistry)
  }

  /** Evidence that others may have served this node's keyed actors: a catch-up now, and settling ones. */
  trigger(reason: string): void {
    if (this.#stopped) return
    this.#reason = reason
    this.#settle(this.#o.settle.first, 0)
    if (this.#queued) return
    this.#queued = true
    queueMicrotask(() => {
      this.#queued = false
      this.#bump(this.#reason, false)
    })
  }

  /** No more catch-ups (the kernel is stopping); idempotent. */
  stop(): void {
    this.#stopped = true
    this.#timer?.cancel()
    this.#timer = undefined
    this.#watchdog?.cancel()
    this.#watchdog = undefined
    for (const off of this.#off.splice(0)) off()
  }

  /** Runs every STALL_CHECK_MS (or stallMs / 2); a run that comes `stallMs` late is evidence. */
  #checkStall(): void {
    const every = Math.min(STALL_CHECK_MS, Math.max(1, Math.floor(this.#o.stallMs / 2)))
    const due = this.#o.clock.now() + every
    this.#watchdog = this.#o.clock.setTimeout(() => {
      if (this.#stopped) return
      const late = this.#o.clock.now() - due
      if (late >= this.#o.stallMs) this.trigger(`this process stalled for ${late} ms`)
      this.#checkStall()
    }, every)
  }

  /** The next settling catch-up, `at` ms after the evidence (the last one ran at `since`). */
  #settle(at: number, since: number): void {
    this.#timer?.cancel()
    this.#timer = this.#o.clock.setTimeout(() => {
      this.#timer = undefined
      this.#bump(this.#reason, true)
      if (at < this.#o.settle.max) this.#settle(Math.min(at * 2, this.#o.settle.max), at)
    }, at - since)
  }

  #bump(reason: string, settling: boolean): void {
    if (this.#stopped) return
    this.#epoch++
    const logger = this.#o.logger
    if (settling) logger.debug(`persistent actors catch up with their journals again (after: ${reason})`)
    else logger.info(`this node may have been routed around: persistent actors catch up (${reason})`)
    this.#o.bump().catch((err: unknown) => {
      if (!this.#stopped) logger.warn('a catch-up did not reach every thread', (err as Error).message)
    })
  }
}

/**
 * When the settling catch-ups run, from the selector this node uses (other nodes are assumed to be
 * configured alike): once their first mark-down of this node can have ended and its registration
 * been renewed, then as their doubling backoff can end, each plus their placement cache's delay.
 */
export function settling(
  selector: Pick<Selector, 'markDownMs' | 'maxMarkDownMs'>,
  registerIntervalMs: number,
): CatchUpOptions['settle'] {
  const first = Math.max(selector.markDownMs, registerIntervalMs) + PLACEMENT_CACHE_MS
  return { first, max: Math.max(first, selector.maxMarkDownMs + PLACEMENT_CACHE_MS) }
}
