/**
 * What a host of actors needs from its surroundings: the way out (send/ask/spawn to any address,
 * through the kernel on the main thread or the port on a worker), dead letters, codecs and time.
 */
import type { Clock } from '../clock.ts'
import type { CodecTable } from '../codec/table.ts'
import type { MicaError } from '../errors.ts'
import type { DeadLetterReason } from '../mailbox/dead-letters.ts'
import type { Delivery } from './delivery.ts'
import type { JournalPort } from './persistence.ts'
import type { ActorRef, AnyActorDefinition, AskOptions, PublishOptions, SendOptions } from './types.ts'

export interface ActorEnvironment {
  readonly clock: Clock
  readonly codecs: CodecTable
  /** Whether replies must be encoded and decoded (inline `encode` mode) to isolate caller and actor. */
  readonly copyReplies: boolean
  /** Largest encoded reply when replies are copied. */
  readonly maxMessageBytes: number
  /** Where persistent actors keep their events (the kernel's journal, or its proxy on a worker). */
  readonly journal: JournalPort
  send(to: string, handler: string, msg: unknown, options?: SendOptions): void
  ask(to: string, handler: string, msg: unknown, options?: AskOptions): Promise<unknown>
  publish(topic: string, msg: unknown, options?: PublishOptions): void
  ref(address: string): ActorRef
  spawn(definition: AnyActorDefinition | string | URL, id?: string): Promise<ActorRef>
  /** A message that was dropped or could not be delivered (an ask among them was already answered). */
  deadLetter(address: string, d: Delivery, reason: DeadLetterReason, error: MicaError | undefined): void
  /** Faults and hook failures worth a log line. */
  warn(message: string, error?: unknown): void
}
