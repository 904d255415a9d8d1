// The service examples' actors. A module of definitions only: worker threads import it.
import { defineActor, errors, type Stream } from '../src/index.ts'

/** Go Micro's greeter: `Greeter.Hello` becomes the handler `hello` of the kind `Greeter`. */
export const greeter = defineActor({
  kind: 'Greeter',
  handlers: {
    hello(req: { name: string }, ctx) {
      if (req.name === '') throw errors.badRequest('name is required')
      const from = ctx.metadata['Micro-From-Service'] ?? 'someone'
      return { greeting: `Hello ${req.name}`, from }
    },
  },
})

/** A streaming endpoint: reads lines, answers each one shouted. */
export const shouter = defineActor({
  kind: 'Shouter',
  handlers: {
    async shout(stream: Stream<string, string>) {
      for await (const line of stream) await stream.send(`${line.toUpperCase()}!`)
    },
  },
})

/** A persistent counter: its state is the fold of the events it persisted. */
export const counter = defineActor({
  kind: 'Counter',
  initial: () => ({ n: 0 }),
  apply: (state: { n: number }, event: { by: number }) => ({ n: state.n + event.by }),
  handlers: {
    add(req: { by: number }, ctx) {
      ctx.persist({ by: req.by })
      return { n: ctx.state.n }
    },
    get(_req: void, ctx) {
      return { n: ctx.state.n }
    },
  },
})
