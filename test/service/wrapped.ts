// A definition wrapped in its own module, as handler wrappers must be on worker threads: the
// validation wrapper and the request scope (reply metadata) run on the worker that runs the handler.
import { isMainThread } from 'node:worker_threads'
import { defineActor } from '../../src/actors/define.ts'
import { errors } from '../../src/errors.ts'
import { replyMetadata } from '../../src/service/call-scope.ts'
import { wrapDefinition } from '../../src/service/wrap-definition.ts'
import { validationWrapper } from '../../src/service/wrappers/validation.ts'

export const wrappedSchemas = {
  hello: {
    request: {
      type: 'object' as const,
      required: ['name'],
      properties: { name: { type: 'string' as const } },
    },
  },
}

export const wrapped = wrapDefinition(
  defineActor({
    kind: 'Wrapped',
    handlers: {
      hello: (req: { name: string }) => {
        replyMetadata({ 'Served-On': isMainThread ? 'main' : 'worker' })
        if (req.name === 'down') throw errors.unavailable('db down')
        return { greeting: `Hello ${req.name}` }
      },
    },
  }),
  { service: 'wrapped', wrappers: [validationWrapper().handler], schemas: wrappedSchemas },
)
