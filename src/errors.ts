/**
 * The error catalogue. Every failure that crosses a boundary (thread, socket, NATS) is a MicaError in
 * Go Micro's shape `{ id, code, detail, status }`: `status` is the HTTP status, `code` a stable string
 * naming the failure (the catalogue below), `id` where it came from, `detail` for humans. One class per
 * status; `MicaError.fromWire` rebuilds the same class on the far side (errors are data on the wire).
 */

/** Stable codes: never renamed, documented in the README (a test checks both directions). */
export const ErrorCode = {
  BAD_REQUEST: 'bad_request',
  INVALID_ADDRESS: 'invalid_address',
  INVALID_OPTIONS: 'invalid_options',
  ENCODE_FAILED: 'encode_failed',
  DECODE_FAILED: 'decode_failed',
  UNKNOWN_CONTENT_TYPE: 'unknown_content_type',
  MESSAGE_TOO_LARGE: 'message_too_large',
  UNAUTHORIZED: 'unauthorized',
  FORBIDDEN: 'forbidden',
  KIND_NOT_FOUND: 'kind_not_found',
  ACTOR_NOT_FOUND: 'actor_not_found',
  HANDLER_NOT_FOUND: 'handler_not_found',
  TIMEOUT: 'timeout',
  CONFLICT: 'conflict',
  MAILBOX_FULL: 'mailbox_full',
  BULKHEAD_FULL: 'bulkhead_full',
  ABORTED: 'aborted',
  INTERNAL: 'internal',
  HANDLER_ERROR: 'handler_error',
  UNAVAILABLE: 'unavailable',
  WORKER_CRASHED: 'worker_crashed',
  CONNECTION_LOST: 'connection_lost',
  CIRCUIT_OPEN: 'circuit_open',
  ACTOR_STOPPED: 'actor_stopped',
  KERNEL_STOPPED: 'kernel_stopped',
} as const
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

/** The plain-data form that travels on the wire. */
export interface WireError {
  id: string
  code: string
  detail: string
  status: number
}

/**
 * Failures a caller may retry (on another node, or later) without risk of running a handler twice:
 * the message was refused before any handler saw it. A crashed worker or a lost connection may have
 * run it, so those are not retryable.
 */
const RETRYABLE = new Set<string>([
  ErrorCode.UNAVAILABLE,
  ErrorCode.KERNEL_STOPPED,
  ErrorCode.MAILBOX_FULL,
  ErrorCode.ACTOR_STOPPED,
])

/**
 * Failures that prove no handler saw the message, retryable or not: the retryable ones, plus a kind
 * hosted nowhere (another node may host it) and a service client's open circuit (nothing was sent).
 * The service client retries these on another node (`reachedNoHandler`); the kernel only RETRYABLE.
 */
const BEFORE_HANDLER = new Set<string>([...RETRYABLE, ErrorCode.KIND_NOT_FOUND, ErrorCode.CIRCUIT_OPEN])

/** The `id`s of errors the runtime raises itself (besides actor addresses, `kind/id`). */
const RUNTIME_IDS = new Set([
  'mica',
  'kernel',
  'client',
  'selector',
  'registry',
  'transport',
  'broker',
  'journal',
  'jetstream', // the JetStream broker's connection errors
  'codec',
])

/**
 * Whether an error with this `id` was raised by the runtime: `mica` (the default), a plugin family
 * (`registry`, `transport`, ...) or an actor address (`kind/id`, the refusals of a mailbox). A
 * handler's own error with a retryable code is stamped with its endpoint (`Kind.handler`, see
 * actors/cell.ts), a service handler's with the service name: those ran a handler, so they are not
 * retryable even with the code `unavailable`.
 */
export function isRuntimeErrorId(id: string): boolean {
  return RUNTIME_IDS.has(id) || id.includes('/')
}

/**
 * True when the error proves no handler ran: a before-handler code (BEFORE_HANDLER) raised by the
 * runtime (isRuntimeErrorId: `mica`, a plugin family, the client's machinery, or an actor address —
 * a mailbox that was full, an actor that had stopped). Every `retryable` error is one; the same code
 * from a handler is not (leftHandler stamps it with the endpoint). The service client's
 * `reachedNoHandler` is this rule.
 */
export function noHandlerRan(error: MicaError): boolean {
  return BEFORE_HANDLER.has(error.code) && isRuntimeErrorId(error.id)
}

/**
 * A handler's error as its caller gets it. One that looks like the runtime's own refusal — the
 * runtime's id `mica`, or a before-handler code with a runtime id (a handler's own
 * `errors.unavailable(...)`, a downstream refusal it rethrew — a full mailbox, an open circuit — or a
 * failed journal append) — is stamped with the endpoint `Kind.handler` as its `id`: the handler ran,
 * so neither the kernel (`retryable`) nor the service client (`reachedNoHandler`) may run it again,
 * on whatever thread it ran.
 */
export function leftHandler(error: MicaError, endpoint: string): MicaError {
  return error.id === 'mica' || noHandlerRan(error) ? error.withId(endpoint) : error
}

export class MicaError extends Error implements WireError {
  readonly id: string
  readonly code: string
  readonly detail: string
  readonly status: number

  constructor(status: number, code: string, detail: string, id = 'mica', options?: { cause?: unknown }) {
    // MicaErrors are data (they are rebuilt on the far side of the wire, where no stack exists);
    // capturing a stack costs more than the ask that fails. A wrapped error keeps its own in `cause`.
    const limit = Error.stackTraceLimit
    Error.stackTraceLimit = 0
    super(detail, options)
    Error.stackTraceLimit = limit
    this.id = id
    this.code = code
    this.detail = detail
    this.status = status
  }

  override get name(): string {
    return this.constructor.name
  }

  /** A refusal by the runtime before any handler ran, worth retrying (RETRYABLE, see noHandlerRan). */
  get retryable(): boolean {
    return RETRYABLE.has(this.code) && isRuntimeErrorId(this.id)
  }

  toWire(): WireError {
    return { id: this.id, code: this.code, detail: this.detail, status: this.status }
  }

  /**
   * The same error (class, code, detail, status, cause) under another `id`: whose answer it is. A
   * handler's error is stamped with its endpoint or its service this way (see isRuntimeErrorId).
   */
  withId(id: string): MicaError {
    if (id === this.id) return this
    return MicaError.#build(this.toWire(), id, this.cause === undefined ? undefined : { cause: this.cause })
  }

  /** Rebuilds the class for `status`; anything malformed becomes an InternalError saying so. */
  static fromWire(value: unknown): MicaError {
    if (!isWireError(value)) {
      return new InternalError(ErrorCode.DECODE_FAILED, 'malformed error reply')
    }
    return MicaError.#build(value, value.id, undefined)
  }

  static #build(w: WireError, id: string, options: { cause?: unknown } | undefined): MicaError {
    const Class = CLASS_BY_STATUS.get(w.status)
    if (Class) return new Class(w.code, w.detail, id, options)
    return new MicaError(w.status, w.code, w.detail, id, options)
  }

  /** Any thrown value as a MicaError: MicaErrors pass through, the rest become a handler error (500). */
  static from(thrown: unknown, id = 'mica'): MicaError {
    if (thrown instanceof MicaError) return thrown
    const detail = thrown instanceof Error ? thrown.message : String(thrown)
    return new InternalError(ErrorCode.HANDLER_ERROR, detail, id, { cause: thrown })
  }
}

function isWireError(value: unknown): value is WireError {
  if (typeof value !== 'object' || value === null) return false
  const v = value as Record<string, unknown>
  return (
    typeof v.code === 'string' &&
    typeof v.detail === 'string' &&
    typeof v.id === 'string' &&
    typeof v.status === 'number' &&
    Number.isInteger(v.status)
  )
}

type StatusClass = new (
  code?: string,
  detail?: string,
  id?: string,
  options?: { cause?: unknown },
) => MicaError

function statusClass(status: number, defaultCode: ErrorCode): StatusClass {
  return class extends MicaError {
    constructor(code: string = defaultCode, detail = code, id?: string, options?: { cause?: unknown }) {
      super(status, code, detail, id, options)
    }
  }
}

export class BadRequestError extends statusClass(400, ErrorCode.BAD_REQUEST) {}
export class UnauthorizedError extends statusClass(401, ErrorCode.UNAUTHORIZED) {}
export class ForbiddenError extends statusClass(403, ErrorCode.FORBIDDEN) {}
export class NotFoundError extends statusClass(404, ErrorCode.ACTOR_NOT_FOUND) {}
export class TimeoutError extends statusClass(408, ErrorCode.TIMEOUT) {}
export class ConflictError extends statusClass(409, ErrorCode.CONFLICT) {}
export class TooManyRequestsError extends statusClass(429, ErrorCode.MAILBOX_FULL) {}
/** 499, nginx's "client closed request": the caller aborted through its AbortSignal. */
export class AbortedError extends statusClass(499, ErrorCode.ABORTED) {}
export class InternalError extends statusClass(500, ErrorCode.INTERNAL) {}
export class UnavailableError extends statusClass(503, ErrorCode.UNAVAILABLE) {}

const CLASS_BY_STATUS = new Map<number, StatusClass>([
  [400, BadRequestError],
  [401, UnauthorizedError],
  [403, ForbiddenError],
  [404, NotFoundError],
  [408, TimeoutError],
  [409, ConflictError],
  [429, TooManyRequestsError],
  [499, AbortedError],
  [500, InternalError],
  [503, UnavailableError],
])

/** Go Micro-style constructors: `errors.notFound(id, detail)`. */
export const errors = {
  badRequest: (detail: string, id?: string) => new BadRequestError(ErrorCode.BAD_REQUEST, detail, id),
  unauthorized: (detail: string, id?: string) => new UnauthorizedError(ErrorCode.UNAUTHORIZED, detail, id),
  forbidden: (detail: string, id?: string) => new ForbiddenError(ErrorCode.FORBIDDEN, detail, id),
  notFound: (detail: string, id?: string) => new NotFoundError(ErrorCode.ACTOR_NOT_FOUND, detail, id),
  timeout: (detail: string, id?: string) => new TimeoutError(ErrorCode.TIMEOUT, detail, id),
  conflict: (detail: string, id?: string) => new ConflictError(ErrorCode.CONFLICT, detail, id),
  tooManyRequests: (detail: string, id?: string) =>
    new TooManyRequestsError(ErrorCode.MAILBOX_FULL, detail, id),
  internal: (detail: string, id?: string) => new InternalError(ErrorCode.INTERNAL, detail, id),
  unavailable: (detail: string, id?: string) => new UnavailableError(ErrorCode.UNAVAILABLE, detail, id),
} as const
