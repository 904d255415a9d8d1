/**
 * Moleculer 0.14's TCP transporter kept on loopback. Its options do most of it: `udpDiscovery: false`
 * (no UDP multicast or broadcast) and `urls` listing both nodes as `127.0.0.1:<port>/<nodeID>`, so
 * each starts knowing the other as an offline node and gossips to it over TCP. Two things the options
 * cannot say are patched on the instance:
 * - its TCP server listens with `{ port, exclusive: true }`, i.e. on every interface: the listen call
 *   made while the transporter starts gets `host: '127.0.0.1'` added;
 * - a node's address is learnt from gossip (`udpAddress`, hostname, ipList): dial 127.0.0.1 always.
 */
import net from 'node:net'
import { Transporters } from 'moleculer'

export const MOLECULER_HOST = '127.0.0.1'

export interface MoleculerNode {
  readonly nodeID: string
  readonly port: number
}

/** The transporter internals patched here (moleculer's own names; not in its type declarations). */
interface TcpInternals {
  startTcpServer(): Promise<unknown>
  getNodeAddress(node: unknown): string | null
  reader: { server: net.Server | null } | null
}

export function loopbackTcp(self: MoleculerNode, nodes: readonly MoleculerNode[]): Transporters.TCP {
  const transporter = new Transporters.TCP({
    udpDiscovery: false,
    port: self.port,
    urls: nodes.map((n) => `${MOLECULER_HOST}:${n.port}/${n.nodeID}`),
    gossipPeriod: 1,
  })
  const internals = transporter as unknown as TcpInternals
  const startTcpServer = internals.startTcpServer.bind(transporter)
  internals.startTcpServer = () => onLoopback(startTcpServer)
  internals.getNodeAddress = () => MOLECULER_HOST
  return transporter
}

/** Where the transporter's TCP server listens (to check it is loopback). */
export function listenAddress(transporter: Transporters.TCP): net.AddressInfo | string | null {
  return (transporter as unknown as TcpInternals).reader?.server?.address() ?? null
}

/** Runs `start` (which calls `server.listen(options, cb)` synchronously) with the host set to loopback. */
function onLoopback<T>(start: () => T): T {
  const proto = net.Server.prototype
  const listen = proto.listen
  proto.listen = function (this: net.Server, options: unknown, ...rest: unknown[]) {
    if (typeof options !== 'object' || options === null) {
      throw new Error('moleculer TCP: expected listen({ port, exclusive }); cannot keep it on loopback')
    }
    return (listen as (...args: unknown[]) => net.Server).call(
      this,
      { ...options, host: MOLECULER_HOST },
      ...rest,
    )
  } as typeof proto.listen
  try {
    return start()
  } finally {
    proto.listen = listen
  }
}
