// Actor definitions the service tests serve.
import { defineActor } from '../../src/actors/define.ts'
import { errors } from '../../src/errors.ts'

export const greeter = defineActor({
  kind: 'Greeter',
  handlers: {
    hello: (req: { name: string }) => {
      if (req.name === '') throw errors.badRequest('name is empty')
      return { greeting: `Hello ${req.name}` }
    },
    whoami: (_req: void, ctx) => ({ node: ctx.self, metadata: { ...ctx.metadata }, deadline: ctx.deadline }),
  },
})
