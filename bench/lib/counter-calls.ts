/**
 * The calls of bench:remote and bench:nats, the same for mica and Moleculer: `add { by: 1 }` to a
 * counter on the far node (many in flight spread over KEYS of mica's keyed counters, 1 in flight to
 * one), and the check at the stop that the far counters hold one add per call made.
 */
import type { ServiceBroker } from 'moleculer'
import type { ActorRef, Kernel } from '../../src/index.ts'
import type { counter } from '../actors.ts'
import type { Call, CallSystem } from './calls.ts'
import { untilCallable } from './child.ts'
import { verify } from './measure.ts'

const KEYS = 8

export interface CounterCalls {
  readonly one: Call
  readonly many: Call
  /** How long until the first call answered (discovery included). */
  readonly foundMs: number
  /** Fails unless the far side counted `calls` adds. */
  check(calls: number): Promise<void>
}

/** Asks to `bcounter` actors (bench/actors.ts) that node `kernel` reaches on another node. */
export async function micaCounters(kernel: Kernel): Promise<CounterCalls> {
  const ref = (key: string): ActorRef<typeof counter> => kernel.ref<typeof counter>(`bcounter/${key}`)
  const one = ref('one')
  const many = Array.from({ length: KEYS }, (_, i) => ref(`k${i}`))
  const foundMs = await untilCallable(() => one.ask('get'), 10_000)
  const msg = { by: 1 }
  return {
    one: () => one.ask('add', msg),
    many: (loop) => many[loop % KEYS]!.ask('add', msg),
    foundMs,
    check: async (calls) => {
      const counts = await Promise.all([one, ...many].map((r) => r.ask('get')))
      const total = counts.reduce((x, y) => x + y, 0)
      verify(total === calls, `node B's counters hold ${total} of ${calls} asks`)
    },
  }
}

/** Calls to the `bcounter` service of the Moleculer node `broker` reaches (bench/moleculer-*.ts). */
export async function moleculerCounters(broker: ServiceBroker): Promise<CounterCalls> {
  const msg = { by: 1 }
  const add = (): Promise<number> => broker.call<number, { by: number }>('bcounter.add', msg)
  const foundMs = await untilCallable(add, 15_000)
  return {
    one: add,
    many: add,
    foundMs,
    check: async (calls) => {
      // the first call that found the service counted too
      const total = await broker.call<number>('bcounter.get')
      verify(total === calls + 1, `moleculer counter holds ${total} of ${calls + 1} calls`)
    },
  }
}

/** A system's stop: the check, then the close whatever the check found. */
export function checkThenClose(check: (calls: number) => Promise<void>, close: () => Promise<void>) {
  return async (calls: number): Promise<void> => {
    try {
      await check(calls)
    } finally {
      await close()
    }
  }
}

/** A system making the counter calls; its stop checks them, then closes. */
export function counterSystem(name: string, calls: CounterCalls, close: () => Promise<void>): CallSystem {
  return { name, one: calls.one, many: calls.many, stop: checkThenClose(calls.check, close) }
}

/** Runs `start`; when it fails, what was started is closed before the error goes on. */
export async function closeOnError<T>(close: () => Promise<void>, start: () => Promise<T>): Promise<T> {
  try {
    return await start()
  } catch (err) {
    await close()
    throw err
  }
}
