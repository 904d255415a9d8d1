/**
 * Kernel on worker threads (`workers: 2`): sends spread over keyed actors, and asks with 1 and with
 * many in flight. Sends go in rounds (a fixed count per actor), at most two rounds unconfirmed: after
 * each round every actor is asked its count, and the round before last must have answered before the
 * next one starts, so neither the channel backlog nor a mailbox can overflow.
 */
import { createKernel, type ActorRef, type Kernel } from '../../src/index.ts'
import { counter } from '../actors.ts'
import {
  concurrent,
  concurrentThroughput,
  now,
  throughput,
  verify,
  type Latency,
  type Limits,
  type Throughput,
} from './measure.ts'

type Counter = ActorRef<typeof counter>

export interface WorkerFigures {
  send: Throughput
  ask1: Latency
  askMany: Latency
  deadLetters: number
}

export interface WorkerPlan {
  workers: number
  /** Actors the sends spread over, and messages per actor in a round. */
  sendActors: number
  perActor: number
  /** Asks in flight, and actors they spread over. */
  inFlight: number
  askActors: number
}

export async function workersBench(
  plan: WorkerPlan,
  warm: Limits,
  sends: Limits,
  asks: Limits,
): Promise<WorkerFigures> {
  const kernel = await createKernel({ workers: plan.workers })
  let deadLetters = 0
  const off = kernel.onDeadLetter(() => deadLetters++)
  try {
    await sendRounds(await spawnAll(kernel, 'warm', plan.sendActors), plan.perActor, warm)
    const send = await sendRounds(await spawnAll(kernel, 'send', plan.sendActors), plan.perActor, sends)

    const one = await kernel.spawn(counter, 'ask1')
    const askOne = (): Promise<number> => one.ask('get')
    await concurrent(askOne, 1, warm)
    const ask1 = await concurrent(askOne, 1, asks)

    const many = await spawnAll(kernel, 'ask', plan.askActors)
    const askMany = (loop: number): Promise<number> => many[loop % many.length]!.ask('get')
    await concurrent(askMany, plan.inFlight, warm)
    const askManyRate = await concurrentThroughput(askMany, plan.inFlight, asks)
    const askManyResult = { ...(await concurrent(askMany, plan.inFlight, asks)), ...askManyRate }
    verify((await many[0]!.ask('add', { by: 5 })) === 5, 'worker actor returned the wrong count')
    return { send, ask1, askMany: askManyResult, deadLetters }
  } finally {
    off()
    await kernel.stop()
  }
}

async function spawnAll(kernel: Kernel, prefix: string, n: number): Promise<Counter[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => kernel.spawn(counter, `${prefix}-${i}`)))
}

const counts = (refs: readonly Counter[]): Promise<number[]> => Promise.all(refs.map((r) => r.ask('get')))

/** Rounds of `refs.length * perActor` sends, round-robin; ends when every actor has counted its share. */
async function sendRounds(refs: readonly Counter[], perActor: number, l: Limits): Promise<Throughput> {
  const msg = { by: 1 }
  const perRound = refs.length * perActor
  const unconfirmed: Promise<number[]>[] = []
  const start = now()
  let sent = 0
  while (sent === 0 || (sent + perRound <= l.ops && now() - start < l.maxMs)) {
    for (let i = 0; i < perRound; i++) refs[i % refs.length]!.send('add', msg)
    sent += perRound
    unconfirmed.push(counts(refs))
    if (unconfirmed.length >= 2) await unconfirmed.shift()
  }
  await Promise.all(unconfirmed)
  const final = await counts(refs)
  const ms = now() - start
  const total = final.reduce((a, b) => a + b, 0)
  verify(total === sent, `worker actors counted ${total} of ${sent} sends`)
  return throughput(sent, ms)
}
