// The jetstream broker against a nats-server of its own (-js, temp store dir): the shared contract
// (test/broker/contract.ts) with its two JetStream features (a leading wildcard is refused: one
// consumer reads one stream; a failed message comes back), then what only a durable broker does:
// redelivery, dead letters, durability, shared durables.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { connect, type Msg } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'
import type { BrokerBaseOptions } from '../../src/broker/broker.ts'
import { DEAD_HEADERS, JetStreamBroker, type JetStreamBrokerOptions } from '../../src/broker/jetstream.ts'
import { BadRequestError, ConflictError, ErrorCode, UnavailableError } from '../../src/errors.ts'
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts'
import { brokerContract, until } from './contract.ts'

let server: NatsServer
before(async () => {
  server = await startNatsServer()
})
after(async () => {
  await server.close()
})

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
const text = (body: Uint8Array): string => new TextDecoder().decode(body)
const unavailable = (e: unknown): boolean => e instanceof UnavailableError && e.retryable
const badRequest =
  (code: string = ErrorCode.BAD_REQUEST) =>
  (e: unknown): boolean =>
    e instanceof BadRequestError && e.code === code

const broker = (options: Partial<JetStreamBrokerOptions> = {}): JetStreamBroker =>
  new JetStreamBroker({ servers: server.url, reconnectTimeWaitMs: 100, backoffMs: [20], ...options })

/** Started brokers (stopped by the test's end whatever happens). */
async function withBrokers(
  count: number,
  options: Partial<JetStreamBrokerOptions>,
  body: (...brokers: JetStreamBroker[]) => Promise<void>,
): Promise<void> {
  const brokers = Array.from({ length: count }, () => broker(options))
  try {
    await Promise.all(brokers.map((b) => b.start()))
    await body(...brokers)
  } finally {
    await Promise.all(brokers.map((b) => b.stop()))
  }
}

/** Everything `pub` published before is in, once a marker published last reaches `sub`. */
async function barrier(pub: JetStreamBroker, sub: JetStreamBroker): Promise<void> {
  let seen = false
  const s = await sub.subscribe('barrier.marker', () => void (seen = true))
  await pub.publish('barrier.marker', { body: new Uint8Array() })
  await until(() => seen, 'the barrier')
  await s.unsubscribe()
}

brokerContract(
  'jetstream',
  async (options?: BrokerBaseOptions) => {
    const [publisher, subscriber] = [broker(options), broker(options)]
    await Promise.all([publisher.start(), subscriber.start()])
    return {
      publisher,
      subscriber,
      stop: async () => void (await Promise.all([publisher.stop(), subscriber.stop()])),
    }
  },
  () => broker(),
  { leadingWildcards: false, redelivers: true },
)

test('jetstream - unsubscribe deletes the ephemeral consumer', async () => {
  await withBrokers(2, {}, async (pub, sub) => {
    const s = await sub.subscribe('ephemeral', () => {})
    await pub.publish('ephemeral', { body: bytes('one') })
    const nc = await connect({ servers: server.url })
    try {
      const jsm = await jetstreamManager(nc)
      assert.equal((await jsm.consumers.list('MICA_ephemeral').next()).length, 1)
      await s.unsubscribe()
      assert.deepEqual(await jsm.consumers.list('MICA_ephemeral').next(), [])
    } finally {
      await nc.close()
    }
  })
})

test('jetstream - a durable name is checked like a queue', async () => {
  await withBrokers(1, {}, async (b) => {
    await assert.rejects(
      b.subscribe('ok', () => {}, { durable: 'has.dot' }),
      badRequest(),
    )
  })
})

test('a server that is not there fails start as unavailable', async () => {
  const b = new JetStreamBroker({ servers: 'nats://127.0.0.1:1' })
  await assert.rejects(b.start(), unavailable)
  await b.stop()
})

test('publish fails as unavailable when the stream cannot store the message', async () => {
  const nc = await connect({ servers: server.url })
  try {
    const jsm = await jetstreamManager(nc)
    // A full stream that refuses new messages (the broker then uses the stream that is there).
    await jsm.streams.add({ name: 'MICA_full', subjects: ['full', 'full.>'], max_msgs: 1, discard: 'new' })
    await withBrokers(1, {}, async (b) => {
      await b.publish('full.a', { body: bytes('1') })
      await assert.rejects(b.publish('full.a', { body: bytes('2') }), unavailable)
    })
  } finally {
    await nc.close()
  }
})

test('at-least-once: a handler failing the first 2 deliveries of each message still handles all', async () => {
  const failures: unknown[] = []
  const onError = (e: unknown): void => void failures.push(e)
  await withBrokers(2, { onError, backoffMs: [10, 30] }, async (pub, sub) => {
    const attempts = new Map<string, number[]>()
    const done = new Set<string>()
    await sub.subscribe('retry.work', (m) => {
      const seq = m.metadata.seq!
      attempts.set(seq, [...(attempts.get(seq) ?? []), m.delivery!.attempt])
      if (m.delivery!.attempt <= 2) throw new Error(`fail ${seq}`)
      done.add(seq)
    })
    for (let i = 0; i < 10; i++)
      await pub.publish('retry.work', { body: bytes('x'), metadata: { seq: String(i) } })
    await until(() => done.size === 10, 'every message handled', 10_000)
    for (const list of attempts.values()) assert.deepEqual(list, [1, 2, 3])
    assert.equal(sub.handlerErrors, 20)
    assert.equal(failures.length, 20)
  })
})

test('a handler can nack explicitly; the message comes back with the next attempt', async () => {
  await withBrokers(2, {}, async (pub, sub) => {
    const seen: number[] = []
    await sub.subscribe('nack.me', (m) => {
      seen.push(m.delivery!.attempt)
      if (m.delivery!.attempt === 1) m.delivery!.nack(50)
    })
    await pub.publish('nack.me', { body: bytes('x') })
    await until(() => seen.length === 2, 'the redelivery')
    await barrier(pub, sub)
    assert.deepEqual(seen, [1, 2])
    assert.equal(sub.handlerErrors, 0)
  })
})

test('a poison message reaches the dead-letter subject after maxDeliver; the subscription goes on', async () => {
  const nc = await connect({ servers: server.url })
  const dead: Msg[] = []
  nc.subscribe('mica.dead.poison.pill', { callback: (_e, m) => void dead.push(m) })
  await nc.flush()
  try {
    await withBrokers(2, { maxDeliver: 3, onError: () => {} }, async (pub, sub) => {
      const attempts: number[] = []
      const good: string[] = []
      await sub.subscribe('poison.pill', (m) => {
        if (m.metadata.kind === 'good') return void good.push(text(m.body))
        attempts.push(m.delivery!.attempt)
        throw new Error('cannot digest\nthis')
      })
      await pub.publish('poison.pill', { body: bytes('bad'), metadata: { kind: 'poison' } })
      await until(() => dead.length === 1, 'the dead letter')
      assert.deepEqual(attempts, [1, 2, 3])
      const h = dead[0]!.headers!
      assert.equal(dead[0]!.string(), 'bad')
      assert.equal(h.get(DEAD_HEADERS.topic), 'poison.pill')
      assert.equal(h.get(DEAD_HEADERS.deliveries), '3')
      assert.equal(h.get(DEAD_HEADERS.error), 'cannot digest this')
      assert.equal(h.get('Mica-Md-kind'), 'poison')
      await pub.publish('poison.pill', { body: bytes('fine'), metadata: { kind: 'good' } })
      await until(() => good.length === 1, 'the next message')
      await sleep(100) // terminated: never delivered again
      assert.deepEqual(attempts, [1, 2, 3])
    })
  } finally {
    await nc.close()
  }
})

test('durability: messages published while the durable subscriber is away arrive when it starts', async () => {
  await withBrokers(1, {}, async (pub) => {
    const first = broker()
    await first.start()
    await (await first.subscribe('ledger.entry', () => {}, { durable: 'ledger' })).unsubscribe()
    await first.stop()
    for (let i = 0; i < 5; i++) await pub.publish('ledger.entry', { body: bytes(String(i)) })
    await withBrokers(1, {}, async (second) => {
      const got: string[] = []
      await second.subscribe('ledger.entry', (m) => void got.push(text(m.body)), { durable: 'ledger' })
      await until(() => got.length === 5, 'the stored messages')
      assert.deepEqual(got, ['0', '1', '2', '3', '4'])
    })
  })
})

test('a subscriber stopped mid-handler gets its message redelivered to the next one', async () => {
  const ackWaitMs = 1000
  await withBrokers(1, { ackWaitMs }, async (pub) => {
    const first = broker({ ackWaitMs })
    await first.start()
    let release = (): void => {}
    const entered: number[] = []
    await first.subscribe(
      'crash.job',
      (m) => {
        entered.push(m.delivery!.attempt)
        return new Promise<void>((resolve) => (release = resolve))
      },
      { durable: 'crashy' },
    )
    await pub.publish('crash.job', { body: bytes('j') })
    await until(() => entered.length === 1, 'the first delivery')
    await first.stop()
    release() // too late: its ack has no connection to go on
    await withBrokers(1, { ackWaitMs }, async (second) => {
      const got: number[] = []
      await second.subscribe('crash.job', (m) => void got.push(m.delivery!.attempt), { durable: 'crashy' })
      await until(() => got.length === 1, 'the redelivery', ackWaitMs + 4000)
      assert.deepEqual(got, [2])
    })
  })
})

test('queue group: members on two brokers share one durable; each message handled once', async () => {
  await withBrokers(3, {}, async (pub, a, b) => {
    const handled = new Map<string, string>()
    const twice: string[] = []
    for (const [who, sub] of [
      ['a', a],
      ['b', b],
    ] as const) {
      await sub.subscribe(
        'shared.task',
        (m) => {
          if (handled.has(m.metadata.seq!)) twice.push(m.metadata.seq!)
          handled.set(m.metadata.seq!, who)
        },
        { queue: 'pool' },
      )
    }
    for (let i = 0; i < 60; i++)
      await pub.publish('shared.task', { body: bytes('t'), metadata: { seq: String(i) } })
    await until(() => handled.size === 60, 'every task')
    await barrier(pub, a)
    assert.deepEqual(twice, [])
    const counts = [...handled.values()].reduce(
      (c, w) => c.set(w, (c.get(w) ?? 0) + 1),
      new Map<string, number>(),
    )
    assert.equal(handled.size, 60)
    // The server hands pull requests messages in turn, so both members work.
    for (const who of ['a', 'b'])
      assert.ok((counts.get(who) ?? 0) >= 10, `spread: ${JSON.stringify([...counts])}`)
  })
})

test('a durable takes the latest ackWaitMs; the same durable on another topic is a conflict', async () => {
  const nc = await connect({ servers: server.url })
  try {
    const jsm = await jetstreamManager(nc)
    await withBrokers(1, {}, async (b) => {
      await (await b.subscribe('conf.a', () => {}, { durable: 'conf' })).unsubscribe()
      await assert.rejects(
        b.subscribe('conf.b', () => {}, { durable: 'conf' }),
        (e: unknown) => e instanceof ConflictError,
      )
    })
    await withBrokers(1, { ackWaitMs: 2500 }, async (b) => {
      await b.subscribe('conf.a', () => {}, { durable: 'conf' })
      assert.equal((await jsm.consumers.info('MICA_conf', 'conf')).config.ack_wait, 2500 * 1_000_000)
    })
  } finally {
    await nc.close()
  }
})

test('a message nacked on its last allowed delivery is dead-lettered when it comes back', async () => {
  const nc = await connect({ servers: server.url })
  const dead: Msg[] = []
  nc.subscribe('mica.dead.nacky.one', { callback: (_e, m) => void dead.push(m) })
  await nc.flush()
  try {
    await withBrokers(2, { maxDeliver: 2 }, async (pub, sub) => {
      const attempts: number[] = []
      await sub.subscribe('nacky.one', (m) => {
        attempts.push(m.delivery!.attempt)
        m.delivery!.nack(10)
      })
      await pub.publish('nacky.one', { body: bytes('n') })
      await until(() => dead.length === 1, 'the dead letter')
      assert.deepEqual(attempts, [1, 2], 'the handler never sees a delivery past maxDeliver')
      assert.equal(dead[0]!.headers!.get(DEAD_HEADERS.deliveries), '3')
      assert.match(dead[0]!.headers!.get(DEAD_HEADERS.error), /without an ack/)
    })
  } finally {
    await nc.close()
  }
})
