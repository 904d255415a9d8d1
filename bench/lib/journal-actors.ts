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
