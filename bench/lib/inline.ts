/** Inline kernel (`workers: 0`): ask round trips against a plain async call, ask latency, sends. */
import { createKernel, type ActorRef } from '../../src/index.ts'
import { counter } from '../actors.ts'
import {
  concurrent,
  now,
  sequential,
  throughput,
  verify,
  type Latency,
  type Limits,
  type Throughput,
} from './measure.ts'

/** Sends per chunk: below the cell's throughput (256), so one `await null` lets the actor drain. */
export const SEND_CHUNK = 200

export interface InlineFigures {
  ask: Throughput
  askLatency: Latency
  rawCall: Throughput
  send: Throughput
  deadLetters: number
}

export async function inlineBench(
  warm: Limits,
  l: Limits,
  latency: Limits,
  sends: Limits,
): Promise<InlineFigures> {
  const kernel = await createKernel({ workers: 0 })
  let deadLetters = 0
  const off = kernel.onDeadLetter(() => deadLetters++)
  try {
    const ref = await kernel.spawn(counter, 'ask')
    const ask = (): Promise<number> => ref.ask('get')
    await sequential(ask, warm)
    const askResult = await sequential(ask, l)
    await concurrent(ask, 1, warm)
    const askLatency = await concurrent(ask, 1, latency)
    verify(
      (await ref.ask('add', { by: 3 })) === 3 && (await ask()) === 3,
      'inline ask returned the wrong count',
    )

    const state = { n: 0 }
    const fn = async (): Promise<number> => state.n++
    await sequential(fn, warm)
    const rawCall = await sequential(fn, l)

    await sendLoop(await kernel.spawn(counter, 'send-warm'), warm)
    const send = await sendLoop(await kernel.spawn(counter, 'send'), sends)
    return { ask: askResult, askLatency, rawCall, send, deadLetters }
  } finally {
    off()
    await kernel.stop()
  }
}

/** Sends `add` in chunks of SEND_CHUNK (awaiting a microtask between chunks); checks the final count. */
async function sendLoop(ref: ActorRef<typeof counter>, l: Limits): Promise<Throughput> {
  const msg = { by: 1 }
  const start = now()
  let sent = 0
  while (sent < l.ops) {
    for (let c = 0; c < 64 && sent < l.ops; c++) {
      for (let i = 0; i < SEND_CHUNK; i++) ref.send('add', msg)
      sent += SEND_CHUNK
      await null
    }
    if (now() - start >= l.maxMs) break
  }
  const count = await ref.ask('get')
  const ms = now() - start
  verify(count === sent, `inline actor counted ${count} of ${sent} sends`)
  return throughput(sent, ms)
}
