/**
 * Waiting for SIGINT or SIGTERM: with the CLI, the only code in mica that touches the process
 * (a service's `run()` with `handleSignal`). The listeners are removed as soon as one fires or
 * the wait is disposed, so a stopped service leaves no handler behind.
 */
export interface SignalWait {
  readonly promise: Promise<NodeJS.Signals>
  dispose(): void
}

export const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM']

export function waitForSignal(signals: readonly NodeJS.Signals[] = STOP_SIGNALS): SignalWait {
  let dispose = (): void => {}
  const promise = new Promise<NodeJS.Signals>((resolve) => {
    const on = (signal: NodeJS.Signals): void => {
      dispose()
      resolve(signal)
    }
    for (const s of signals) process.on(s, on)
    dispose = () => {
      for (const s of signals) process.off(s, on)
    }
  })
  return { promise, dispose: () => dispose() }
}
