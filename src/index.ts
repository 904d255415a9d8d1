/** mica's public surface, listed by name on purpose: what is not here is internal. */
export { createKernel, Kernel, type KernelStats } from './kernel/kernel.ts'
export {
  type KernelOptions,
  type Logger,
  DEFAULT_ASK_TIMEOUT_MS,
  DEFAULT_DRAIN_TIMEOUT_MS,
  DEFAULT_MAX_MESSAGE_BYTES,
} from './kernel/options.ts'
export { parseAddress, formatAddress, type Address } from './kernel/address.ts'
export { embeddedNetwork, loopbackNetwork, type EmbeddedNetworkOptions } from './kernel/network.ts'
export { defineActor } from './actors/define.ts'
export type {
  ActorContext,
  ActorDefinition,
  ActorRef,
  AnyActorDefinition,
  AskOptions,
  SendOptions,
  Handler,
  HandlerMap,
  Metadata,
} from './actors/types.ts'
export type { SupervisionOptions, Directive, Decider, BackoffOptions } from './actors/supervision.ts'
export type { MailboxOptions, OverflowPolicy } from './mailbox/mailbox.ts'
export type { DeadLetter, DeadLetterReason, DeadLetterListener } from './mailbox/dead-letters.ts'
export { type Clock, type TimerHandle, systemClock } from './clock.ts'
export { type Codec, MSGPACK, JSON_CONTENT_TYPE, DEFAULT_CONTENT_TYPE } from './codec/codec.ts'
export { MsgpackCodec } from './codec/msgpack.ts'
export { JsonCodec } from './codec/json.ts'
export { CodecTable } from './codec/table.ts'
export {
  MicaError,
  ErrorCode,
  errors,
  type WireError,
  BadRequestError,
  UnauthorizedError,
  ForbiddenError,
  NotFoundError,
  TimeoutError,
  ConflictError,
  TooManyRequestsError,
  AbortedError,
  InternalError,
  UnavailableError,
} from './errors.ts'
