/**
 * Resolving `spawn(definition | moduleUrl)` to a definition. A module names its kind by its default
 * export, or by being the only definition it exports; `#kind` after the URL picks one of several.
 */
import { pathToFileURL } from 'node:url'
import { BadRequestError, ErrorCode, NotFoundError } from '../errors.ts'
import { validateDefinition } from '../actors/define.ts'
import type { ActorDefinition, AnyActorDefinition } from '../actors/types.ts'

export function isDefinition(value: unknown): value is ActorDefinition {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { kind?: unknown }).kind === 'string' &&
    typeof (value as { handlers?: unknown }).handlers === 'object'
  )
}

export function moduleHref(spec: string | URL): string {
  if (spec instanceof URL) return spec.href
  if (/^[a-z][a-z0-9+.-]*:/i.test(spec)) return spec
  return pathToFileURL(spec).href
}

/** Imports a module and picks the definition (of `kind` when given). */
export async function loadDefinition(spec: string | URL, kind?: string): Promise<ActorDefinition> {
  const href = moduleHref(spec)
  const hash = href.indexOf('#')
  const url = hash === -1 ? href : href.slice(0, hash)
  const wanted = kind ?? (hash === -1 ? undefined : decodeURIComponent(href.slice(hash + 1)))
  let mod: Record<string, unknown>
  try {
    mod = (await import(url)) as Record<string, unknown>
  } catch (err) {
    throw new BadRequestError(
      ErrorCode.INVALID_OPTIONS,
      `cannot import actor module ${url}: ${String(err)}`,
      'kernel',
      {
        cause: err,
      },
    )
  }
  const defs = Object.entries(mod).filter(([, v]) => isDefinition(v)) as [string, ActorDefinition][]
  const pick =
    wanted !== undefined
      ? defs.find(([, d]) => d.kind === wanted)
      : (defs.find(([name]) => name === 'default') ?? (defs.length === 1 ? defs[0] : undefined))
  if (pick === undefined) {
    const why =
      wanted !== undefined ? `no definition of kind ${wanted}` : 'no default or single actor definition'
    throw new NotFoundError(ErrorCode.KIND_NOT_FOUND, `${url}: ${why}`)
  }
  const def = pick[1]
  validateDefinition(def)
  return def.module === undefined ? { ...def, module: url } : def
}

export async function resolveDefinition(spec: AnyActorDefinition | string | URL): Promise<ActorDefinition> {
  if (typeof spec === 'string' || spec instanceof URL) return loadDefinition(spec)
  validateDefinition(spec)
  return spec
}
