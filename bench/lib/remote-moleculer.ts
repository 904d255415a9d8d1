/**
 * Baseline: Moleculer 0.14 across two processes with its TCP transporter on loopback only
 * (moleculer-tcp.ts): a broker here calls `bcounter.add` on a broker in a child process
 * (bench/moleculer-node.ts), measured side by side with mica (calls.ts). Default serializer (JSON), no logger,
 * metrics or tracing; the counter calls of counter-calls.ts.
 */
import type { AddressInfo } from 'node:net'
import { ServiceBroker } from 'moleculer'
import type { CallSystem } from './calls.ts'
import { freeTcpPort, startChild, stopChild, type Child } from './child.ts'
import { closeOnError, counterSystem, moleculerCounters } from './counter-calls.ts'
import { verify } from './measure.ts'
import { listenAddress, loopbackTcp, MOLECULER_HOST, type MoleculerNode } from './moleculer-tcp.ts'

const NODE_FILE = new URL('../moleculer-node.ts', import.meta.url)

export interface MoleculerRemote extends CallSystem {
  /** How long until the first call answered (gossip discovery included). */
  readonly foundMs: number
}

const onLoopback = (address: AddressInfo | string | null | undefined): boolean =>
  typeof address === 'object' && address !== null && address.address === MOLECULER_HOST

export async function startMoleculerRemote(): Promise<MoleculerRemote> {
  const self: MoleculerNode = { nodeID: 'bench-moleculer-a', port: await freeTcpPort() }
  const peer: MoleculerNode = { nodeID: 'bench-moleculer-b', port: await freeTcpPort() }
  const transporter = loopbackTcp(self, [self, peer])
  const broker = new ServiceBroker({
    nodeID: self.nodeID,
    logger: false,
    metrics: false,
    tracing: false,
    transporter,
  })
  let child: Child<{ listen: AddressInfo | string | null }> | undefined
  const close = async (): Promise<void> => {
    await broker.stop()
    if (child !== undefined) await stopChild(child.proc, 10_000)
  }
  return closeOnError(close, async () => {
    await broker.start()
    verify(onLoopback(listenAddress(transporter)), 'moleculer TCP server here is not on 127.0.0.1')
    const env = { MICA_BENCH_MOLECULER: JSON.stringify({ self: peer, peer: self }) }
    child = await startChild<{ listen: AddressInfo | string | null }>(NODE_FILE, env, 30_000)
    verify(onLoopback(child.ready.listen), 'moleculer TCP server of the child is not on 127.0.0.1')
    const calls = await moleculerCounters(broker)
    return { ...counterSystem('moleculer TCP', calls, close), foundMs: calls.foundMs }
  })
}
