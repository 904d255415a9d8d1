/**
 * mica across two processes: node A here (`workers: 0`, hosting nothing) asks node B, a child process
 * in its default configuration (bench/remote-node.ts: actors on worker threads), found over mDNS on
 * loopback. Many in flight spread over KEYS counters (so B's workers share them); 1 in flight asks
 * one counter. Every ask adds 1: at the stop the counters must sum to the asks made.
 */
import { createKernel, loopbackNetwork, type ActorRef } from '../../src/index.ts'
import type { counter } from '../actors.ts'
import type { CallSystem } from './calls.ts'
import { freeUdpPort, startChild, stopChild, untilCallable, type Child } from './child.ts'
import { verify } from './measure.ts'

const NODE_FILE = new URL('../remote-node.ts', import.meta.url)
const KEYS = 8

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
  try {
    b = await startChild(NODE_FILE, { MICA_BENCH_MDNS_PORT: String(mdnsPort) }, 30_000)
    const ref = (key: string): ActorRef<typeof counter> => a.ref<typeof counter>(`bcounter/${key}`)
    const one = ref('one')
    const many = Array.from({ length: KEYS }, (_, i) => ref(`k${i}`))
    const foundMs = await untilCallable(() => one.ask('get'), 10_000)
    const msg = { by: 1 }
    return {
      name: 'mica',
      workers: b.ready.workers,
      foundMs,
      deadLetters: () => deadLetters,
      one: () => one.ask('add', msg),
      many: (loop) => many[loop % KEYS]!.ask('add', msg),
      stop: async (calls) => {
        try {
          await checkCounters([one, ...many], calls)
        } finally {
          await close()
        }
      },
    }
  } catch (err) {
    await close()
    throw err
  }
}

/** The bench counters of node B hold one add per call made. */
export async function checkCounters(refs: ActorRef<typeof counter>[], calls: number): Promise<void> {
  const counts = await Promise.all(refs.map((r) => r.ask('get')))
  const total = counts.reduce((x, y) => x + y, 0)
  verify(total === calls, `node B's counters hold ${total} of ${calls} asks`)
}
