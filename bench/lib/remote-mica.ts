/**
 * mica across two processes: node A here (`workers: 0`, hosting nothing) asks node B, a child process
 * in its default configuration (bench/remote-node.ts: actors on worker threads), found over mDNS on
 * loopback. Many in flight spread over KEYS counters (so B's workers share them); 1 in flight asks
 * one counter. Every ask adds 1: at the end the counters must sum to the asks made.
 */
import { createKernel, loopbackNetwork, type ActorRef } from '../../src/index.ts'
import type { counter } from '../actors.ts'
import { measureCalls, type CallFigures, type CallPlan } from './calls.ts'
import { freeUdpPort, startChild, stopChild, untilCallable, type Child } from './child.ts'
import { verify } from './measure.ts'

const NODE_FILE = new URL('../remote-node.ts', import.meta.url)
const KEYS = 8

export interface MicaRemoteFigures extends CallFigures {
  /** Node B's worker threads, and how long until its first ask answered (discovery included). */
  readonly workers: number
  readonly foundMs: number
  readonly deadLetters: number
}

export async function micaRemote(plan: CallPlan): Promise<MicaRemoteFigures> {
  const mdnsPort = await freeUdpPort()
  const a = await createKernel({ workers: 0, ...loopbackNetwork(mdnsPort) })
  let deadLetters = 0
  const off = a.onDeadLetter(() => deadLetters++)
  let b: Child<{ workers: number }> | undefined
  try {
    b = await startChild(NODE_FILE, { MICA_BENCH_MDNS_PORT: String(mdnsPort) }, 30_000)
    const ref = (key: string): ActorRef<typeof counter> => a.ref<typeof counter>(`bcounter/${key}`)
    const one = ref('one')
    const many = Array.from({ length: KEYS }, (_, i) => ref(`k${i}`))
    const foundMs = await untilCallable(() => one.ask('get'), 10_000)
    const msg = { by: 1 }
    const figures = await measureCalls(
      () => one.ask('add', msg),
      (loop) => many[loop % KEYS]!.ask('add', msg),
      plan,
    )
    const counts = await Promise.all([one, ...many].map((r) => r.ask('get')))
    const total = counts.reduce((x, y) => x + y, 0)
    verify(total === figures.calls, `node B's counters hold ${total} of ${figures.calls} asks`)
    return { ...figures, workers: b.ready.workers, foundMs, deadLetters }
  } finally {
    off()
    await a.stop()
    if (b !== undefined) await stopChild(b.proc, 15_000)
  }
}
