/**
 * The checks at the kernel's door, as pure functions: whether a message may enter (kernel state,
 * kind hosted, handler known), an ask's deadline, and whether a definition may take a kind's name.
 */
import {
  BadRequestError,
  ConflictError,
  ErrorCode,
  NotFoundError,
  UnavailableError,
  type MicaError,
} from '../errors.ts'
import type { KindEntry } from '../actors/kind.ts'
import type { ActorDefinition, AskOptions } from '../actors/types.ts'
import type { Address } from './address.ts'

export type KernelState = 'running' | 'stopping' | 'stopped'

export interface Refusal {
  readonly reason: 'kernel-stopped' | 'kind-not-found' | 'handler-not-found'
  readonly error: MicaError
}

/** Why `to`/`handler` cannot enter here, if it cannot. While draining, actors may still talk to each other. */
export function refusal(
  state: KernelState,
  kinds: ReadonlyMap<string, KindEntry>,
  nodeId: string,
  to: Address,
  handler: string,
  fromActor: boolean,
): Refusal | undefined {
  if (state === 'stopped' || (state === 'stopping' && !fromActor)) {
    return {
      reason: 'kernel-stopped',
      error: new UnavailableError(ErrorCode.KERNEL_STOPPED, 'kernel stopped'),
    }
  }
  const kind = kinds.get(to.kind)
  if (kind === undefined || (to.node !== undefined && to.node !== nodeId)) {
    const where = to.node === undefined ? '' : ` on node ${to.node}`
    return {
      reason: 'kind-not-found',
      error: new NotFoundError(ErrorCode.KIND_NOT_FOUND, `no kind ${to.kind}${where}`),
    }
  }
  if (typeof handler !== 'string' || kind.handler(handler) === undefined) {
    const detail = `${to.kind} has no handler ${String(handler)}`
    return { reason: 'handler-not-found', error: new NotFoundError(ErrorCode.HANDLER_NOT_FOUND, detail) }
  }
  return undefined
}

/** An ask's deadline: absolute (epoch ms), or a negative timeout anchored to the clock when needed. */
export function askDeadline(options: AskOptions | undefined, defaultTimeoutMs: number): number {
  if (options?.deadline !== undefined) {
    if (!(Number.isFinite(options.deadline) && options.deadline > 0)) {
      throw new BadRequestError(ErrorCode.BAD_REQUEST, 'deadline must be epoch ms')
    }
    return options.deadline
  }
  const timeout = options?.timeout ?? defaultTimeoutMs
  if (!(Number.isFinite(timeout) && timeout > 0)) {
    throw new BadRequestError(ErrorCode.BAD_REQUEST, 'timeout must be a positive number of ms')
  }
  return -timeout
}

/** The hosted definition, when `def` is the same one (or from the same module); else a 409. */
export function sameKind(known: KindEntry, def: ActorDefinition): ActorDefinition {
  if (known.definition === def || (def.module !== undefined && known.definition.module === def.module)) {
    return known.definition
  }
  throw new ConflictError(ErrorCode.CONFLICT, `kind ${def.kind} is already hosted with another definition`)
}
