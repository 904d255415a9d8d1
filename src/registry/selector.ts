/**
 * Client-side load balancing (Go Micro's `selector`): given the records a registry lookup returned,
 * apply filters, drop nodes that recently failed, and let a strategy pick one node.
 *
 * Filters narrow the services (`Filter`), strategies pick (`./strategy.ts`): both plain functions,
 * chosen once at construction. A keyed call (a keyed actor) goes to the `keyed` strategy, rendezvous
 * hashing by default, so one key keeps landing on one node. A node the caller saw fail is marked
 * down for a backoff that doubles while it keeps failing (`markDown`), and healed by a success
 * (`markUp`). Time comes from the injected Clock, so tests drive backoff by hand.
 */
import { systemClock, type Clock } from '../clock.ts'
import { BadRequestError, ErrorCode, UnavailableError } from '../errors.ts'
import { random, rendezvous, type Strategy } from './strategy.ts'

export { random, rendezvous, roundRobin, hash53, type Strategy } from './strategy.ts'
import type { RegistryNode, Service as RegistryService } from './registry.ts'

// Structural mirrors of the registry's value types (Go Micro's shape, only the fields selection
// reads), so the registry's own records are accepted as they are.
/** A node and a service as the selector needs them: the registry's records (endpoints not needed). */
export type Node = RegistryNode
export type Service = Pick<RegistryService, 'name' | 'version' | 'metadata' | 'nodes'>

/** Narrows services; returns new arrays and objects, never edits its input. */
export type Filter = (services: readonly Service[]) => Service[]

/** Services of exactly this version. */
export function byVersion(version: string): Filter {
  return (services) => services.filter((s) => s.version === version)
}

/** Services whose own (service-level) metadata has `key` equal to `value`; their nodes as they are. */
export function byServiceMetadata(key: string, value: string): Filter {
  return (services) => services.filter((s) => hasEntry(s.metadata, key, value))
}

/** Nodes whose own (node-level) metadata has `key` equal to `value`; services left with none drop out. */
export function byNodeMetadata(key: string, value: string): Filter {
  return (services) =>
    services
      .map((s) => ({ ...s, nodes: s.nodes.filter((n) => hasEntry(n.metadata, key, value)) }))
      .filter((s) => s.nodes.length > 0)
}

function hasEntry(metadata: Record<string, string>, key: string, value: string): boolean {
  return Object.hasOwn(metadata, key) && metadata[key] === value
}

export const DEFAULT_MARK_DOWN_MS = 5_000
export const DEFAULT_MAX_MARK_DOWN_MS = 60_000

export interface SelectorOptions {
  /** Picks for an unkeyed call. Default `random()`. */
  strategy?: Strategy
  /** Picks for a keyed call, given the key. Default `rendezvous()`. */
  keyed?: Strategy
  clock?: Clock
  /** How long a first failure keeps a node out. Default 5 s. */
  markDownMs?: number
  /** The cap on the doubling backoff. Default 60 s. */
  maxMarkDownMs?: number
}

export interface SelectOptions {
  /** Applied in order. */
  filters?: readonly Filter[]
  /** Routes through the keyed strategy: the same key, the same node, while membership is stable. */
  key?: string
}

interface Down {
  /** Consecutive failures in this streak (1 on the first markDown). */
  failures: number
  /** When the node is back in rotation. */
  until: number
}

export class Selector {
  readonly #strategy: Strategy
  readonly #keyed: Strategy
  readonly #clock: Clock
  readonly #markDownMs: number
  readonly #maxMarkDownMs: number
  readonly #down = new Map<string, Down>()

  constructor(options: SelectorOptions = {}) {
    const markDownMs = options.markDownMs ?? DEFAULT_MARK_DOWN_MS
    const maxMarkDownMs = options.maxMarkDownMs ?? DEFAULT_MAX_MARK_DOWN_MS
    if (!(Number.isFinite(markDownMs) && markDownMs > 0)) {
      throw invalid(`markDownMs must be a positive number, got ${markDownMs}`)
    }
    if (!(Number.isFinite(maxMarkDownMs) && maxMarkDownMs >= markDownMs)) {
      throw invalid(`maxMarkDownMs must be a number >= markDownMs (${markDownMs}), got ${maxMarkDownMs}`)
    }
    this.#strategy = options.strategy ?? random()
    this.#keyed = options.keyed ?? rendezvous()
    this.#clock = options.clock ?? systemClock
    this.#markDownMs = markDownMs
    this.#maxMarkDownMs = maxMarkDownMs
  }

  /** How long a first failure keeps a node out. */
  get markDownMs(): number {
    return this.#markDownMs
  }

  /** The cap on the doubling mark-down backoff. */
  get maxMarkDownMs(): number {
    return this.#maxMarkDownMs
  }

  /**
   * One node of `services` after `filters`, skipping nodes marked down. If every remaining node is
   * marked down, picks among all of them anyway: a node that may have recovered is a better bet than
   * a certain failure, and the caller's markUp/markDown keeps the bookkeeping right.
   * Throws UnavailableError (503) when no node is left.
   */
  select(services: readonly Service[], options: SelectOptions = {}): Node {
    const { filters = [], key } = options
    let matching: readonly Service[] = services
    for (const filter of filters) matching = filter(matching)
    const nodes = matching.flatMap((s) => s.nodes)
    if (nodes.length === 0) throw unavailable(services, filters.length)
    const now = this.#clock.now()
    const up = nodes.filter((n) => !this.#isDownAt(n.id, now))
    const candidates = up.length > 0 ? up : nodes
    const node = key === undefined ? this.#strategy(candidates) : this.#keyed(candidates, key)
    if (node === undefined)
      throw new UnavailableError(ErrorCode.UNAVAILABLE, 'strategy picked no node', 'selector')
    return node
  }

  /**
   * Takes a failed node out of rotation for markDownMs, doubling on each failure that follows its
   * return, up to maxMarkDownMs. A failure reported while it is already down (calls that were in
   * flight when it failed) does not extend the backoff. A streak ends with markUp, or on its own once
   * the node has been back for maxMarkDownMs without failing again (which also bounds the memory).
   */
  markDown(nodeId: string): void {
    const now = this.#clock.now()
    this.#forgetOld(now)
    const down = this.#down.get(nodeId)
    if (down !== undefined && now < down.until) return
    const failures = (down?.failures ?? 0) + 1
    const backoff = Math.min(this.#markDownMs * 2 ** Math.min(failures - 1, 52), this.#maxMarkDownMs)
    this.#down.set(nodeId, { failures, until: now + backoff })
  }

  /** A success: the node is back in rotation and its next failure starts a fresh streak. */
  markUp(nodeId: string): void {
    this.#down.delete(nodeId)
  }

  /** Whether `select` skips this node now (unless every node is down). */
  isDown(nodeId: string): boolean {
    return this.#isDownAt(nodeId, this.#clock.now())
  }

  #isDownAt(nodeId: string, now: number): boolean {
    const down = this.#down.get(nodeId)
    return down !== undefined && now < down.until
  }

  #forgetOld(now: number): void {
    for (const [id, down] of this.#down) {
      if (now >= down.until + this.#maxMarkDownMs) this.#down.delete(id)
    }
  }
}

function invalid(detail: string): BadRequestError {
  return new BadRequestError(ErrorCode.INVALID_OPTIONS, `selector options: ${detail}`, 'selector')
}

function unavailable(services: readonly Service[], filterCount: number): UnavailableError {
  const names = [...new Set(services.map((s) => s.name))].join(', ')
  const total = services.reduce((sum, s) => sum + s.nodes.length, 0)
  const detail =
    total === 0
      ? `no nodes to select from${names ? ` (services: ${names})` : ''}`
      : `none of the ${total} nodes of ${names} passed the ${filterCount} filter(s)`
  return new UnavailableError(ErrorCode.UNAVAILABLE, detail, 'selector')
}
