// The journal contract: one suite that every Journal implementation runs (memory, file, jetstream).
// A harness gives a started journal and, where storage outlives the instance, a way to stop it and
// open a new one on the same storage.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { BadRequestError, ConflictError, UnavailableError } from '../../src/errors.ts'
import { MAX_PERSISTENCE_ID_LENGTH, type Journal } from '../../src/journal/journal.ts'

export interface Harness {
  journal: Journal
  /** Stops `journal` and starts a new one on the same storage (absent: nothing survives a stop). */
  reopen?(): Promise<Journal>
  /** The largest payload the journal was configured to accept. */
  maxEventBytes: number
  /** Stops whatever is open and removes its storage. */
  stop(): Promise<void>
}

export type HarnessFactory = () => Promise<Harness>

export const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)
export const text = (payload: Uint8Array): string => new TextDecoder().decode(payload)

export async function texts(journal: Journal, id: string, fromSeq = 1): Promise<string[]> {
  return (await journal.read(id, fromSeq)).map((e) => text(e.payload))
}

export function journalContract(name: string, factory: HarnessFactory): void {
  describe(`${name} journal contract`, () => {
    const withJournal = (title: string, body: (h: Harness) => Promise<void>) =>
      test(`${name} - ${title}`, async () => {
        const h = await factory()
        try {
          await body(h)
        } finally {
          await h.stop()
        }
      })

    withJournal('append then read returns the events in order with their sequences', async ({ journal }) => {
      assert.equal(await journal.append('a', [bytes('one'), bytes('two')], 0), 2)
      assert.equal(await journal.append('a', [bytes('three')], 2), 3)
      const events = await journal.read('a', 1)
      assert.deepEqual(
        events.map((e) => e.seq),
        [1, 2, 3],
      )
      assert.deepEqual(
        events.map((e) => text(e.payload)),
        ['one', 'two', 'three'],
      )
      assert.ok(events.every((e) => e.payload instanceof Uint8Array && typeof e.ts === 'number'))
      assert.deepEqual(await texts(journal, 'a', 2), ['two', 'three'])
      assert.deepEqual(
        (await journal.read('a', 1, { toSeq: 2 })).map((e) => e.seq),
        [1, 2],
      )
      assert.deepEqual(
        (await journal.read('a', 2, { max: 1 })).map((e) => e.seq),
        [2],
      )
      assert.deepEqual(await journal.read('a', 4), [])
      assert.deepEqual(await journal.read('never-written', 1), [])
    })

    withJournal(
      'a caller reusing its buffers (in or out) does not change what was stored',
      async ({ journal }) => {
        const payload = bytes('keep')
        await journal.append('a', [payload], 0)
        payload[0] = 0
        const buffer = Buffer.from('buffer') // Buffer#slice is a view, not a copy: the journal must copy
        await journal.append('a', [buffer], 1)
        buffer[0] = 0
        const [read] = await journal.read('a', 2)
        read!.payload[0] = 0 // nor does mutating what was read change the store
        assert.deepEqual(await texts(journal, 'a'), ['keep', 'buffer'])
      },
    )

    withJournal('highestSeq follows appends and is 0 for a new stream', async ({ journal }) => {
      assert.equal(await journal.highestSeq('a'), 0)
      await journal.append('a', [bytes('1'), bytes('2'), bytes('3')], 0)
      assert.equal(await journal.highestSeq('a'), 3)
      assert.equal(await journal.append('a', [], 3), 3) // an empty append only checks
      assert.equal(await journal.highestSeq('a'), 3)
    })

    withJournal('a stale expectedSeq is a ConflictError naming both sequences', async ({ journal }) => {
      await journal.append('a', [bytes('1')], 0)
      const err = await journal.append('a', [bytes('x')], 0).catch((e: unknown) => e)
      assert.ok(err instanceof ConflictError)
      assert.equal(err.status, 409)
      assert.equal(err.code, 'conflict')
      assert.match(err.detail, /expected sequence 0.*highest is 1/)
      await assert.rejects(journal.append('a', [bytes('x')], 5), ConflictError)
      assert.deepEqual(await texts(journal, 'a'), ['1'])
    })

    withJournal('two writers racing on one sequence: one wins, nothing interleaves', async ({ journal }) => {
      const results = await Promise.allSettled([
        journal.append('a', [bytes('w1-a'), bytes('w1-b')], 0),
        journal.append('a', [bytes('w2-a'), bytes('w2-b')], 0),
      ])
      const ok = results.filter((r) => r.status === 'fulfilled')
      const failed = results.filter((r) => r.status === 'rejected')
      assert.equal(ok.length, 1)
      assert.equal(failed.length, 1)
      assert.ok((failed[0] as PromiseRejectedResult).reason instanceof ConflictError)
      const stored = await texts(journal, 'a')
      assert.ok(
        JSON.stringify(stored) === '["w1-a","w1-b"]' || JSON.stringify(stored) === '["w2-a","w2-b"]',
        `interleaved: ${stored.join(',')}`,
      )
    })

    withJournal('concurrent appends in sequence to one stream all land in order', async ({ journal }) => {
      const appends = Array.from({ length: 50 }, (_, i) => journal.append('a', [bytes(`e${i + 1}`)], i))
      assert.deepEqual(
        await Promise.all(appends),
        Array.from({ length: 50 }, (_, i) => i + 1),
      )
      assert.deepEqual(
        await texts(journal, 'a'),
        Array.from({ length: 50 }, (_, i) => `e${i + 1}`),
      )
    })

    withJournal('snapshots: none at first, the last one saved wins', async ({ journal }) => {
      assert.equal(await journal.loadSnapshot('a'), undefined)
      await journal.append('a', [bytes('1'), bytes('2'), bytes('3')], 0)
      await journal.saveSnapshot('a', 1, bytes('state@1'))
      await journal.saveSnapshot('a', 3, bytes('state@3'))
      const snapshot = await journal.loadSnapshot('a')
      assert.equal(snapshot?.seq, 3)
      assert.equal(text(snapshot.bytes), 'state@3')
      assert.equal(typeof snapshot.ts, 'number')
      await assert.rejects(journal.saveSnapshot('a', 4, bytes('ahead')), BadRequestError)
      assert.equal(await journal.loadSnapshot('b'), undefined)
    })

    withJournal('deleteTo hides older events but keeps the sequence going', async ({ journal }) => {
      await journal.append('a', [bytes('1'), bytes('2'), bytes('3'), bytes('4')], 0)
      await journal.deleteTo('a', 2)
      assert.deepEqual(await texts(journal, 'a'), ['3', '4'])
      await journal.deleteTo('a', 1) // never lowers
      assert.deepEqual(await texts(journal, 'a'), ['3', '4'])
      assert.equal(await journal.highestSeq('a'), 4)
      await journal.deleteTo('a', 100) // taken as the highest
      assert.deepEqual(await texts(journal, 'a'), [])
      assert.equal(await journal.append('a', [bytes('5')], 4), 5)
      assert.deepEqual(await texts(journal, 'a'), ['5'])
    })

    withJournal('many persistence ids stay apart', async ({ journal }) => {
      const ids = Array.from({ length: 100 }, (_, i) => `actor/${i}`)
      await Promise.all(ids.map((id) => journal.append(id, [bytes(`${id}:1`), bytes(`${id}:2`)], 0)))
      await Promise.all(ids.map((id) => journal.append(id, [bytes(`${id}:3`)], 2)))
      for (const id of ids) assert.deepEqual(await texts(journal, id), [`${id}:1`, `${id}:2`, `${id}:3`])
    })

    withJournal('bad input is refused with BadRequestError', async ({ journal, maxEventBytes }) => {
      const badIds = ['', 'x'.repeat(MAX_PERSISTENCE_ID_LENGTH + 1), 'a\0b', 42 as unknown as string]
      for (const id of badIds) {
        await assert.rejects(journal.append(id, [bytes('x')], 0), BadRequestError)
        await assert.rejects(journal.read(id, 1), BadRequestError)
        await assert.rejects(journal.highestSeq(id), BadRequestError)
      }
      const tooBig = new Uint8Array(maxEventBytes + 1)
      await assert.rejects(journal.append('a', [tooBig], 0), { status: 400, code: 'bad_request' })
      await assert.rejects(journal.saveSnapshot('a', 0, tooBig), BadRequestError)
      await assert.rejects(journal.append('a', ['text' as unknown as Uint8Array], 0), BadRequestError)
      await assert.rejects(journal.append('a', [bytes('x')], -1), BadRequestError)
      await assert.rejects(journal.append('a', [bytes('x')], 1.5), BadRequestError)
      await assert.rejects(journal.read('a', 1, { max: -1 }), BadRequestError)
      assert.equal(await journal.append('x'.repeat(MAX_PERSISTENCE_ID_LENGTH), [bytes('ok')], 0), 1)
      assert.equal(await journal.append('a', [new Uint8Array(maxEventBytes)], 0), 1)
      assert.equal(await journal.highestSeq('a'), 1) // nothing refused was written
    })

    withJournal('a stopped journal refuses calls as unavailable; stop is idempotent', async (h) => {
      await h.journal.stop()
      await h.journal.stop()
      await assert.rejects(h.journal.append('a', [bytes('x')], 0), UnavailableError)
      await assert.rejects(h.journal.read('a', 1), { code: 'unavailable', status: 503 })
    })

    withJournal('stop and start on the same storage keeps everything', async (h) => {
      if (!h.reopen) return
      await h.journal.append('a', [bytes('1'), bytes('2'), bytes('3')], 0)
      await h.journal.append('b', [bytes('b1')], 0)
      await h.journal.deleteTo('a', 1)
      await h.journal.saveSnapshot('a', 2, bytes('state@2'))
      const journal = await h.reopen()
      assert.deepEqual(await texts(journal, 'a'), ['2', '3'])
      assert.deepEqual(await texts(journal, 'b'), ['b1'])
      assert.equal(await journal.highestSeq('a'), 3)
      assert.equal(text((await journal.loadSnapshot('a'))!.bytes), 'state@2')
      await assert.rejects(journal.append('a', [bytes('x')], 2), ConflictError)
      assert.equal(await journal.append('a', [bytes('4')], 3), 4)
    })
  })
}
