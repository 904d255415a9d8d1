/**
 * The request being handled, for calls made while handling it: a service's handlers run inside
 * this scope (on the thread that runs them), so `client.call` from a handler inherits the remaining
 * deadline and the caller's trace context without the handler passing its `ctx` along. Outside a
 * handler (or on a worker thread, where the service's client does not live) the scope is empty.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { BadRequestError, ErrorCode } from '../errors.ts'
import type { Metadata } from '../actors/types.ts'

export interface CallScope {
  readonly metadata: Readonly<Metadata>
  /** Deadline (epoch ms) of the request being handled; 0 for a send. */
  readonly deadline: number
  /** Metadata the handler sends back with its reply (`replyMetadata`). */
  reply?: Metadata
}

const storage = new AsyncLocalStorage<CallScope>()

export function inScope<T>(scope: CallScope, fn: () => T): T {
  return storage.run(scope, fn)
}

export function currentScope(): CallScope | undefined {
  return storage.getStore()
}

/**
 * From inside a service handler: metadata to send back with the reply (merged over earlier calls;
 * the kernel's limits apply). The service client hands it to the caller's `onReplyMetadata`.
 */
export function replyMetadata(entries: Metadata): void {
  const scope = storage.getStore()
  if (scope === undefined) {
    throw new BadRequestError(ErrorCode.BAD_REQUEST, 'replyMetadata is for service handlers only')
  }
  scope.reply = { ...scope.reply, ...entries }
}
