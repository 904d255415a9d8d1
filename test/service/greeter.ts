// Actor definitions the service tests serve.
import { defineActor } from '../../src/actors/define.ts'
import { ErrorCode, errors, TooManyRequestsError } from '../../src/errors.ts'
import { replyMetadata } from '../../src/service/call-scope.ts'
import { appendFileSync } from 'node:fs'

export const greeter = defineActor({
  kind: 'Greeter',
  handlers: {
    hello: (req: { name: string }) => {
      if (req.name === '') throw errors.badRequest('name is empty')
      return { greeting: `Hello ${req.name}` }
    },
    whoami: (_req: void, ctx) => ({ node: ctx.self, metadata: { ...ctx.metadata }, deadline: ctx.deadline }),
    /** Answers with reply metadata: the caller's tenant back, and who served it. */
    tagged: async (size: number, ctx) => {
      replyMetadata({ 'Micro-Tenant': ctx.metadata['Micro-Tenant'] ?? 'none' })
      await Promise.resolve()
      replyMetadata({ 'Micro-Served-By': ctx.self, ...(size > 0 ? { big: 'x'.repeat(size) } : {}) })
      return 'tagged'
    },
  },
})

/** A persistent (event-sourced) counter. */
export const tally = defineActor({
  kind: 'Tally',
  initial: () => ({ n: 0 }),
  apply: (state: { n: number }, event: { by: number }) => ({ n: state.n + event.by }),
  handlers: {
    add: (by: number, ctx) => {
      ctx.persist({ by })
      return ctx.state.n
    },
    get: (_: void, ctx) => ctx.state.n,
  },
})

/** A handler that takes its time (drain tests). */
export const slow = defineActor({
  kind: 'Slow',
  handlers: {
    wait: async (ms: number) => {
      await new Promise((r) => setTimeout(r, ms))
      return `waited ${ms}`
    },
  },
})

/** Records each run in the file it is given (a worker's runs are visible to the test), then fails. */
export const journaled = defineActor({
  kind: 'Journaled',
  handlers: {
    run: (req: { file: string; fail: 'unavailable' | 'internal' }) => {
      appendFileSync(req.file, 'x')
      if (req.fail === 'unavailable') throw errors.unavailable('db down')
      throw new Error('boom')
    },
  },
})

/** A greeter whose definition declares its endpoint schemas itself. */
export const describedGreeter = defineActor({
  kind: 'Described',
  schemas: {
    hello: {
      request: { type: 'object', required: ['name'], properties: { name: { type: 'string', maxLength: 8 } } },
      response: { type: 'object', properties: { greeting: { type: 'string' } } },
    },
  },
  handlers: {
    hello: (req: { name: string }) => ({ greeting: `Hello ${req.name}` }),
    bye: (req: { name: string }) => `Bye ${req.name}`,
  },
})

/**
 * A one-slot mailbox: full while `hold` runs with one message queued behind it. `refuse` records its
 * run in the file it is given (on a worker too), then answers with a refusal of its own: a 429, a 503,
 * or a full mailbox downstream it rethrew (an actor address as its id).
 */
export const bounded = defineActor({
  kind: 'Bounded',
  mailbox: { capacity: 1, overflow: 'reject' },
  handlers: {
    hold: async (ms: number) => {
      await new Promise((r) => setTimeout(r, ms))
      return 'held'
    },
    where: (_req: void, ctx) => ctx.self,
    refuse: (req: { file: string; as: 'busy' | 'down' | 'relayed' }) => {
      appendFileSync(req.file, 'x')
      if (req.as === 'busy') throw errors.tooManyRequests('slow down')
      if (req.as === 'down') throw errors.unavailable('db down')
      throw new TooManyRequestsError(ErrorCode.MAILBOX_FULL, 'Other/1: mailbox full', 'Other/1')
    },
  },
})
