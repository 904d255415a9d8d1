/**
 * Watchers: the fan-out of a registry's events to every `watch()` caller. Each watcher owns a queue,
 * so a slow reader never delays the registry or the other readers; iteration ends when the watcher
 * or the hub stops. Events are copied per watcher: a reader that edits an event cannot change what
 * the registry or another reader sees.
 */
import type { Service, WatchEvent, WatchOptions, Watcher } from './registry.ts'

export function copyService(s: Service): Service {
  return {
    name: s.name,
    version: s.version,
    metadata: { ...s.metadata },
    endpoints: s.endpoints.map((e) => ({ name: e.name, metadata: { ...e.metadata } })),
    nodes: s.nodes.map((n) => ({ id: n.id, address: n.address, metadata: { ...n.metadata } })),
  }
}

class QueueWatcher implements Watcher {
  readonly #events: WatchEvent[] = []
  readonly #readers: ((result: IteratorResult<WatchEvent>) => void)[] = []
  readonly #onStop: (watcher: QueueWatcher) => void
  #stopped = false

  constructor(
    readonly service: string | undefined,
    onStop: (watcher: QueueWatcher) => void,
  ) {
    this.#onStop = onStop
  }

  push(event: WatchEvent): void {
    if (this.#stopped) return
    const copy = { action: event.action, service: copyService(event.service) }
    const reader = this.#readers.shift()
    if (reader) reader({ value: copy, done: false })
    else this.#events.push(copy)
  }

  stop(): void {
    if (this.#stopped) return
    this.#stopped = true
    this.#events.length = 0
    for (const reader of this.#readers.splice(0)) reader({ value: undefined, done: true })
    this.#onStop(this)
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchEvent> {
    return {
      next: () => {
        const event = this.#events.shift()
        if (event !== undefined) return Promise.resolve({ value: event, done: false })
        if (this.#stopped) return Promise.resolve({ value: undefined, done: true })
        return new Promise((resolve) => this.#readers.push(resolve))
      },
      // `break` out of a for-await loop stops the watcher: nobody is left to read it
      return: () => {
        this.stop()
        return Promise.resolve({ value: undefined, done: true })
      },
    }
  }
}

export class WatchHub {
  readonly #watchers = new Set<QueueWatcher>()
  #stopped = false

  /** A watcher made after the hub stopped is already stopped: its iteration ends at once. */
  watch(options: WatchOptions = {}): Watcher {
    const watcher = new QueueWatcher(options.service, (w) => this.#watchers.delete(w))
    if (this.#stopped) watcher.stop()
    else this.#watchers.add(watcher)
    return watcher
  }

  emit(event: WatchEvent): void {
    for (const watcher of this.#watchers) {
      if (watcher.service === undefined || watcher.service === event.service.name) watcher.push(event)
    }
  }

  stop(): void {
    this.#stopped = true
    for (const watcher of [...this.#watchers]) watcher.stop()
  }
}
