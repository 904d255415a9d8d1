/**
 * A definition whose handlers run through handler wrappers: each handler becomes
 * `wrappers(req => handler(req.body, req.ctx))`, run inside the call scope (so calls it makes
 * inherit its deadline and metadata). Errors a handler throws with the runtime's default id are
 * stamped with the service's name, so callers can tell "the handler said 503" from "no handler ran".
 *
 * On worker threads a kind is imported from its module, so wrapping must happen there: export
 * `wrapDefinition(defineActor(...), { service, wrappers })` from the module instead of the plain one.
 */
import { leftHandler, MicaError } from '../errors.ts'
import type { ActorContext, ActorDefinition, AnyActorDefinition, Handler } from '../actors/types.ts'
import { inScope, type CallScope } from './call-scope.ts'
import { withReplyMetadata } from './reply.ts'
import { checkMetadata } from '../kernel/body.ts'
import { definitionSchemas, type EndpointSchema } from './schema.ts'
import { compose, type HandlerFn, type HandlerWrapper } from './wrappers.ts'

export interface WrapDefinitionOptions {
  /** The service name errors are stamped with and wrappers see. */
  service: string
  wrappers?: readonly HandlerWrapper[]
  /** Request/response schema per handler name (over the definition's own `schemas`). */
  schemas?: Readonly<Record<string, EndpointSchema | undefined>>
}

export function wrapDefinition<D extends AnyActorDefinition>(
  definition: D,
  options: WrapDefinitionOptions,
): D {
  const handlers: Record<string, Handler<unknown>> = {}
  const wrappers = options.wrappers ?? []
  const schemas = definitionSchemas(definition, options.schemas)
  for (const [name, fn] of Object.entries(definition.handlers as Record<string, Handler<unknown>>)) {
    const endpoint = `${definition.kind}.${name}`
    const schema = schemas?.[name]
    const inner: HandlerFn = async (req) => fn(req.body as never, req.ctx)
    const chain = compose(wrappers, inner)
    handlers[name] = (msg: never, ctx: ActorContext<unknown>) => {
      const scope: CallScope = { metadata: ctx.metadata, deadline: ctx.deadline }
      // async: a wrapper that throws at once (validation) is stamped like a rejection
      return inScope(scope, async () =>
        chain({ service: options.service, endpoint, body: msg, ctx, schema }),
      ).then(
        (body) =>
          scope.reply === undefined ? body : withReplyMetadata(body, checkMetadata(scope.reply) ?? {}),
        (err: unknown) => {
          throw stamp(err, options.service)
        },
      )
    }
  }
  return Object.freeze({ ...(definition as ActorDefinition), handlers }) as unknown as D
}

/** The rule of leftHandler (errors.ts), with the service's name: what looks like a refusal is stamped. */
function stamp(err: unknown, service: string): unknown {
  return err instanceof MicaError ? leftHandler(err, service) : err
}
