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
export { DEFAULT_NATS_SERVERS, type Engine, type NatsEngineOptions } from './kernel/engine.ts'
export type { NatsConnectionOptions } from './nats/connection.ts'
export { type Stream, DEFAULT_STREAM_WINDOW } from './kernel/stream.ts'
export type {
  Registry,
  Service,
  RegistryNode,
  Endpoint,
  RegisterOptions,
  WatchEvent,
  WatchOptions,
  Watcher,
} from './registry/registry.ts'
export { MemoryRegistry, type MemoryRegistryOptions } from './registry/memory.ts'
export { MdnsRegistry } from './registry/mdns.ts'
export type { MdnsRegistryOptions } from './registry/mdns-options.ts'
export { NatsRegistry } from './registry/nats.ts'
export type { NatsRegistryOptions } from './registry/nats-options.ts'
export { CachedRegistry, type CachedRegistryOptions } from './registry/cache.ts'
export {
  Selector,
  byVersion,
  byServiceMetadata,
  byNodeMetadata,
  type Filter,
  type SelectorOptions,
} from './registry/selector.ts'
export { random, roundRobin, rendezvous, type Strategy } from './registry/strategy.ts'
export type { Transport, Peer, Envelope, FrameKind, LinkEvent, LinkHandler } from './transport/transport.ts'
export { TcpTransport, type TcpTransportOptions } from './transport/tcp.ts'
export { NatsTransport, type NatsTransportOptions } from './transport/nats.ts'
export { MemoryTransport, MemoryNetwork, type MemoryTransportOptions } from './transport/memory.ts'
export type {
  Broker,
  BrokerMessage,
  PublishMessage,
  BrokerHandler,
  SubscribeOptions,
  Subscription,
} from './broker/broker.ts'
export { MemoryBroker, type MemoryBrokerOptions } from './broker/memory.ts'
export { NatsBroker, type NatsBrokerOptions } from './broker/nats.ts'
export { DirectBroker, type DirectBrokerOptions } from './broker/direct.ts'
export { JetStreamBroker, type JetStreamBrokerOptions } from './broker/jetstream.ts'
export {
  type Journal,
  type JournalEvent,
  type Snapshot,
  type ReadOptions,
  JournalCorruptError,
  JournalLockedError,
} from './journal/journal.ts'
export { MemoryJournal, type MemoryJournalOptions } from './journal/memory.ts'
export { FileJournal, type FileJournalOptions, type FsyncPolicy } from './journal/file.ts'
export { JetStreamJournal, type JetStreamJournalOptions } from './journal/jetstream.ts'
export { defineActor, type MachineDefinitionInput, type MachineHandlers } from './actors/define.ts'
export { MACHINE_SNAPSHOT_HANDLER, type MachineReply } from './actors/machine.ts'
export type { JournalPort } from './actors/persistence.ts'
export { DEFAULT_PASSIVATION, type PassivationOptions } from './actors/host.ts'
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
  StreamOptions,
  CallerStream,
  EventApplier,
  PublishOptions,
  TopicBinding,
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
export {
  createService,
  Service as MicaService,
  type HandleOptions,
  type Subscriber,
  type SubscriberInfo,
} from './service/service.ts'
export { createFunction } from './service/function.ts'
export { type ServiceOptions, type Hook } from './service/options.ts'
export { Client, splitEndpoint } from './service/client.ts'
export {
  type CallOptions,
  type ClientOptions,
  type RetryOn,
  type RetryInfo,
  type Backoff,
  type SelectCallOptions,
  reachedNoHandler,
} from './service/client-options.ts'
export type { TypedClient } from './service/typed.ts'
export type { CircuitBreakerOptions, CircuitState } from './service/breaker.ts'
export type { BulkheadOptions } from './service/bulkhead.ts'
export {
  type WrapperSet,
  type ClientWrapper,
  type CallWrapper,
  type HandlerWrapper,
  type SubscriberWrapper,
  type CallRequest,
  type AttemptRequest,
  type HandlerRequest,
  type SubscriberMessage,
  type CallFn,
  type AttemptFn,
  type HandlerFn,
  type SubscriberFn,
} from './service/wrappers.ts'
export { wrapDefinition, type WrapDefinitionOptions } from './service/wrap-definition.ts'
export { type Schema, type EndpointSchema, type SchemaType, schemaViolation } from './service/schema.ts'
export { loggingWrapper } from './service/wrappers/logging.ts'
export { validationWrapper } from './service/wrappers/validation.ts'
export { traceContext, parseTraceparent, TRACEPARENT, type TraceParent } from './service/wrappers/trace.ts'
export {
  metricsWrapper,
  type Metrics,
  type MetricsSnapshot,
  type EndpointMetrics,
  type MetricsOptions,
} from './service/wrappers/metrics.ts'
export { DEBUG_KIND, type Health, type Stats } from './service/debug.ts'
export { replyMetadata } from './service/call-scope.ts'
