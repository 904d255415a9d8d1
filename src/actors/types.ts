/**
 * The user-facing actor types: a definition is a plain object of handlers; refs infer each handler's
 * message and reply types from it, so `ref.ask('add', { by: 1 })` is checked at compile time.
 */
import type { MailboxOptions } from '../mailbox/mailbox.ts'
import type { SupervisionOptions } from './supervision.ts'
import type { Stream } from '../kernel/stream.ts'
import type { AnyStateMachine } from 'xstate'

export type { Stream }

export type Metadata = Record<string, string>

/** Per-call options of `send`. */
export interface SendOptions {
  metadata?: Metadata
  /** Content type the message is encoded with when it crosses a thread or a socket. */
  contentType?: string
}

/** Per-call options of `ask`. `deadline` (epoch ms) wins over `timeout` (ms from now). */
export interface AskOptions extends SendOptions {
  timeout?: number
  deadline?: number
  signal?: AbortSignal
}

/** A handler: gets the message and the actor context; its return value (or promise) is the reply. */
export type Handler<S> = (msg: never, ctx: ActorContext<S>) => unknown
export type HandlerMap<S> = { readonly [name: string]: Handler<S> }

/** A handler's request and response descriptions (plain JSON Schema objects). */
export interface HandlerSchema {
  readonly request?: object
  readonly response?: object
}

export interface ActorDefinition<S = unknown, H extends HandlerMap<S> = HandlerMap<S>> {
  /** The kind's name (Go Micro: the service); `[A-Za-z0-9_.-]`, at most 128 characters. */
  readonly kind: string
  /** The state of a fresh activation; receives the actor id. */
  readonly initial?: (id: string) => S
  readonly handlers: H
  /** Runs before the first message of every activation (and after each restart). */
  readonly started?: (ctx: ActorContext<S>) => void | Promise<void>
  /** Runs when the actor stops (kernel stop, `ctx.stop()`, supervision stop) and before a restart. */
  readonly stopped?: (ctx: ActorContext<S>) => void | Promise<void>
  readonly supervision?: SupervisionOptions
  readonly mailbox?: MailboxOptions
  /** A turn (one async handler) running longer than this is a fault (default 30,000 ms). */
  readonly turnTimeoutMs?: number
  /** Messages served per turn of the event loop before yielding to I/O (default 256). */
  readonly throughput?: number
  /** URL of the module that exports this definition (workers import it); captured by `defineActor`. */
  readonly module?: string
  /**
   * `'main'`: the actor runs on the main thread even when the kernel has workers (for actors that
   * need the main thread's objects; the definition then never has to be importable by a worker).
   */
  readonly thread?: 'main'
  /**
   * Pubsub into this kind's mailboxes: topic (wildcards `*`, `>`) -> handler name, or
   * `{ handler, queue }`. By default a kind's nodes form one queue group (each message is handled
   * once per kind, by its stateless instance `kind/`); `queue: false` delivers to every node.
   */
  readonly topics?: Readonly<Record<string, string | TopicBinding>>
  /**
   * Makes the kind persistent (event-sourced): the state is the fold of the events its handlers
   * `ctx.persist`, through this function, or through a table keyed by each event's `type`. Must be
   * pure: recovery runs it again over the stored events.
   */
  readonly apply?: EventApplier<S>
  /**
   * Request/response descriptions per handler (a JSON Schema subset, see service/schema.ts): data
   * only here; a service lists them in its endpoints' metadata and its validation wrapper checks
   * requests against them.
   */
  readonly schemas?: { readonly [K in keyof H]?: HandlerSchema }
  /** A persistent kind saves a snapshot of its state every this many events (default: never). */
  readonly snapshotEvery?: number
  /**
   * An xstate machine as the behaviour (given to `defineActor` instead of `handlers`, which it then
   * generates: one per event type, plus `snapshot`). Always persistent: every event is journaled.
   */
  readonly machine?: AnyStateMachine
}

/** A persistent kind's `apply`: one function for every event, or one per event `type`. */
export type EventApplier<S> =
  ((state: S, event: never) => S) | { readonly [type: string]: (state: S, event: never) => S }

export interface TopicBinding {
  readonly handler: string
  /** Queue group; default the kind's name; `false` for broadcast to every node hosting the kind. */
  readonly queue?: string | false
}

/** Options of `publish`. */
export interface PublishOptions {
  metadata?: Metadata
  contentType?: string
}

/** What every context offers, whatever the state type. */
export interface ActorContext<S> {
  /** This actor's address, `kind/id`. */
  readonly self: string
  readonly kind: string
  readonly id: string
  /** The actor's state; handlers may mutate it or assign a new one. */
  state: S
  /** Metadata of the message being handled. */
  readonly metadata: Readonly<Metadata>
  /** Deadline (epoch ms) of the ask being handled, 0 for a send. */
  readonly deadline: number
  send(to: string, handler: string, msg?: unknown, options?: SendOptions): void
  ask<R = unknown>(to: string, handler: string, msg?: unknown, options?: AskOptions): Promise<R>
  ref<D extends AnyActorDefinition = AnyActorDefinition>(address: string): ActorRef<D>
  spawn<D extends AnyActorDefinition>(definition: D | string | URL, id?: string): Promise<ActorRef<D>>
  /**
   * Persistent kinds only: applies `event` to the state now and appends it to the journal when the
   * turn ends, before the reply, the sends and the publishes of the turn leave.
   */
  persist(event: unknown): void
  /** Publishes to a topic through the kernel's broker (held back until a persistent turn commits). */
  publish(topic: string, msg: unknown, options?: PublishOptions): void
  /** Stops this actor after the current message; queued messages go to dead letters. */
  stop(): void
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the widest definition, only as a bound
export type AnyActorDefinition = ActorDefinition<any, any>

type HandlersOf<D> = D extends { readonly handlers: infer H } ? H : never

/** `[msg, options]` for a handler: the message is optional when the handler takes none (or `void`). */
export type CallArgs<F, O> = F extends (...args: infer P) => unknown
  ? P extends []
    ? [msg?: undefined, options?: O]
    : P extends [infer M, ...unknown[]]
      ? [M] extends [undefined]
        ? [msg?: M, options?: O]
        : [msg: M, options?: O]
      : [msg?: unknown, options?: O]
  : never

export type ReplyOf<F> = F extends (...args: never[]) => infer R ? Awaited<R> : never

/** Handler names of a definition (string keys only). */
export type HandlerName<D> = Extract<keyof HandlersOf<D>, string>

/** Options of `ref.stream`: a deadline for the stream to be accepted, metadata, the window. */
export interface StreamOptions extends SendOptions {
  timeout?: number
  deadline?: number
  /** Messages each side may have in flight to the other (default 64). */
  window?: number
}

/** The caller's view of a streaming handler `(stream: Stream<In, Out>, ctx) => ...`: it reads Out, sends In. */
export type CallerStream<F> = F extends (stream: Stream<infer In, infer Out>, ...rest: never[]) => unknown
  ? Stream<Out, In>
  : Stream<unknown, unknown>

/** A handle to an address. Typed by its definition; untyped refs accept any handler and reply `unknown`. */
export interface ActorRef<D extends AnyActorDefinition = AnyActorDefinition> {
  readonly address: string
  send<K extends HandlerName<D>>(handler: K, ...args: CallArgs<HandlersOf<D>[K], SendOptions>): void
  ask<K extends HandlerName<D>>(
    handler: K,
    ...args: CallArgs<HandlersOf<D>[K], AskOptions>
  ): Promise<ReplyOf<HandlersOf<D>[K]>>
  /** Opens a bidirectional stream to a streaming handler (one that takes a Stream as its message). */
  stream<K extends HandlerName<D>>(handler: K, options?: StreamOptions): CallerStream<HandlersOf<D>[K]>
}
