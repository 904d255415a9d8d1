/**
 * The link a plugin keeps to a shared backend (a NATS connection carries a node's transport, its
 * registry records and their heartbeats), as the kernel hears of it. `lost`: the link went down, so
 * other nodes may find this node unreachable (a message to it finds no subscriber, its registration
 * is not refreshed) and serve its keyed actors elsewhere meanwhile. `restored`: it is back, and
 * traffic for those actors may return here. Each loss is reported once, not once per failed
 * reconnect attempt, and a `restored` follows only a `lost`. The kernel makes its persistent actors
 * catch up with their journals on both (src/kernel/catch-up.ts).
 */
export interface LinkEvent {
  readonly state: 'lost' | 'restored'
  /** Why, for logs: `disconnected from nats://…`, `reconnected to …`. */
  readonly detail: string
}

export type LinkHandler = (event: LinkEvent) => void
