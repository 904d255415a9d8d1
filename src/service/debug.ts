/**
 * `Debug.Health` and `Debug.Stats`: a kind every service node hosts, answered through the ordinary
 * call path (`client.call('greeter', 'Debug.Health')` reaches one node; `selectOptions` picks which).
 * Health says the node is up; Stats adds uptime, memory, live actors, the deepest mailboxes and the
 * per-endpoint request counts of this node's handlers. The kind runs on the main thread (`thread:
 * 'main'`) whatever the worker count: it reads the kernel, which lives there.
 */
import { memoryUsage } from 'node:process'
import { defineActor } from '../actors/define.ts'
import type { ActorDefinition } from '../actors/types.ts'
import type { Kernel } from '../kernel/kernel.ts'
import type { MetricsSnapshot } from './wrappers/metrics.ts'

export const DEBUG_KIND = 'Debug'
export const DEBUG_ENDPOINTS = [`${DEBUG_KIND}.Health`, `${DEBUG_KIND}.Stats`] as const

export interface Health {
  status: 'ok'
  service: string
  version: string
  node: string
  uptimeMs: number
}

export interface Stats extends Health {
  memory: { rss: number; heapUsed: number; heapTotal: number; external: number }
  actors: number
  pendingAsks: number
  streams: number
  deadLetters: number
  /** The deepest mailboxes (at most 10). */
  mailboxes: { address: string; depth: number }[]
  /**
   * Requests and errors per endpoint handled on this node (every thread); `totalMs` where the
   * service's own counting wrapper timed them: workers: 0 (it lives on the main thread; wrappers a
   * module gives wrapDefinition on a worker are the module's, not the service's).
   */
  endpoints: Record<string, { count: number; errors: number; totalMs?: number }>
}

export interface DebugSource {
  readonly service: string
  readonly version: string
  readonly kernel: Kernel
  readonly startedAt: number
  metrics(): MetricsSnapshot
}

export function debugDefinition(source: DebugSource): ActorDefinition {
  const health = (): Health => ({
    status: 'ok',
    service: source.service,
    version: source.version,
    node: source.kernel.nodeId,
    uptimeMs: source.kernel.clock.now() - source.startedAt,
  })
  return defineActor({
    kind: DEBUG_KIND,
    thread: 'main',
    handlers: {
      Health: (): Health => health(),
      Stats: async (): Promise<Stats> => {
        const stats = await source.kernel.stats()
        const m = memoryUsage()
        const endpoints: Stats['endpoints'] = {}
        for (const [name, c] of Object.entries(stats.handlers)) {
          if (!name.startsWith(`${DEBUG_KIND}.`)) endpoints[name] = { count: c.count, errors: c.errors }
        }
        for (const [name, e] of Object.entries(source.metrics().handler)) {
          endpoints[name] = { count: e.count, errors: e.errors, totalMs: e.totalMs }
        }
        return {
          ...health(),
          memory: { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external },
          actors: stats.actors,
          pendingAsks: stats.pendingAsks,
          streams: stats.streams,
          deadLetters: stats.deadLetters,
          mailboxes: stats.mailboxes,
          endpoints,
        }
      },
    },
  })
}
