// A nats-server restarted under load (one this test starts on a free port): kernels publishing and
// subscribing through the NATS broker reconnect by themselves. Publishes during the outage either
// resolve or reject with a retryable 503, none hangs; once the server is back, every message is
// handled again. The same with the JetStream broker: no acknowledged publish is lost.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createKernel, type Kernel } from '../../src/kernel/kernel.ts'
import { NatsBroker } from '../../src/broker/nats.ts'
import { JetStreamBroker } from '../../src/broker/jetstream.ts'
import type { Broker } from '../../src/broker/broker.ts'
import { MicaError } from '../../src/errors.ts'
import { startNatsServer } from '../helpers/nats-server.ts'

const quiet = { debug() {}, info() {}, warn() {}, error() {} }
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

async function underRestart(
  makeBroker: (url: string) => Broker,
  waitForAcked = false,
): Promise<{
  acked: Set<number>
  seen: Set<number>
  refused: number
  afterBack: number[]
}> {
  const server = await startNatsServer()
  const kernels: Kernel[] = []
  try {
    const a = await createKernel({ workers: 0, broker: makeBroker(server.url), logger: quiet })
    kernels.push(a)
    const b = await createKernel({ workers: 0, broker: makeBroker(server.url), logger: quiet })
    kernels.push(b)
    const seen = new Set<number>()
    await b.subscribe('load.tick', (msg) => void seen.add((msg as { n: number }).n))

    const acked = new Set<number>()
    let refused = 0
    let n = 0
    const publish = async (): Promise<void> => {
      const id = ++n
      // bounded: a publish that neither resolves nor rejects in 15 s is a hang, and fails the test
      const outcome = await Promise.race([
        a.publish('load.tick', { n: id }).then(() => 'ok' as const),
        sleep(15_000).then(() => 'hung' as const),
      ]).catch((err: unknown) => err)
      if (outcome === 'ok') acked.add(id)
      else if (outcome instanceof MicaError && outcome.status === 503 && outcome.retryable) refused++
      else throw new Error(`publish ${id}: ${String(outcome)}`)
    }
    const loadUntil = Date.now() + 3_000
    let restarted: Promise<void> | undefined
    while (Date.now() < loadUntil) {
      await publish()
      if (restarted === undefined && Date.now() > loadUntil - 2_000) restarted = server.restart()
      await sleep(1)
    }
    await restarted
    // both sides are back once a probe goes through; then a last batch must arrive whole
    const back = Date.now() + 20_000
    for (;;) {
      await publish()
      await sleep(50)
      if (seen.has(n)) break
      if (Date.now() > back) throw new Error('no message got through after the restart')
    }
    const afterBack: number[] = []
    for (let i = 0; i < 200; i++) {
      await publish()
      afterBack.push(n)
    }
    const until = Date.now() + 10_000
    while (afterBack.some((id) => !seen.has(id)) && Date.now() < until) await sleep(20)
    // a durable broker redelivers what was stored during the outage: give it its ack wait
    const redelivered = Date.now() + 15_000
    while (waitForAcked && [...acked].some((id) => !seen.has(id)) && Date.now() < redelivered) await sleep(50)
    return { acked, seen, refused, afterBack }
  } finally {
    for (const k of kernels) await k.stop()
    await server.close()
  }
}

test('nats broker: a server restarted under load, publishers and subscribers reconnect by themselves', async () => {
  const r = await underRestart((url) => new NatsBroker({ servers: url, reconnectTimeWaitMs: 50 }))
  assert.deepEqual(
    r.afterBack.filter((id) => !r.seen.has(id)),
    [],
    'every message after the reconnect is handled',
  )
  console.log(`nats restart: ${r.acked.size} published, ${r.refused} refused (503), ${r.seen.size} handled`)
})

test('jetstream broker: a server restarted under load loses no acknowledged publish', async () => {
  const r = await underRestart(
    (url) =>
      new JetStreamBroker({ servers: url, reconnectTimeWaitMs: 50, ackWaitMs: 1_000, backoffMs: [50] }),
  )
  const until = Date.now() + 15_000
  while ([...r.acked].some((id) => !r.seen.has(id)) && Date.now() < until) await sleep(50)
  assert.deepEqual(
    [...r.acked].filter((id) => !r.seen.has(id)),
    [],
    'every acknowledged publish is handled',
  )
  console.log(
    `jetstream restart: ${r.acked.size} acknowledged, ${r.refused} refused (503), ${r.seen.size} handled`,
  )
})
