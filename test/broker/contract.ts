// The broker contract: one suite that every Broker implementation runs (memory, direct, nats,
// jetstream). A harness gives a publisher and a subscriber (the same broker, or two connections that
// must reach each other); `features` says what a broker's delivery model changes (JetStream refuses a
// leading wildcard, and gives a failed message back instead of losing it).
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { BadRequestError, ErrorCode, UnavailableError } from '../../src/errors.ts'
import { LIMITS, type Broker, type BrokerBaseOptions, type BrokerMessage } from '../../src/broker/broker.ts'

export interface Harness {
  publisher: Broker
  subscriber: Broker
  stop(): Promise<void>
}

/** Started brokers sharing one backend; `options` go to both. */
export type HarnessFactory = (options?: BrokerBaseOptions) => Promise<Harness>

/** An unstarted broker, for lifecycle tests. */
export type BrokerFactory = () => Broker

export interface BrokerFeatures {
  /** Patterns may start with a wildcard (`>`, `*.b`). Default true. */
  leadingWildcards?: boolean
  /** A message whose handler failed is delivered again (at-least-once). Default false: it is gone. */
  redelivers?: boolean
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)
const text = (body: Uint8Array): string => new TextDecoder().decode(body)

/** Waits until `check` holds, polling; fails with `what` after `timeoutMs`. */
export async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`)
    await sleep(5)
  }
}

/**
 * Everything published before this call has reached the subscriber: one publisher's messages arrive
 * in order, so once a marker published last is in, the earlier ones are too (or never will be).
 */
async function barrier(h: Harness): Promise<void> {
  let seen = false
  const sub = await h.subscriber.subscribe('barrier.marker', () => {
    seen = true
  })
  await h.publisher.publish('barrier.marker', { body: new Uint8Array() })
  await until(() => seen, 'the barrier')
  await sub.unsubscribe()
}

function isBadRequest(code: string = ErrorCode.BAD_REQUEST): (error: unknown) => boolean {
  return (error) => error instanceof BadRequestError && error.code === code && error.status === 400
}

function resources(): Map<string, number> {
  const counts = new Map<string, number>()
  for (const r of process.getActiveResourcesInfo()) counts.set(r, (counts.get(r) ?? 0) + 1)
  return counts
}

export function brokerContract(
  label: string,
  factory: HarnessFactory,
  create: BrokerFactory,
  features: BrokerFeatures = {},
): void {
  const { leadingWildcards = true, redelivers = false } = features
  const run = (name: string, body: (h: Harness) => Promise<void>, options?: BrokerBaseOptions): void => {
    test(`${label} - ${name}`, async () => {
      const h = await factory(options)
      try {
        await body(h)
      } finally {
        await h.stop()
      }
    })
  }

  describe(`${label} broker contract`, () => {
    run('a message round-trips with body, content type and metadata', async (h) => {
      const got: BrokerMessage[] = []
      const sub = await h.subscriber.subscribe('orders.created', (m) => void got.push(m))
      assert.equal(sub.topic, 'orders.created')
      const metadata = { traceId: 'abc-1', 'x.note': ' spaces, ünïcode: and\r\nnewlines ', empty: '' }
      await h.publisher.publish('orders.created', {
        body: bytes('{"id":1}'),
        contentType: 'application/json',
        metadata,
      })
      await h.publisher.publish('orders.created', { body: bytes('plain') })
      await until(() => got.length === 2, 'two messages')
      const [{ delivery: d0, ...first }, { delivery: d1, ...second }] = got as [BrokerMessage, BrokerMessage]
      assert.equal(first.topic, 'orders.created')
      assert.equal(text(first.body), '{"id":1}')
      assert.equal(first.contentType, 'application/json')
      assert.deepEqual(first.metadata, metadata)
      assert.deepEqual(second, { topic: 'orders.created', body: bytes('plain'), metadata: {} })
      // an at-least-once broker says which delivery this is; the others carry no delivery at all
      assert.deepEqual([d0?.attempt, d1?.attempt], redelivers ? [1, 1] : [undefined, undefined])
    })

    run('every subscriber gets every message, in order', async (h) => {
      const seen: string[][] = [[], [], [], [], []]
      for (const list of seen) await h.subscriber.subscribe('fan.out', (m) => void list.push(text(m.body)))
      const sent = Array.from({ length: 20 }, (_, i) => String(i))
      for (const s of sent) await h.publisher.publish('fan.out', { body: bytes(s) })
      await until(() => seen.every((l) => l.length === sent.length), 'fan-out')
      for (const list of seen) assert.deepEqual(list, sent)
    })

    run('a queue group handles each message once; a plain subscriber sees all', async (h) => {
      const total = 300
      const members = [0, 1, 2].map(() => new Set<string>())
      const all: string[] = []
      for (const member of members) {
        const sub = await h.subscriber.subscribe('jobs.run', (m) => void member.add(m.metadata.seq!), {
          queue: 'workers',
        })
        assert.equal(sub.queue, 'workers')
      }
      await h.subscriber.subscribe('jobs.*', (m) => void all.push(m.metadata.seq!))
      for (let i = 0; i < total; i++) {
        await h.publisher.publish('jobs.run', { body: new Uint8Array([1]), metadata: { seq: String(i) } })
      }
      const handled = (): number => members.reduce((sum, m) => sum + m.size, 0)
      await until(() => handled() >= total && all.length >= total, 'every job')
      await barrier(h)
      assert.equal(handled(), total, 'no message handled twice in the group')
      assert.equal(new Set(members.flatMap((m) => [...m])).size, total, 'every message handled once')
      assert.equal(all.length, total)
      for (const m of members) assert.ok(m.size >= total / 6, `uneven spread: ${members.map((x) => x.size)}`)
    })

    run('wildcards: * is one token, > is the rest', async (h) => {
      const got = new Map<string, string[]>()
      const patterns = ['a.*', 'a.>', 'a.*.c', 'b.*', ...(leadingWildcards ? ['>'] : [])]
      for (const pattern of patterns) {
        got.set(pattern, [])
        await h.subscriber.subscribe(pattern, (m) => void got.get(pattern)!.push(m.topic))
      }
      for (const topic of ['a', 'a.b', 'a.b.c', 'a.b.d', 'b.x.y']) {
        await h.publisher.publish(topic, { body: new Uint8Array() })
      }
      await barrier(h)
      assert.deepEqual(got.get('a.*'), ['a.b'])
      assert.deepEqual(got.get('a.>'), ['a.b', 'a.b.c', 'a.b.d'])
      assert.deepEqual(got.get('a.*.c'), ['a.b.c'])
      assert.deepEqual(got.get('b.*'), [])
      if (leadingWildcards) {
        assert.deepEqual(got.get('>')!.slice(0, 5), ['a', 'a.b', 'a.b.c', 'a.b.d', 'b.x.y'])
      } else {
        for (const pattern of ['>', '*.b']) {
          await assert.rejects(
            h.subscriber.subscribe(pattern, () => {}),
            isBadRequest(),
            pattern,
          )
        }
      }
    })

    run('unsubscribe stops delivery', async (h) => {
      const got: string[] = []
      const sub = await h.subscriber.subscribe('news', (m) => void got.push(text(m.body)))
      await h.publisher.publish('news', { body: bytes('one') })
      await until(() => got.length === 1, 'the first message')
      await sub.unsubscribe()
      await sub.unsubscribe()
      await h.publisher.publish('news', { body: bytes('two') })
      await barrier(h)
      assert.deepEqual(got, ['one'])
    })

    const failures: unknown[] = []
    run(
      'a throwing handler is reported and its subscription keeps running',
      async (h) => {
        failures.length = 0
        const handled: number[] = []
        const failed = new Set<number>()
        // each failing message fails its first delivery only: a redelivering broker brings it back once
        await h.subscriber.subscribe('flaky', async (m) => {
          const n = Number(text(m.body))
          handled.push(n)
          const first = !failed.has(n)
          if (n % 3 === 0 && first) {
            failed.add(n)
            throw new Error(`sync ${n}`)
          }
          await sleep(1)
          if (n % 3 === 1 && first) {
            failed.add(n)
            throw new Error(`async ${n}`)
          }
        })
        for (let n = 0; n < 9; n++) await h.publisher.publish('flaky', { body: bytes(String(n)) })
        const deliveries = redelivers ? 15 : 9
        await until(() => handled.length === deliveries && failures.length === 6, 'deliveries and failures')
        await barrier(h)
        assert.equal(h.subscriber.handlerErrors, 6)
        assert.equal(handled.length, deliveries, 'nothing delivered more often than that')
        if (redelivers) {
          const count = (n: number): number => handled.filter((x) => x === n).length
          for (let n = 0; n < 9; n++) assert.equal(count(n), n % 3 === 2 ? 1 : 2, `deliveries of ${n}`)
        } else {
          assert.deepEqual(handled, [0, 1, 2, 3, 4, 5, 6, 7, 8])
        }
      },
      { onError: (error) => void failures.push(error) },
    )

    run('bad topics, queues and messages are refused as bad requests', async (h) => {
      const body = new Uint8Array()
      const badPublish = ['', 'a..b', '.a', 'a.', 'a b', 'a\tb', 'a.*', 'a.>', '>', 'a*', 'x'.repeat(257)]
      for (const topic of badPublish) {
        await assert.rejects(h.publisher.publish(topic, { body }), isBadRequest(), JSON.stringify(topic))
      }
      for (const topic of ['', 'a.>.b', 'a b', 'a..*', 'a*.b', 'y'.repeat(257)]) {
        await assert.rejects(
          h.subscriber.subscribe(topic, () => {}),
          isBadRequest(),
          JSON.stringify(topic),
        )
      }
      await assert.rejects(
        h.subscriber.subscribe('ok', () => {}, { queue: 'bad queue' }),
        isBadRequest(),
      )
      await assert.rejects(h.publisher.publish('ok', { body, metadata: { 'bad key': 'v' } }), isBadRequest())
      await assert.rejects(
        h.publisher.publish('ok', { body: 'text' as unknown as Uint8Array }),
        isBadRequest(),
      )
      await assert.rejects(h.publisher.publish('ok', { body, contentType: 'a\nb' }), isBadRequest())
      const big = new Uint8Array(LIMITS.bodyBytes + 1)
      await assert.rejects(
        h.publisher.publish('ok', { body: big }),
        isBadRequest(ErrorCode.MESSAGE_TOO_LARGE),
      )
      await h.publisher.publish('ok', { body: new Uint8Array(LIMITS.bodyBytes) })
    })

    test(`${label} - a broker refuses work before start and after stop; stop is idempotent`, async () => {
      const broker = create()
      const unavailable = (e: unknown): boolean => e instanceof UnavailableError && e.retryable
      await assert.rejects(broker.publish('a', { body: new Uint8Array() }), unavailable)
      await broker.start()
      await assert.rejects(broker.start(), unavailable)
      await broker.stop()
      await broker.stop()
      await assert.rejects(broker.publish('a', { body: new Uint8Array() }), unavailable)
      await assert.rejects(
        broker.subscribe('a', () => {}),
        unavailable,
      )
      await assert.rejects(broker.start(), unavailable)
    })

    test(`${label} - stop leaves no handle open`, async () => {
      const before = resources()
      const h = await factory()
      let got = 0
      await h.subscriber.subscribe('handles', () => void got++, { queue: 'q' })
      await h.publisher.publish('handles', { body: new Uint8Array() })
      await until(() => got === 1, 'a message')
      await h.stop()
      // No more of any kind than before (fewer is fine: an earlier test's socket may have closed since).
      const none = (): boolean => [...resources()].every(([kind, n]) => n <= (before.get(kind) ?? 0))
      await until(none, 'no new handle', 3000).catch(() => {
        assert.deepEqual(Object.fromEntries(resources()), Object.fromEntries(before))
      })
    })
  })
}
