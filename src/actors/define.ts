/**
 * defineActor: checks a definition once, when it is written, and records the URL of the module that
 * defines it so worker threads can import the same definition. Capturing the caller's file from a
 * structured stack trace is what lets `kernel.spawn(counter)` work without the user passing a URL;
 * an explicit `module` wins. A definition used on workers must live in a module without import-time
 * side effects (workers import it).
 */
import { BadRequestError, ErrorCode } from '../errors.ts'
import { pathToFileURL } from 'node:url'
import type { AnyStateMachine, EventFromLogic, SnapshotFrom } from 'xstate'
import type { ActorContext, ActorDefinition, HandlerMap } from './types.ts'
import { machineHandlers, type MachineReply } from './machine.ts'

export const KIND_PATTERN = /^[A-Za-z0-9_.-]{1,128}$/

/** The fields of a definition whose handlers see state `S` (inferred from `initial`). */
export type DefinitionInput<S, H> = Omit<ActorDefinition<S, HandlerMap<S>>, 'handlers'> & {
  readonly initial?: (id: string) => S
  readonly handlers: H & { readonly [K in keyof H]: (msg: never, ctx: ActorContext<S>) => unknown }
}

/** A machine kind: `machine` instead of `handlers`, `initial` and `apply`. */
export type MachineDefinitionInput<M extends AnyStateMachine> = Omit<
  ActorDefinition<SnapshotFrom<M>>,
  'handlers' | 'initial' | 'apply' | 'machine'
> & { readonly machine: M }

/** The handlers a machine kind gets: one per event type (its other fields are the message), and `snapshot`. */
export type MachineHandlers<M extends AnyStateMachine> = {
  readonly [E in EventFromLogic<M> as E['type']]: (
    msg: keyof Omit<E, 'type'> extends never ? void : Omit<E, 'type'>,
    ctx: ActorContext<SnapshotFrom<M>>,
  ) => MachineReply
} & { readonly snapshot: (msg: void, ctx: ActorContext<SnapshotFrom<M>>) => MachineReply }

export function defineActor<M extends AnyStateMachine>(
  definition: MachineDefinitionInput<M>,
): ActorDefinition<SnapshotFrom<M>, MachineHandlers<M>>
export function defineActor<S = undefined, H extends HandlerMap<S> = HandlerMap<S>>(
  definition: DefinitionInput<S, H>,
): ActorDefinition<S, H>
export function defineActor(definition: object): ActorDefinition {
  const input = definition as Partial<ActorDefinition> & { kind: string }
  let full: unknown = definition
  if (input.machine !== undefined) {
    if (input.handlers !== undefined || input.apply !== undefined || input.initial !== undefined) {
      throw new BadRequestError(
        ErrorCode.INVALID_OPTIONS,
        `invalid actor definition: ${String(input.kind)}: machine replaces handlers, initial and apply`,
      )
    }
    const machine = input.machine as unknown
    if (typeof machine !== 'object' || machine === null || !('root' in machine)) {
      throw new BadRequestError(
        ErrorCode.INVALID_OPTIONS,
        `invalid actor definition: ${String(input.kind)}: machine must be an xstate machine`,
      )
    }
    full = { ...definition, handlers: machineHandlers(String(input.kind), input.machine) }
  }
  validateDefinition(full)
  const module = full.module ?? callerModuleUrl()
  return Object.freeze({ ...full, module })
}

export function validateDefinition(definition: unknown): asserts definition is ActorDefinition {
  const d = definition as Partial<ActorDefinition> | null
  const fail = (why: string): never => {
    throw new BadRequestError(ErrorCode.INVALID_OPTIONS, `invalid actor definition: ${why}`)
  }
  if (typeof d !== 'object' || d === null) fail('not an object')
  if (typeof d!.kind !== 'string' || !KIND_PATTERN.test(d!.kind)) fail(`kind must match ${KIND_PATTERN}`)
  if (typeof d!.handlers !== 'object' || d!.handlers === null) fail(`${d!.kind}: handlers must be an object`)
  for (const [name, fn] of Object.entries(d!.handlers as object)) {
    if (typeof fn !== 'function') fail(`${d!.kind}: handler ${name} is not a function`)
    if (name.startsWith('$')) fail(`${d!.kind}: handler names starting with $ are reserved`)
  }
  if (d!.initial !== undefined && typeof d!.initial !== 'function')
    fail(`${d!.kind}: initial must be a function`)
  if (d!.thread !== undefined && d!.thread !== 'main') fail(`${d!.kind}: thread must be 'main' when given`)
  for (const n of ['turnTimeoutMs', 'throughput'] as const) {
    const v = d![n]
    if (v !== undefined && !(Number.isFinite(v) && v > 0)) fail(`${d!.kind}: ${n} must be a positive number`)
  }
  const apply = d!.apply as unknown
  if (apply !== undefined) {
    const table = typeof apply === 'object' && apply !== null
    if (typeof apply !== 'function' && !table) fail(`${d!.kind}: apply must be a function or an object`)
    if (table)
      for (const [type, fn] of Object.entries(apply))
        if (typeof fn !== 'function') fail(`${d!.kind}: apply.${type} is not a function`)
  }
  const schemas = d!.schemas as unknown
  if (schemas !== undefined) {
    if (typeof schemas !== 'object' || schemas === null) fail(`${d!.kind}: schemas must be an object`)
    for (const [name, schema] of Object.entries(schemas as object)) {
      if (!(name in d!.handlers!)) fail(`${d!.kind}: schemas.${name} names no handler`)
      if (typeof schema !== 'object' || schema === null) fail(`${d!.kind}: schemas.${name} must be an object`)
      for (const part of ['request', 'response'] as const) {
        const v = (schema as Record<string, unknown>)[part]
        if (v !== undefined && (typeof v !== 'object' || v === null))
          fail(`${d!.kind}: schemas.${name}.${part} must be a schema object`)
      }
    }
  }
  const every = d!.snapshotEvery
  if (every !== undefined && !(Number.isInteger(every) && every > 0))
    fail(`${d!.kind}: snapshotEvery must be a positive integer`)
  if (every !== undefined && apply === undefined && d!.machine === undefined)
    fail(`${d!.kind}: snapshotEvery needs apply or machine`)
  const mb = d!.mailbox
  if (mb?.capacity !== undefined && !(Number.isInteger(mb.capacity) && mb.capacity > 0)) {
    fail(`${d!.kind}: mailbox.capacity must be a positive integer`)
  }
  if (mb?.overflow !== undefined && !['reject', 'drop-newest', 'drop-oldest'].includes(mb.overflow)) {
    fail(`${d!.kind}: mailbox.overflow must be reject, drop-newest or drop-oldest`)
  }
}

/** The file URL of the module that called defineActor (first frame outside this file). */
function callerModuleUrl(): string | undefined {
  const original = Error.prepareStackTrace
  const holder: { stack?: NodeJS.CallSite[] } = {}
  try {
    Error.prepareStackTrace = (_err, frames) => frames
    Error.captureStackTrace(holder, defineActor)
    const frames = holder.stack ?? []
    for (const frame of frames) {
      const file = frame.getFileName()
      if (!file || file.startsWith('node:')) continue
      return file.startsWith('file:') ? file : pathToFileURL(file).href
    }
    return undefined
  } finally {
    Error.prepareStackTrace = original
  }
}
