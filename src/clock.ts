/**
 * Time, injected: everything that waits (ask deadlines, turn timeouts, restart backoff) asks a Clock,
 * so tests can drive time by hand. Timers are ref'd on purpose: a pending ask or a restart backoff is
 * work in progress that must keep the process alive; a kernel clears all of them when it stops.
 */
export interface TimerHandle {
  cancel(): void
}

export interface Clock {
  now(): number
  setTimeout(fn: () => void, ms: number): TimerHandle
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms)
    return { cancel: () => clearTimeout(t) }
  },
}
