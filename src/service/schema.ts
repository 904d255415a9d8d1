/**
 * Endpoint schemas: a small JSON Schema subset (type, properties, required, items, enum, string
 * lengths, number bounds) that describes a handler's request and response. It travels in the
 * endpoint's registry metadata as JSON, and the validation wrapper checks requests against it,
 * answering a 400 that names the first failing field (never a crash on odd input).
 */
import { BadRequestError, ErrorCode } from '../errors.ts'
import type { AnyActorDefinition } from '../actors/types.ts'

export type SchemaType = 'object' | 'array' | 'string' | 'number' | 'integer' | 'boolean' | 'null'

export interface Schema {
  type?: SchemaType
  properties?: Readonly<Record<string, Schema>>
  required?: readonly string[]
  /** Objects only: `false` refuses fields not in `properties`. */
  additionalProperties?: boolean
  items?: Schema
  enum?: readonly (string | number | boolean | null)[]
  minLength?: number
  maxLength?: number
  minimum?: number
  maximum?: number
  description?: string
}

/** A handler's request and response descriptions. */
export interface EndpointSchema {
  request?: Schema
  response?: Schema
}

export type EndpointSchemas = Readonly<Record<string, EndpointSchema | undefined>>

/** A definition's own `schemas`, with those given to `handle` (or `wrapDefinition`) on top, per handler. */
export function definitionSchemas(
  definition: AnyActorDefinition,
  given: EndpointSchemas | undefined,
): EndpointSchemas | undefined {
  const own = definition.schemas as EndpointSchemas | undefined
  if (own === undefined) return given
  return given === undefined ? own : { ...own, ...given }
}

/** Deepest nesting checked: a schema or value deeper than this is refused rather than recursed into. */
const MAX_DEPTH = 32

/** The first way `value` breaks `schema`, as `{ field, problem }`, or undefined when it fits. */
export function schemaViolation(
  schema: Schema,
  value: unknown,
  field = '',
  depth = 0,
): { field: string; problem: string } | undefined {
  const at = (problem: string) => ({ field: field === '' ? '(root)' : field, problem })
  if (depth > MAX_DEPTH) return at('is nested too deeply')
  if (schema.type !== undefined && !hasType(schema.type, value)) return at(`must be ${article(schema.type)}`)
  if (schema.enum !== undefined && !schema.enum.includes(value as string)) {
    return at(`must be one of ${schema.enum.map((v) => JSON.stringify(v)).join(', ')}`)
  }
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength)
      return at(`must be at least ${schema.minLength} characters`)
    if (schema.maxLength !== undefined && value.length > schema.maxLength)
      return at(`must be at most ${schema.maxLength} characters`)
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) return at(`must be >= ${schema.minimum}`)
    if (schema.maximum !== undefined && value > schema.maximum) return at(`must be <= ${schema.maximum}`)
  }
  if (Array.isArray(value) && schema.items !== undefined) {
    for (let i = 0; i < value.length; i++) {
      const v = schemaViolation(schema.items, value[i], `${field}[${i}]`, depth + 1)
      if (v !== undefined) return v
    }
  }
  if (isObject(value)) {
    const join = (k: string) => (field === '' ? k : `${field}.${k}`)
    for (const name of schema.required ?? []) {
      if (!Object.hasOwn(value, name) || value[name] === undefined)
        return { field: join(name), problem: 'is required' }
    }
    for (const [name, sub] of Object.entries(schema.properties ?? {})) {
      if (!Object.hasOwn(value, name) || value[name] === undefined) continue
      const v = schemaViolation(sub, value[name], join(name), depth + 1)
      if (v !== undefined) return v
    }
    if (schema.additionalProperties === false) {
      const extra = Object.keys(value).find((k) => !Object.hasOwn(schema.properties ?? {}, k))
      if (extra !== undefined) return { field: join(extra), problem: 'is not allowed' }
    }
  }
  return undefined
}

/** Throws a BadRequestError (400) naming the failing field of a request. */
export function checkRequest(endpoint: string, schema: Schema, value: unknown): void {
  const v = schemaViolation(schema, value)
  if (v !== undefined) {
    throw new BadRequestError(ErrorCode.BAD_REQUEST, `${endpoint}: request field ${v.field} ${v.problem}`)
  }
}

function hasType(type: SchemaType, value: unknown): boolean {
  switch (type) {
    case 'object':
      return isObject(value)
    case 'array':
      return Array.isArray(value)
    case 'integer':
      return Number.isInteger(value)
    case 'number':
      return typeof value === 'number' && Number.isFinite(value)
    case 'null':
      return value === null
    default:
      return typeof value === type
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function article(type: SchemaType): string {
  return type === 'null' ? 'null' : `${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type}`
}
