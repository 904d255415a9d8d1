/**
 * Transport: point-to-point connections between nodes, carrying envelopes (Go Micro's `transport`).
 *
 * A node listens on one address and dials the addresses of the nodes it talks to. Everything else
 * (who is where, retries, deadlines) belongs to the kernel above; a transport only moves envelopes,
 * in order, per connection.
 *
 * Connections. `connect(address)` returns the one Peer this transport keeps for that address (the
 * same object until it is closed), and dials it on its first `send`. A dialed peer that loses its
 * connection reconnects by itself with bounded exponential backoff, forever, until it is closed:
 * the owner closes peers it no longer needs (e.g. when the registry drops the node). Frames sent
 * while it is disconnected wait in its bounded queue and leave, in order, once it is back; frames
 * already handed to a socket that then dropped may or may not have arrived (the layer above has
 * deadlines for that). Addresses are compared as strings: `localhost:4000` and `127.0.0.1:4000`
 * are two peers.
 *
 * Replies travel back on the connection a request came in on: the `peer` given to the envelope
 * handler. For an accepted connection that peer's address is the remote socket's address, not the
 * remote node's listen address, and it never reconnects (its dialer does). So when A dials B and B
 * dials A there are two connections, one per direction of requests; merging them would need a
 * hello frame naming the dialer's listen address, which no caller needs yet.
 *
 * Back-pressure. `send` returns false when the envelope was not queued: the peer is closed, or its
 * queue (bytes waiting, including what the socket has buffered) would exceed its limit. It throws
 * a BadRequestError when the envelope itself is invalid or larger than the frame limit (a caller's
 * bug, and refusing it keeps one bad envelope from closing a connection others share).
 *
 * Peer down. `onPeerDown` fires when a connection is lost for any reason other than the local
 * `close()`/`stop()`: the remote closed, a heartbeat timed out, bad input, a dial failed. A dialed
 * peer fires once per loss (not once per failed reconnect attempt) and fires again only after it
 * was connected again.
 *
 * Link. A transport that reaches every peer through one shared link (NATS: one connection to a
 * server) reports that link's loss and return with `onLinkChange` (src/link.ts): its peers' downs
 * do not show it, since a far side that found this node gone sees peer-down where this side sees
 * only a reconnect. A transport of direct connections (TCP, memory) has no such link and leaves it
 * out: peer-down says everything there is.
 */
import type { MicaError } from '../errors.ts'
import type { LinkHandler } from '../link.ts'
import type { Envelope } from './envelope.ts'

export type { Envelope, FrameKind } from './envelope.ts'
export type { LinkEvent, LinkHandler } from '../link.ts'

export interface Peer {
  /** The address dialed, or for an accepted connection the remote `host:port`. */
  readonly address: string
  /** True for a connection the remote opened (it cannot reconnect from this side). */
  readonly inbound: boolean
  /** A connection is established now (false while dialing, reconnecting, or once closed). */
  readonly connected: boolean
  /**
   * Connections established so far (an accepted one counts from the start). A frame sent while
   * disconnected leaves only on the next connection: if this has not moved when the peer goes
   * down, the frame never left this process.
   */
  readonly connections: number
  /** Bytes queued and not yet taken by the operating system (socket buffer included). */
  readonly queuedBytes: number
  /** Queues one envelope; frames queued in the same tick leave in one write. */
  send(env: Envelope): boolean
  /**
   * Writes what is queued, then closes (the far side sees peer-down, this side does not); a later
   * `connect` to the same address makes a new peer. `reason` is for the caller's own records.
   */
  close(reason?: string): void
}

export type EnvelopeHandler = (env: Envelope, peer: Peer) => void
export type PeerDownHandler = (peer: Peer, reason: MicaError) => void

export interface Transport {
  /** `tcp`, `tls`, `memory`, ... */
  readonly name: string
  /** The bound address once `listen` resolved. */
  readonly address: string | undefined
  /** Accepts connections on `address` (`host:port`, port 0 = any free port); resolves the bound one. */
  listen(address: string): Promise<string>
  /** The peer for `address`, shared by every caller; dialed lazily. */
  connect(address: string): Peer
  /** Every envelope received on any connection (pings excluded); returns an unsubscribe function. */
  onEnvelope(handler: EnvelopeHandler): () => void
  onPeerDown(handler: PeerDownHandler): () => void
  /** Optional: the shared link's losses and returns (see Link above); returns an unsubscribe function. */
  onLinkChange?(handler: LinkHandler): () => void
  /** Stops listening, closes every connection and timer; idempotent (same promise every call). */
  stop(): Promise<void>
}

/** What the transports log: a reason a connection was refused or dropped. */
export interface TransportLogger {
  warn(message: string): void
}
