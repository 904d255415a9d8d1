/**
 * A circuit breaker per node (client side): `closed` passes calls; after `failures` consecutive
 * failures it opens and the client skips the node; after `coolDownMs` it is `half-open` and lets one
 * probe through — a success closes it, a failure opens it again for another cool-down. Time comes
 * from the injected Clock, so tests walk the states by hand.
 */
import type { Clock } from '../clock.ts'

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit (default 5). */
  failures?: number
  /** How long an open circuit stays open before a probe (default 10,000 ms). */
  coolDownMs?: number
}

export const DEFAULT_BREAKER_FAILURES = 5
export const DEFAULT_BREAKER_COOL_DOWN_MS = 10_000
/** Nodes remembered at most (the oldest closed ones are forgotten first). */
const MAX_NODES = 10_000

export type CircuitState = 'closed' | 'open' | 'half-open'

interface Circuit {
  failures: number
  openedAt: number
  /** Half-open: a probe is in flight, so other calls still skip the node. */
  probing: boolean
}

export class CircuitBreakers {
  readonly #failures: number
  readonly #coolDownMs: number
  readonly #clock: Clock
  readonly #circuits = new Map<string, Circuit>()

  constructor(options: Required<CircuitBreakerOptions>, clock: Clock) {
    this.#failures = options.failures
    this.#coolDownMs = options.coolDownMs
    this.#clock = clock
  }

  state(nodeId: string): CircuitState {
    const c = this.#circuits.get(nodeId)
    if (c === undefined || c.failures < this.#failures) return 'closed'
    return this.#clock.now() - c.openedAt >= this.#coolDownMs ? 'half-open' : 'open'
  }

  /** Whether a call may go to the node now (a half-open node takes one probe at a time). */
  allows(nodeId: string): boolean {
    const state = this.state(nodeId)
    if (state === 'closed') return true
    if (state === 'open') return false
    return !this.#circuits.get(nodeId)!.probing
  }

  /** Marks the call about to go out: on a half-open node it is the probe. */
  acquire(nodeId: string): void {
    if (this.state(nodeId) === 'half-open') this.#circuits.get(nodeId)!.probing = true
  }

  success(nodeId: string): void {
    this.#circuits.delete(nodeId)
  }

  failure(nodeId: string): void {
    let c = this.#circuits.get(nodeId)
    if (c === undefined) {
      if (this.#circuits.size >= MAX_NODES) this.#forgetClosed()
      c = { failures: 0, openedAt: 0, probing: false }
      this.#circuits.set(nodeId, c)
    }
    const wasProbe = c.probing
    c.probing = false
    c.failures = wasProbe ? this.#failures : c.failures + 1
    if (c.failures >= this.#failures) c.openedAt = this.#clock.now()
  }

  #forgetClosed(): void {
    for (const [id, c] of this.#circuits) if (c.failures < this.#failures) this.#circuits.delete(id)
    if (this.#circuits.size >= MAX_NODES) this.#circuits.clear()
  }
}
