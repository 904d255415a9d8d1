/**
 * What the jetstream broker does with one delivered message: run the handler, then settle the message
 * exactly once: ack on success, nak (with the backoff for this attempt) on failure or on the handler's
 * own `nack`, or, past `maxDeliver`, a copy to the dead-letter subject followed by a term.
 */
import type { MsgHdrs } from '@nats-io/transport-node'
import type { JsMsg } from '@nats-io/jetstream'
import type { BrokerErrorHandler, BrokerHandler, BrokerMessage } from './broker.ts'
import type { BrokerGuard } from './guard.ts'
import { readMessage, writeHeaders } from './nats-headers.ts'

export const DEAD_HEADERS = {
  topic: 'Mica-Dead-Topic',
  deliveries: 'Mica-Dead-Deliveries',
  error: 'Mica-Dead-Error',
  stream: 'Mica-Dead-Stream',
  sequence: 'Mica-Dead-Sequence',
} as const

/** What a delivery needs from its broker. */
export interface DeliveryContext {
  guard: BrokerGuard
  maxDeliver: number
  backoffMs: readonly number[]
  deadLetterSubject: (topic: string) => string
  onError: BrokerErrorHandler | undefined
  headers(): MsgHdrs
  /** Stores a message durably (the broker's publish path, checks included). */
  store(subject: string, body: Uint8Array, headers: MsgHdrs): Promise<void>
}

export function deliver(ctx: DeliveryContext, m: JsMsg, handler: BrokerHandler): void {
  const attempt = m.info.deliveryCount
  const message = readMessage(m)
  let settled = false
  const settle = (action: () => void): void => {
    if (settled) return
    settled = true
    quietly(action)
  }
  if (attempt > ctx.maxDeliver) {
    settled = true
    void deadLetter(ctx, m, message, 'delivered without an ack (nacked or timed out)')
    return
  }
  const delivery = {
    attempt,
    nack: (delayMs?: number) => settle(() => m.nak(delayMs ?? backoff(ctx, attempt))),
  }
  ctx.guard.run(
    async (msg) => {
      try {
        await handler(msg)
      } catch (error) {
        if (!settled && attempt >= ctx.maxDeliver) {
          settled = true
          void deadLetter(ctx, m, message, text(error))
        } else settle(() => m.nak(backoff(ctx, attempt)))
        throw error // for the guard: counted and reported like any handler failure
      }
      settle(() => m.ack())
    },
    { ...message, delivery },
  )
}

/** Publishes a copy to the dead-letter subject, then terminates it; on failure it comes back later. */
async function deadLetter(
  ctx: DeliveryContext,
  m: JsMsg,
  message: BrokerMessage,
  reason: string,
): Promise<void> {
  const attempt = m.info.deliveryCount
  try {
    const headers = ctx.headers()
    writeHeaders(message, headers)
    headers.set(DEAD_HEADERS.topic, message.topic)
    headers.set(DEAD_HEADERS.deliveries, String(attempt))
    // Header values may not hold CR/LF; a long stack is no use in a header either.
    headers.set(DEAD_HEADERS.error, reason.replace(/[\r\n]+/g, ' ').slice(0, 1024))
    headers.set(DEAD_HEADERS.stream, m.info.stream)
    headers.set(DEAD_HEADERS.sequence, String(m.info.streamSequence))
    await ctx.store(ctx.deadLetterSubject(message.topic), m.data, headers)
    quietly(() => m.term())
  } catch (error) {
    quietly(() => m.nak(backoff(ctx, attempt)))
    try {
      if (ctx.onError) ctx.onError(error, message)
      else console.warn(`mica broker: dead-lettering a message of "${message.topic}" failed:`, error)
    } catch {
      // A failing error hook must not take the delivery loop down with it.
    }
  }
}

/** The delay before the next delivery after `attempt` failed; the list's last entry repeats. */
function backoff(ctx: DeliveryContext, attempt: number): number | undefined {
  const list = ctx.backoffMs
  return list.length === 0 ? undefined : list[Math.min(attempt, list.length) - 1]
}

function quietly(action: () => void): void {
  try {
    action()
  } catch {
    // The connection is gone: the server redelivers after ack_wait, which is the guarantee.
  }
}

function text(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
