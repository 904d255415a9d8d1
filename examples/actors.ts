// The demo's actors. A module of definitions only: worker threads import it.
import { defineActor, errors, type Stream } from '../src/index.ts'

/** A keyed actor: one counter per id, on the node and worker its address hashes to. */
export const counter = defineActor({
  kind: 'counter',
  initial: () => ({ n: 0 }),
  handlers: {
    add(msg: { by: number }, ctx) {
      ctx.state.n += msg.by
      return ctx.state.n
    },
    get(_msg: void, ctx) {
      return ctx.state.n
    },
    /** Which process serves this actor. */
    where() {
      return process.env.MICA_DEMO_NODE ?? `pid ${process.pid}`
    },
  },
})

/** A stateless kind: one instance per worker, calls spread across them (Go Micro's greeter). */
export const greeter = defineActor({
  kind: 'greeter',
  handlers: {
    hello(msg: { name: string }, ctx) {
      if (msg.name === '') throw errors.badRequest('name is required', ctx.self)
      return { greeting: `Hello ${msg.name}`, from: process.env.MICA_DEMO_NODE ?? `pid ${process.pid}` }
    },
  },
})

/** A streaming handler: shouts back every line it reads, until the caller ends its side. */
export const shouter = defineActor({
  kind: 'shouter',
  handlers: {
    async shout(stream: Stream<string, string>) {
      for await (const line of stream) await stream.send(`${line.toUpperCase()}!`)
    },
  },
})

/** A keyed ledger: `kernel.subscribe` binds a topic to one ledger's `record` handler. */
export const ledger = defineActor({
  kind: 'ledger',
  initial: () => ({ lines: [] as string[] }),
  handlers: {
    record(order: { id: string; total: number }, ctx) {
      ctx.state.lines.push(`${order.id}: ${order.total} (trace ${ctx.metadata.trace ?? '-'})`)
    },
    lines(_msg: void, ctx) {
      return ctx.state.lines
    },
  },
})

/** A persistent actor: its count is the fold of its `visited` events, kept in node B's file journal. */
export const visits = defineActor({
  kind: 'visits',
  initial: () => ({ count: 0 }),
  handlers: {
    hit(_msg: void, ctx) {
      ctx.persist({ type: 'visited', at: Date.now() })
      return { count: ctx.state.count, node: process.env.MICA_DEMO_NODE ?? `pid ${process.pid}` }
    },
  },
  apply: { visited: (s) => ({ count: s.count + 1 }) },
})
