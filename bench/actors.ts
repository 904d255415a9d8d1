// Actor definitions for the kernel bench. No import-time side effects: worker threads import this module.
import { defineActor } from '../src/index.ts'

/** A counter: `add` for sends, `get` for asks (and to check the work was done). */
export const counter = defineActor({
  kind: 'bcounter',
  initial: () => ({ n: 0 }),
  handlers: {
    add(msg: { by: number }, ctx) {
      ctx.state.n += msg.by
      return ctx.state.n
    },
    get(_msg: void, ctx) {
      return ctx.state.n
    },
  },
})
