/**
 * mica across two processes: node A here (`workers: 0`, hosting nothing) asks node B, a child process
 * in its default configuration (bench/remote-node.ts: actors on worker threads), found over mDNS on
 * loopback, with the counter calls of counter-calls.ts.
 */
import { createKernel, loopbackNetwork } from '../../src/index.ts'
import type { CallSystem } from './calls.ts'
import { freeUdpPort, startChild, stopChild, type Child } from './child.ts'
import { closeOnError, counterSystem, micaCounters } from './counter-calls.ts'

const NODE_FILE = new URL('../remote-node.ts', import.meta.url)

export interface MicaRemote extends CallSystem {
  /** Node B's worker threads, and how long until its first ask answered (discovery included). */
  readonly workers: number
  readonly foundMs: number
  /** Dead letters on node A so far. */
  deadLetters(): number
}

export async function startMicaRemote(): Promise<MicaRemote> {
  const mdnsPort = await freeUdpPort()
  const a = await createKernel({ workers: 0, ...loopbackNetwork(mdnsPort) })
  let deadLetters = 0
  const off = a.onDeadLetter(() => deadLetters++)
  let b: Child<{ workers: number }> | undefined
  const close = async (): Promise<void> => {
    off()
    await a.stop()
    if (b !== undefined) await stopChild(b.proc, 15_000)
  }
  return closeOnError(close, async () => {
    b = await startChild<{ workers: number }>(NODE_FILE, { MICA_BENCH_MDNS_PORT: String(mdnsPort) }, 30_000)
    const calls = await micaCounters(a)
    const system = counterSystem('mica', calls, close)
    return { ...system, workers: b.ready.workers, foundMs: calls.foundMs, deadLetters: () => deadLetters }
  })
}
