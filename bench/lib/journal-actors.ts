// The persistent kind bench/journal.ts drives (no side effects on import: workers load this module).
import { defineActor } from '../../src/actors/define.ts'

export const ledger = defineActor({
  kind: 'bench-ledger',
  initial: () => ({ n: 0, events: 0 }),
  handlers: {
    add(msg: { by: number }, ctx) {
      ctx.persist(msg.by)
      return ctx.state.n
    },
    get(_msg: void, ctx) {
      return ctx.state
    },
  },
  apply: (s, by: number) => ({ n: s.n + by, events: s.events + 1 }),
})

/**
 * Collects garbage on the thread it runs on (when node runs with --expose-gc, which workers
 * inherit) and reports that thread's heap: the bench reads resident memory after every thread's GC,
 * as it does on the main thread.
 */
export const heapProbe = defineActor({
  kind: 'bench-heap',
  handlers: {
    collect() {
      const gc = (globalThis as { gc?: () => void }).gc
      gc?.()
      return { collected: gc !== undefined, heapUsedMb: process.memoryUsage().heapUsed / 2 ** 20 }
    },
  },
})
