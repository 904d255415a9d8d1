/**
 * The piscina task every worker runs once: it starts the worker's actor runtime on the port it is
 * given and returns at once (the port then keeps the thread alive and carries all traffic).
 */
import { threadId, type MessagePort } from 'node:worker_threads'
import type { ChannelLimits } from './channel.ts'
import type { PassivationOptions } from '../actors/host.ts'
import { WorkerRuntime } from './worker-runtime.ts'

export interface WorkerBootData {
  /** URL of this module (the bootstrap imports it). */
  entry: string
  port: MessagePort
  slot: number
  nodeId: string
  limits: ChannelLimits
  askTimeoutMs: number
  maxMessageBytes: number
  defaultContentType: string
  passivation: PassivationOptions | false
}

export default function boot(data: WorkerBootData): number {
  new WorkerRuntime(data)
  return threadId
}
