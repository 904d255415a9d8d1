/**
 * The UDP side of the mdns registry: one `multicast-dns` instance, loaded on first use (a process that
 * never starts an mdns registry never loads it), open only once bound, whose sends resolve when the
 * datagram is handed to the OS, and whose close leaves no handle behind. multicast-dns keeps a 5 s
 * membership interval alive until `destroy()`, which close always calls.
 */
import type { RemoteInfo } from 'node:dgram'
import { setImmediate as tick } from 'node:timers/promises'
import type { Packet, Question } from 'dns-packet'
import type { MulticastDNS, QueryPacket, ResponsePacket } from 'multicast-dns'
import { ErrorCode, UnavailableError } from '../errors.ts'

export interface SocketOptions {
  /** Interface for multicast membership and sending; absent: every interface. */
  interface?: string | undefined
  /** Address to bind; absent: multicast-dns's default (all addresses). */
  bind?: string | undefined
  port: number
  /** Errors that do not close the socket (a send that failed, a membership that could not be added). */
  onWarning?: ((error: Error) => void) | undefined
}

export interface SocketHandlers {
  onQuery(query: QueryPacket, from: RemoteInfo): void
  onResponse(response: ResponsePacket): void
}

export interface Destination {
  address: string
  port: number
}

export class MdnsSocket {
  readonly #mdns: MulticastDNS
  readonly #onWarning: (error: Error) => void
  /** dns-packet's size of an encoded packet, for checks before anything is sent. */
  readonly encodingLength: (packet: Packet) => number

  private constructor(
    mdns: MulticastDNS,
    encodingLength: (packet: Packet) => number,
    options: SocketOptions,
  ) {
    this.#mdns = mdns
    this.encodingLength = encodingLength
    this.#onWarning = options.onWarning ?? (() => {})
  }

  /** Binds and joins the group; rejects with UnavailableError when the port cannot be bound. */
  static async open(options: SocketOptions, handlers: SocketHandlers): Promise<MdnsSocket> {
    const [{ default: createMdns }, { default: dnsPacket }] = await Promise.all([
      import('multicast-dns'),
      import('dns-packet'),
    ])
    const mdns = createMdns({
      port: options.port,
      multicast: true,
      reuseAddr: true, // every registry on the host shares the mDNS port
      ...(options.interface === undefined ? {} : { interface: options.interface }),
      ...(options.bind === undefined ? {} : { bind: options.bind }),
    })
    const socket = new MdnsSocket(mdns, dnsPacket.encodingLength, options)
    mdns.on('warning', socket.#onWarning)
    try {
      await new Promise<void>((resolve, reject) => {
        mdns.once('ready', resolve)
        mdns.once('error', reject)
      })
    } catch (error) {
      await socket.close()
      throw new UnavailableError(
        ErrorCode.UNAVAILABLE,
        `mdns: cannot bind port ${options.port}`,
        'registry',
        {
          cause: error,
        },
      )
    }
    mdns.on('error', socket.#onWarning)
    mdns.on('query', (query: QueryPacket, from: RemoteInfo) => handlers.onQuery(query, from))
    mdns.on('response', (response: ResponsePacket) => handlers.onResponse(response))
    return socket
  }

  /** Multicast, unless `to` names one asker. */
  query(questions: Question[], to?: Destination): Promise<void> {
    return new Promise((resolve) => this.#mdns.query({ questions }, to, this.#sent(resolve)))
  }

  respond(packet: Packet, to?: Destination): Promise<void> {
    return new Promise((resolve) =>
      this.#mdns.respond({ ...packet, answers: packet.answers ?? [] }, to, this.#sent(resolve)),
    )
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.#mdns.destroy(resolve))
    // libuv releases a closed UDP handle in the close phase after the close callback: two turns of
    // the loop later it is gone, so nothing is left open when close() resolves
    await tick()
    await tick()
  }

  #sent(resolve: () => void): (error: Error | null) => void {
    return (error) => {
      if (error) this.#onWarning(error)
      resolve()
    }
  }
}
