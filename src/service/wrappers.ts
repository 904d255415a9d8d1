/**
 * Wrappers (Go Micro's middleware): plain functions `(next) => fn`, composed once when a service or
 * client is built, never swapped at run time. Four places, in this order around one call:
 *
 *   caller: client wrappers (once per call, around selection and retries)
 *             -> call wrappers (once per attempt, on the node chosen for it) -> the wire
 *   server: handler wrappers -> the handler        (subscriber wrappers -> the subscriber)
 *
 * Within one place the first wrapper listed is the outermost: `[a, b]` runs a, then b, then the call.
 * A `WrapperSet` groups the four so one shipped wrapper (trace context, metrics) can wrap each place.
 */
import type { ActorContext, Metadata } from '../actors/types.ts'
import type { RegistryNode } from '../registry/registry.ts'
import type { EndpointSchema } from './schema.ts'
import type { CallOptions } from './client-options.ts'

/** One call as the client sees it (before a node is chosen). */
export interface CallRequest {
  readonly service: string
  /** `Kind.handler`. */
  readonly endpoint: string
  readonly body: unknown
  /** Metadata sent with the call; wrappers may add to it (it is copied per call). */
  metadata: Metadata
  /** Epoch ms the whole call (retries included) must finish by. */
  readonly deadline: number
  /** The call's options (defaults of the client merged in). */
  readonly options: Readonly<CallOptions>
}

/** One attempt of a call, on one node. */
export interface AttemptRequest extends CallRequest {
  readonly node: RegistryNode
  /** 0 for the first attempt. */
  readonly attempt: number
}

export type CallFn = (req: CallRequest) => Promise<unknown>
export type AttemptFn = (req: AttemptRequest) => Promise<unknown>
export type ClientWrapper = (next: CallFn) => CallFn
export type CallWrapper = (next: AttemptFn) => AttemptFn

/** One request as a handler sees it. */
export interface HandlerRequest {
  readonly service: string
  readonly endpoint: string
  readonly body: unknown
  readonly ctx: ActorContext<unknown>
  /** The endpoint's schema, when the service declared one. */
  readonly schema: EndpointSchema | undefined
}

export type HandlerFn = (req: HandlerRequest) => Promise<unknown>
export type HandlerWrapper = (next: HandlerFn) => HandlerFn

/** One message as a subscriber sees it. */
export interface SubscriberMessage {
  readonly service: string
  readonly topic: string
  readonly body: unknown
  readonly metadata: Readonly<Metadata>
}

export type SubscriberFn = (msg: SubscriberMessage) => Promise<void>
export type SubscriberWrapper = (next: SubscriberFn) => SubscriberFn

export interface WrapperSet {
  client?: ClientWrapper
  call?: CallWrapper
  handler?: HandlerWrapper
  subscriber?: SubscriberWrapper
}

/** `[a, b]` around `fn`: a(b(fn)), so a runs first. */
export function compose<F>(wrappers: readonly ((next: F) => F)[], fn: F): F {
  let out = fn
  for (let i = wrappers.length - 1; i >= 0; i--) out = wrappers[i]!(out)
  return out
}

/** The wrappers of one place, in the order the sets were given. */
export function pick<K extends keyof WrapperSet>(
  sets: readonly WrapperSet[],
  place: K,
): NonNullable<WrapperSet[K]>[] {
  return sets.flatMap((s) => (s[place] === undefined ? [] : [s[place]!]))
}
