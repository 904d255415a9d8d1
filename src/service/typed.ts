/**
 * A typed client from an actor definition, with no code generation: one method per handler, whose
 * request and reply types come from the handler's signature (`typed(greeter).hello({ name })` is a
 * `Promise<{ greeting: string }>` when `hello` returns one). The methods are `client.call` on
 * `service`, endpoint `Kind.handler`.
 */
import type { AnyActorDefinition, CallArgs, ReplyOf } from '../actors/types.ts'
import type { CallOptions } from './client-options.ts'

type HandlersOf<D> = D extends { readonly handlers: infer H } ? H : never

export type TypedClient<D extends AnyActorDefinition> = {
  readonly [K in Extract<keyof HandlersOf<D>, string>]: (
    ...args: CallArgs<HandlersOf<D>[K], CallOptions>
  ) => Promise<ReplyOf<HandlersOf<D>[K]>>
}

/** What a typed client needs of the client. */
export interface Caller {
  call<R = unknown>(service: string, endpoint: string, request?: unknown, options?: CallOptions): Promise<R>
}

export function typedClient<D extends AnyActorDefinition>(
  caller: Caller,
  definition: D,
  service: string,
): TypedClient<D> {
  const out: Record<string, (req?: unknown, options?: CallOptions) => Promise<unknown>> = {}
  for (const name of Object.keys(definition.handlers as object)) {
    const endpoint = `${definition.kind}.${name}`
    out[name] = (req, options) => caller.call(service, endpoint, req, options)
  }
  return Object.freeze(out) as unknown as TypedClient<D>
}
