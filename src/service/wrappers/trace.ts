/**
 * W3C trace context (https://www.w3.org/TR/trace-context/): every call carries `traceparent`
 * (`00-<trace id>-<span id>-<flags>`) in its metadata. A call made while a request is handled keeps
 * that request's trace id and gets a new span id (one span per hop); a call from outside a handler
 * starts a trace. `tracestate` travels along unchanged.
 */
import { randomBytes } from 'node:crypto'
import { currentScope } from '../call-scope.ts'
import type { ClientWrapper } from '../wrappers.ts'

export const TRACEPARENT = 'traceparent'
export const TRACESTATE = 'tracestate'
const PATTERN = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/

export interface TraceParent {
  traceId: string
  spanId: string
  flags: string
}

export function parseTraceparent(value: string | undefined): TraceParent | undefined {
  const m = value === undefined ? null : PATTERN.exec(value)
  if (m === null || /^0+$/.test(m[1]!) || /^0+$/.test(m[2]!)) return undefined
  return { traceId: m[1]!, spanId: m[2]!, flags: m[3]! }
}

export interface TraceContextOptions {
  /** Random bytes for ids (injected for tests). */
  random?: (n: number) => string
}

export function traceContext(options: TraceContextOptions = {}): { client: ClientWrapper } {
  const random = options.random ?? ((n: number) => randomBytes(n).toString('hex'))
  return {
    client: (next) => (req) => {
      const scope = currentScope()?.metadata
      const parent = parseTraceparent(req.metadata[TRACEPARENT] ?? scope?.[TRACEPARENT])
      const traceId = parent?.traceId ?? random(16)
      req.metadata[TRACEPARENT] = `00-${traceId}-${random(8)}-${parent?.flags ?? '01'}`
      const state = req.metadata[TRACESTATE] ?? scope?.[TRACESTATE]
      if (state !== undefined) req.metadata[TRACESTATE] = state
      return next(req)
    },
  }
}
