// The jetstream journal: the contract on a nats-server of this file's own (each case on its own
// stream, subjects and bucket), then what only a shared, networked store has: two instances racing,
// msg-id de-duplication, long streams, KV snapshots, and a server restart.
import { test, before, after } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import assert from 'node:assert/strict'
import { connect, headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node'
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream'
import { Kvm } from '@nats-io/kv'
import { ConflictError, UnavailableError } from '../../src/errors.ts'
import { JetStreamJournal, type JetStreamJournalOptions } from '../../src/journal/jetstream.ts'
import { APPEND_HEADER, SEQ_HEADER, encodeAppend } from '../../src/journal/jetstream-codec.ts'
import { encodeId } from '../../src/journal/jetstream-subjects.ts'
import { fetchTip, readRange, type ReadContext } from '../../src/journal/jetstream-reader.ts'
import { MAX_PERSISTENCE_ID_LENGTH, type JournalEvent } from '../../src/journal/journal.ts'
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts'
import { bytes, journalContract, text, texts } from './contract.ts'

const maxEventBytes = 4096
let server: NatsServer
let unique = 0

before(async () => {
  server = await startNatsServer()
})
after(() => server.close())

/** Options for a journal on names no other case uses. */
function fresh(extra: Partial<JetStreamJournalOptions> = {}): JetStreamJournalOptions {
  unique++
  return {
    servers: server.url,
    stream: `J${unique}`,
    subjectPrefix: `j${unique}.ev`,
    snapshotBucket: `S${unique}`,
    maxEventBytes,
    requestTimeoutMs: 2000,
    reconnectTimeWaitMs: 100,
    ...extra,
  }
}

async function open(options: JetStreamJournalOptions): Promise<JetStreamJournal> {
  const journal = new JetStreamJournal(options)
  await journal.start()
  return journal
}

journalContract('jetstream', async () => {
  const options = fresh()
  let journal = await open(options)
  return {
    get journal() {
      return journal
    },
    maxEventBytes,
    reopen: async () => {
      await journal.stop()
      journal = await open(options)
      return journal
    },
    stop: () => journal.stop(),
  }
})

test('jetstream - two instances racing on one sequence: one wins, the other conflicts, no interleaving', async () => {
  const options = fresh()
  const [a, b] = await Promise.all([open(options), open(options)])
  try {
    for (let round = 0; round < 20; round++) {
      const expected = round * 3
      const results = await Promise.allSettled([
        a.append('race', [bytes(`a${round}-1`), bytes(`a${round}-2`), bytes(`a${round}-3`)], expected),
        b.append('race', [bytes(`b${round}-1`), bytes(`b${round}-2`), bytes(`b${round}-3`)], expected),
      ])
      const won = results.filter((r) => r.status === 'fulfilled')
      const lost = results.filter((r) => r.status === 'rejected')
      assert.equal(won.length, 1, `round ${round}`)
      assert.equal((won[0] as PromiseFulfilledResult<number>).value, expected + 3)
      assert.ok((lost[0] as PromiseRejectedResult).reason instanceof ConflictError)
      assert.equal((lost[0] as PromiseRejectedResult).reason.status, 409)
    }
    const stored = await texts(a, 'race')
    assert.equal(stored.length, 60)
    for (let i = 0; i < 60; i += 3) {
      const writer = stored[i]!.slice(0, 1)
      const round = stored[i]!.slice(1).split('-')[0]
      assert.deepEqual(
        stored.slice(i, i + 3),
        [1, 2, 3].map((n) => `${writer}${round}-${n}`),
      )
    }
    assert.deepEqual(await texts(b, 'race'), stored)
    assert.equal(await b.highestSeq('race'), 60)
  } finally {
    await Promise.all([a.stop(), b.stop()])
  }
})

test('jetstream - a publish repeated with the same msg id is stored once', async () => {
  const options = fresh()
  const journal = await open(options)
  const nc = await connect({ servers: server.url })
  try {
    await journal.append('dup', [bytes('first')], 0)
    const js = jetstream(nc)
    const subject = `${options.subjectPrefix}.${encodeId('dup')}`
    const body = encodeAppend([bytes('second'), bytes('third')], Date.now())
    const publish = () => {
      const h = natsHeaders()
      h.set(SEQ_HEADER, '3')
      h.set(APPEND_HEADER, 'retry-test')
      return js.publish(subject, body, { headers: h, msgID: `${encodeId('dup')}:2` })
    }
    const firstAck = await publish()
    const retryAck = await publish() // what a resend after a lost ack does
    assert.equal(firstAck.duplicate, false)
    assert.equal(retryAck.duplicate, true)
    assert.equal(retryAck.seq, firstAck.seq)
    assert.deepEqual(await texts(journal, 'dup'), ['first', 'second', 'third'])
    assert.equal(await journal.highestSeq('dup'), 3)
    const info = await (await jetstreamManager(nc)).streams.info(options.stream!)
    assert.equal(info.state.messages, 2)
    // Another writer reusing that msg id (same sequence) is a conflict, not a silent success.
    await assert.rejects(journal.append('dup', [bytes('late')], 1), ConflictError)
    assert.equal(await journal.append('dup', [bytes('fourth')], 3), 4)
  } finally {
    await nc.close()
    await journal.stop()
  }
})

test('jetstream - 10,000 events of one id read back complete and in order, from anywhere', async () => {
  const journal = await open(fresh())
  try {
    const started = performance.now()
    const writeA = async () => {
      for (let i = 0; i < 2000; i++)
        await journal.append(
          'long',
          [0, 1, 2, 3, 4].map((k) => bytes(`e${i * 5 + k + 1}`)),
          i * 5,
        )
    }
    const writeB = async () => {
      for (let i = 0; i < 1000; i++) await journal.append('other', [bytes(`o${i + 1}`)], i)
    }
    await Promise.all([writeA(), writeB()])
    const seconds = (performance.now() - started) / 1000
    console.log(`jetstream journal: 3000 appends (11,000 events) in ${seconds.toFixed(2)} s`)
    const all = await journal.read('long', 1)
    assert.equal(all.length, 10_000)
    assert.ok(all.every((e, i) => e.seq === i + 1 && text(e.payload) === `e${i + 1}`))
    const middle = await journal.read('long', 4321, { max: 1000 })
    assert.deepEqual([middle[0]!.seq, middle.at(-1)!.seq, middle.length], [4321, 5320, 1000])
    assert.ok(middle.every((e, i) => text(e.payload) === `e${4321 + i}`))
    assert.deepEqual(
      (await journal.read('long', 9998)).map((e) => e.seq),
      [9998, 9999, 10_000],
    )
    assert.deepEqual(
      (await journal.read('long', 7, { toSeq: 8 })).map((e) => text(e.payload)),
      ['e7', 'e8'],
    )
    await journal.deleteTo('long', 7777)
    const rest = await journal.read('long', 1)
    assert.equal(rest.length, 10_000 - 7777)
    assert.equal(rest[0]!.seq, 7778)
    assert.equal(await journal.highestSeq('long'), 10_000)
    assert.equal((await journal.read('other', 1)).length, 1000)
  } finally {
    await journal.stop()
  }
})

test('jetstream - a long read goes on with direct gets when its consumer cannot be had, or breaks midway', async () => {
  const options = fresh()
  const journal = await open(options)
  const nc = await connect({ servers: server.url })
  try {
    for (let i = 0; i < 100; i++) await journal.append('walk', [bytes(`w${i + 1}`)], i)
    const real = jetstream(nc, { timeout: 2000 })
    const jsm = await jetstreamManager(nc, { timeout: 2000 })
    const subject = `${options.subjectPrefix}.${encodeId('walk')}`
    const ctx = (js: JetStreamClient): ReadContext => ({
      js,
      jsm,
      stream: options.stream!,
      subject,
      timeout: 2000,
    })
    const tip = await fetchTip(ctx(real))
    const expected = Array.from({ length: 100 }, (_, i) => `w${i + 1}`)
    const payloads = (events: JournalEvent[]) => events.map((e) => text(e.payload))
    // as when nats-server 2.9 placed the ordered consumer on a server that is down: creation times out
    const noConsumer = {
      consumers: { get: () => Promise.reject(new Error('timeout')) },
    } as unknown as JetStreamClient
    assert.deepEqual(payloads(await readRange(ctx(noConsumer), 1, 100, tip)), expected)
    // a consumer that delivers 30 messages, then fails: the rest is read once, after them
    const breaking = {
      consumers: {
        get: async (stream: string, opts: unknown) => {
          const consumer = await real.consumers.get(stream, opts as never)
          return {
            consume: async (o: unknown) => {
              const messages = await consumer.consume(o as never)
              return {
                close: () => messages.close(),
                async *[Symbol.asyncIterator]() {
                  let n = 0
                  for await (const m of messages) {
                    if (++n > 30) throw new Error('connection lost')
                    yield m
                  }
                },
              }
            },
          }
        },
      },
    } as unknown as JetStreamClient
    assert.deepEqual(payloads(await readRange(ctx(breaking), 1, 100, tip)), expected)
    assert.deepEqual(payloads(await readRange(ctx(noConsumer), 41, 90, tip)), expected.slice(40, 90))
  } finally {
    await nc.close()
    await journal.stop()
  }
})

test('jetstream - snapshots round-trip through the KV bucket, long and odd ids included', async () => {
  const options = fresh()
  const journal = await open(options)
  const odd = ['x'.repeat(MAX_PERSISTENCE_ID_LENGTH), 'a.b c*>\u{1F600}', '\uD800lone', '\uFFFDlone']
  try {
    for (const [i, id] of odd.entries()) {
      await journal.append(id, [bytes(`${i}:1`), bytes(`${i}:2`)], 0)
      await journal.saveSnapshot(id, 2, bytes(`state ${i}`))
    }
    for (const [i, id] of odd.entries()) {
      assert.deepEqual(await texts(journal, id), [`${i}:1`, `${i}:2`])
      const snapshot = await journal.loadSnapshot(id)
      assert.equal(snapshot?.seq, 2)
      assert.equal(text(snapshot.bytes), `state ${i}`)
    }
    const other = await open(options) // another process sees the same snapshots
    assert.equal(text((await other.loadSnapshot(odd[1]!))!.bytes), 'state 1')
    await other.stop()
    // they live in the KV bucket: one live key per id
    const nc = await connect({ servers: server.url })
    try {
      const kv = await new Kvm(nc).open(options.snapshotBucket!)
      assert.equal((await kv.status()).values, odd.length)
    } finally {
      await nc.close()
    }
  } finally {
    await journal.stop()
  }
})

test('jetstream - a server restart: calls fail as unavailable meanwhile, then work, nothing lost', async () => {
  const journal = await open(fresh())
  try {
    await journal.append('r', [bytes('1'), bytes('2')], 0)
    await journal.saveSnapshot('r', 2, bytes('s2'))
    await server.stop()
    await sleep(200) // the client sees the socket close
    const failures = await Promise.allSettled([
      journal.append('r', [bytes('3')], 2),
      journal.read('r', 1),
      journal.highestSeq('r'),
      journal.loadSnapshot('r'),
    ])
    for (const result of failures) {
      assert.equal(result.status, 'rejected')
      assert.ok(result.reason instanceof UnavailableError, String(result.reason))
      assert.equal(result.reason.status, 503)
      assert.equal(result.reason.retryable, true)
    }
    await server.restart()
    const until = Date.now() + 15_000
    let highest: number | undefined
    while (highest === undefined) {
      try {
        highest = await journal.highestSeq('r')
      } catch (error) {
        assert.ok(error instanceof UnavailableError)
        if (Date.now() > until) throw error
        await sleep(100)
      }
    }
    assert.equal(highest, 2)
    assert.deepEqual(await texts(journal, 'r'), ['1', '2'])
    assert.equal(text((await journal.loadSnapshot('r'))!.bytes), 's2')
    assert.equal(await journal.append('r', [bytes('3')], 2), 3)
    assert.deepEqual(await texts(journal, 'r'), ['1', '2', '3'])
  } finally {
    await journal.stop()
  }
})

test('jetstream - a given connection is used and left open by stop', async () => {
  const nc: NatsConnection = await connect({ servers: server.url })
  try {
    const { servers: _servers, ...rest } = fresh()
    const journal = await open({ ...rest, connection: nc })
    assert.equal(await journal.append('c', [bytes('x')], 0), 1)
    await journal.stop()
    assert.equal(nc.isClosed(), false)
    await assert.rejects(journal.highestSeq('c'), { code: 'unavailable' })
    await assert.rejects(journal.start(), { code: 'unavailable' })
  } finally {
    await nc.close()
  }
})

test('jetstream - unreachable server: start fails as unavailable', async () => {
  const journal = new JetStreamJournal({
    servers: 'nats://127.0.0.1:1',
    reconnect: false,
    maxReconnectAttempts: 0,
  })
  await assert.rejects(journal.start(), { code: 'unavailable', status: 503 })
  await journal.stop()
})
