/**
 * LocalRuntime: where this node's actors run — inline on the main thread or on the worker pool. The
 * kernel validates every message (kernel state, kind, handler) before it gets here; a runtime only
 * carries it. KernelServices is what a runtime may ask of the kernel in return.
 */
import type { Clock } from '../clock.ts'
import type { MicaError } from '../errors.ts'
import type { CodecTable } from '../codec/table.ts'
import type {
  ActorDefinition,
  ActorRef,
  AnyActorDefinition,
  AskOptions,
  Metadata,
  PublishOptions,
  SendOptions,
} from '../actors/types.ts'
import type { DeadLetters } from '../mailbox/dead-letters.ts'
import type { HandlerCount } from '../actors/kind.ts'
import type { Address } from './address.ts'
import type { StreamEnd } from './stream.ts'
import type { EncodedStreamSink, StreamRequest } from './stream-open.ts'
import type { DeadlineWheel } from './deadlines.ts'
import type { Logger, ResolvedKernelOptions } from './options.ts'
import type { KernelJournal } from './journal-port.ts'

export interface Outgoing {
  readonly handler: string
  readonly msg: unknown
  readonly md: Metadata | undefined
  readonly contentType: string | undefined
}

/** A message as it arrived from another node: the body stays encoded until the handler's thread. */
export interface EncodedMessage {
  readonly handler: string
  readonly bytes: Uint8Array
  /** Content type of `bytes`; null for the default. */
  readonly ct: string | null
  readonly md: Metadata | undefined
}

/** A reply still encoded, to go back on the wire as it is. */
export interface EncodedReply {
  readonly bytes: Uint8Array
  readonly ct: string | null
}

/**
 * Where the outcome of an ask from another node goes: called once, with the reply still encoded or
 * the error. A callback rather than a promise: the serve path of a remote ask is the hot path of a
 * serving node, and each promise layer was an allocation and a microtask on it.
 */
export interface EncodedAnswer {
  reply(reply: EncodedReply): void
  fail(error: MicaError): void
}

/** What `kernel.stats()` reports. */
export interface KernelStats {
  nodeId: string
  workers: number
  kinds: string[]
  actors: number
  /**
   * Times this node found it may have been routed around (a lost link or connection, its
   * registration gone, a node sharing its kinds marked down or gone), plus the settling ones after:
   * each made every live persistent actor read its journal again before its next message.
   */
  catchUps: number
  /** Streams open through a thread hop or the transport. */
  streams: number
  pendingAsks: number
  deadLetters: number
  mailboxes: { address: string; depth: number }[]
  /** Turns and failed turns per `Kind.handler`, on every thread of this node. */
  handlers: Record<string, HandlerCount>
}

export interface LocalStats {
  actors: number
  /** Streams routed through this runtime's own tables (a thread hop) still open. */
  streams: number
  pendingAsks: number
  mailboxes: { address: string; depth: number }[]
  handlers: Record<string, HandlerCount>
}

export interface LocalRuntime {
  start(): Promise<void>
  addKind(definition: ActorDefinition): Promise<void>
  activate(to: Address): Promise<void>
  /** A send. Throws (synchronously) only for a message that cannot be encoded. */
  post(to: Address, out: Outgoing): void
  /** An ask (never throws: failures reject). A negative deadline is a timeout from now. */
  request(to: Address, out: Outgoing, deadline: number, signal: AbortSignal | undefined): Promise<unknown>
  /** A send from another node (the body is not decoded on the routing thread). */
  postEncoded(to: Address, msg: EncodedMessage): void
  /** An ask from another node; the reply comes back encoded. `deadline` is absolute. */
  requestEncoded(to: Address, msg: EncodedMessage, deadline: number): Promise<EncodedReply>
  /** The same, its outcome to `answer` (never throws). */
  answerEncoded(to: Address, msg: EncodedMessage, deadline: number, answer: EncodedAnswer): void
  /** A stream from this thread to a local actor: the caller's end. */
  openStream(to: Address, req: StreamRequest): StreamEnd
  /** A stream from another node: its messages stay encoded up to the handler's thread. */
  openStreamEncoded(to: Address, req: StreamRequest, toCaller: EncodedStreamSink): EncodedStreamSink
  /**
   * This node may have been routed around: every live persistent actor, on every thread, reads its
   * journal again before its next message. Resolves once every thread has taken note (a message
   * sent after that call is delivered after it in any case: it travels behind it).
   */
  catchUp(): Promise<void>
  drain(until: number): Promise<void>
  /** Stops every actor; turns still running at `until` are abandoned. */
  stop(until: number): Promise<void>
  stats(): Promise<LocalStats>
}

export interface KernelServices {
  readonly options: ResolvedKernelOptions
  readonly clock: Clock
  readonly codecs: CodecTable
  readonly wheel: DeadlineWheel
  readonly deadLetters: DeadLetters
  readonly logger: Logger
  readonly journal: KernelJournal
  /** Validates a target named by an actor (kind hosted, handler known); throws a MicaError. */
  resolveTarget(to: string, handler: string): Address
  send(to: string, handler: string, msg: unknown, options?: SendOptions): void
  ask(to: string, handler: string, msg: unknown, options?: AskOptions): Promise<unknown>
  ref(address: string): ActorRef
  spawn(definition: AnyActorDefinition | string | URL, id?: string): Promise<ActorRef>
  publish(topic: string, msg: unknown, options?: PublishOptions): void
  /** An actor's publish from a worker: the body is already encoded. */
  publishEncoded(topic: string, bytes: Uint8Array, ct: string | null, md: Metadata | undefined): void
  /** A stream opened by an actor on a worker: to a local actor or another node. */
  streamEncoded(to: string, req: StreamRequest, toCaller: EncodedStreamSink): EncodedStreamSink
}
