/**
 * WorkerPool: piscina supervises the threads, mica owns the traffic. Every worker gets one boot task,
 * pinned to it by a load balancer keyed on its thread id; the task hands the worker a MessagePort and
 * returns at once, and all actor traffic then flows over that port (piscina's shared task queue would
 * reorder an actor's messages). Each worker fills a slot; a keyed actor hashes to a slot. A worker that
 * dies closes its port: the slot reports a crash, piscina creates a replacement, which boots into the
 * free slot. Frames for a slot that is (re)booting wait, bounded, until it is ready.
 */
import { MessageChannel } from 'node:worker_threads'
import { fileURLToPath } from 'node:url'
import { Piscina } from 'piscina'
import type { ResourceLimits } from 'node:worker_threads'
import { PortChannel, type ChannelLimits } from './channel.ts'
import type { Frame } from './frames.ts'
import type { WorkerBootData } from './worker-entry.ts'

export interface PoolEvents {
  onBatch(slot: number, batch: unknown[]): void
  onCrash(slot: number): void
  onReady(slot: number): void
  onError(error: unknown): void
}

export interface PoolOptions {
  size: number
  limits: ChannelLimits
  resourceLimits: ResourceLimits | undefined
  boot: Omit<WorkerBootData, 'port' | 'slot' | 'entry'>
}

interface PiscinaWorkerLike {
  readonly id: number
  readonly terminating: boolean
}

interface Slot {
  readonly index: number
  threadId: number | undefined
  channel: PortChannel | undefined
  ready: boolean
  /** Frames waiting for the slot's worker to (re)boot. */
  waiting: Frame[]
}

const BOOTSTRAP = fileURLToPath(new URL('./worker-bootstrap.mjs', import.meta.url))
const ENTRY = new URL(`./worker-entry${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url)
  .href

export class WorkerPool {
  readonly size: number
  readonly #options: PoolOptions
  readonly #events: PoolEvents
  readonly #slots: Slot[]
  readonly #spares: PiscinaWorkerLike[] = []
  readonly #piscina: Piscina
  #stopping = false
  #readyWaiters: (() => void)[] = []

  constructor(options: PoolOptions, events: PoolEvents) {
    this.size = options.size
    this.#options = options
    this.#events = events
    this.#slots = Array.from({ length: options.size }, (_, index) => ({
      index,
      threadId: undefined,
      channel: undefined,
      ready: false,
      waiting: [],
    }))
    this.#piscina = new Piscina({
      filename: BOOTSTRAP,
      minThreads: options.size,
      maxThreads: options.size,
      idleTimeout: Infinity,
      atomics: 'disabled',
      resourceLimits: options.resourceLimits,
      loadBalancer: (task, workers) => {
        const options = (task as unknown as Record<symbol, { threadId?: number } | null>)[
          Piscina.queueOptionsSymbol
        ]
        const want = options?.threadId
        return workers.find((w) => w.id === want && !w.terminating) ?? null
      },
    })
    this.#piscina.on('workerCreate', (worker: PiscinaWorkerLike) => this.#assign(worker))
    this.#piscina.on('workerDestroy', (worker: PiscinaWorkerLike) => {
      const slot = this.#slots.find((s) => s.threadId === worker.id)
      if (slot !== undefined) this.#lost(slot)
    })
    this.#piscina.on('error', (err: unknown) => {
      if (!this.#stopping) events.onError(err)
    })
  }

  /** Resolves when every slot has a booted worker. */
  ready(): Promise<void> {
    if (this.#slots.every((s) => s.ready)) return Promise.resolve()
    return new Promise((resolve) => this.#readyWaiters.push(resolve))
  }

  isReady(slot: number): boolean {
    return this.#slots[slot]!.ready
  }

  /** Queues a frame for a slot; false when it cannot be queued (backlog full). */
  post(slot: number, frame: Frame): boolean {
    const s = this.#slots[slot]!
    if (s.ready && s.channel !== undefined) return s.channel.push(frame)
    if (s.waiting.length >= this.#options.limits.maxBacklog) return false
    s.waiting.push(frame)
    return true
  }

  /** Frames queued toward a slot and not yet taken by its worker. */
  queued(slot: number): number {
    const s = this.#slots[slot]!
    return s.waiting.length + (s.channel?.queued ?? 0)
  }

  async destroy(): Promise<void> {
    this.#stopping = true
    for (const s of this.#slots) s.channel?.close()
    await this.#piscina.destroy()
  }

  #assign(worker: PiscinaWorkerLike): void {
    if (this.#stopping) return
    const slot = this.#slots.find((s) => s.threadId === undefined)
    if (slot === undefined) {
      this.#spares.push(worker)
      return
    }
    slot.threadId = worker.id
    const { port1, port2 } = new MessageChannel()
    const channel = new PortChannel(
      port1,
      this.#options.limits,
      (batch) => this.#events.onBatch(slot.index, batch),
      () => {
        if (slot.channel === channel) this.#lost(slot)
      },
    )
    slot.channel = channel
    const task: WorkerBootData & { [key: symbol]: unknown } = {
      ...this.#options.boot,
      entry: ENTRY,
      port: port2,
      slot: slot.index,
      [Piscina.queueOptionsSymbol]: { threadId: worker.id },
    }
    this.#piscina.run(task, { transferList: [port2] }).then(
      () => this.#booted(slot, channel),
      (err: unknown) => {
        if (!this.#stopping) this.#events.onError(err)
      },
    )
  }

  #booted(slot: Slot, channel: PortChannel): void {
    if (slot.channel !== channel || this.#stopping) return
    slot.ready = true
    this.#events.onReady(slot.index)
    const waiting = slot.waiting
    slot.waiting = []
    for (const frame of waiting) channel.push(frame)
    if (this.#slots.every((s) => s.ready)) {
      const waiters = this.#readyWaiters
      this.#readyWaiters = []
      for (const w of waiters) w()
    }
  }

  #lost(slot: Slot): void {
    if (slot.threadId === undefined) return
    slot.threadId = undefined
    slot.channel = undefined
    slot.ready = false
    if (this.#stopping) return
    this.#events.onCrash(slot.index)
    const spare = this.#spares.shift()
    if (spare !== undefined && !spare.terminating) this.#assign(spare)
  }
}
