import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createKernel } from '../../src/kernel/kernel.ts'
import { CodecTable } from '../../src/codec/table.ts'
import { MemoryJournal } from '../../src/journal/memory.ts'
import { FileJournal } from '../../src/journal/file.ts'
import {
  eventually,
  MODES,
  rejection,
  sleep,
  withKernel,
  type CapturedLogger,
  type Mode,
} from '../helpers/kernels.ts'
import type { Kernel } from '../../src/kernel/kernel.ts'
import type { KernelOptions } from '../../src/kernel/options.ts'
import { ProbeJournal } from '../helpers/journals.ts'
import { account, plain, tally } from '../fixtures/ledger.ts'
import { counter } from '../fixtures/actors.ts'

const codec = new CodecTable().get(undefined)

/** A kernel hosting the ledger kinds (refs reach hosted kinds only). */
const withLedger: typeof withKernel = (async (mode: Mode, a: unknown, b?: unknown) => {
  const extra = typeof a === 'function' ? {} : (a as KernelOptions)
  const fn = (typeof a === 'function' ? a : b) as (k: Kernel, l: CapturedLogger) => Promise<unknown>
  return withKernel(mode, extra, async (kernel, logger) => {
    for (const def of [account, tally, plain]) await kernel.register(def)
    return fn(kernel, logger)
  })
}) as typeof withKernel
const decoded = async (j: ProbeJournal | MemoryJournal, pid: string): Promise<unknown[]> =>
  (await (j instanceof ProbeJournal ? j.inner : j).read(pid, 1)).map((e) => codec.decode(e.payload))

for (const mode of MODES) {
  describe(`persistent actors (${mode.name})`, () => {
    test(`${mode.name} - events are stored before the reply; a new activation folds them back`, async () => {
      const journal = new ProbeJournal()
      await withLedger(mode, { journal }, async (kernel) => {
        const acct = await kernel.spawn(account, 'a1')
        assert.equal(await acct.ask('deposit', { amount: 10 }), 10)
        assert.equal(await acct.ask('deposit', { amount: 5 }), 15)
        assert.equal(await acct.ask('withdraw', { amount: 3 }), 12)
        assert.deepEqual(await decoded(journal, 'account/a1'), [
          { type: 'deposited', amount: 10 },
          { type: 'deposited', amount: 5 },
          { type: 'withdrew', amount: 3 },
        ])
        // a business error persists nothing and changes nothing
        assert.equal((await rejection(acct.ask('withdraw', { amount: 100 }))).code, 'bad_request')
        assert.equal(await acct.ask('leave'), 'leaving')
        await eventually(async () => (await kernel.stats()).actors === 0)
        assert.deepEqual(await acct.ask('balance'), { balance: 12, entries: 3 })
      })
    })

    test(`${mode.name} - several events of one turn are one atomic append`, async () => {
      const journal = new ProbeJournal()
      await withLedger(mode, { journal }, async (kernel) => {
        const acct = kernel.ref<typeof account>('account/many')
        assert.equal(await acct.ask('depositMany', { amount: 2, count: 5 }), 10)
        assert.equal(await journal.highestSeq('account/many'), 5)
        journal.failAppends = 1
        const failed = await rejection(acct.ask('depositMany', { amount: 1, count: 3 }))
        assert.equal(failed.status, 503)
        assert.equal(await journal.highestSeq('account/many'), 5)
        assert.deepEqual(await acct.ask('balance'), { balance: 10, entries: 5 })
      })
    })

    test(`${mode.name} - a failed append fails the ask, restores the state, and holds back sends and publishes`, async () => {
      const journal = new ProbeJournal()
      await withLedger(mode, { journal }, async (kernel) => {
        await kernel.register(counter)
        const published: unknown[] = []
        await kernel.subscribe('ledger.moved', (m) => void published.push(m))
        const acct = kernel.ref<typeof account>('account/fx')
        const tell = { to: 'counter/seen', topic: 'ledger.moved' }
        assert.equal(await acct.ask('depositAndTell', { amount: 4, ...tell }), 4)
        await eventually(() => published.length === 1)
        assert.equal(await kernel.ref<typeof counter>('counter/seen').ask('get'), 4)

        journal.failAppends = 1
        const failed = await rejection(acct.ask('depositAndTell', { amount: 50, ...tell }))
        assert.deepEqual(failed, { name: 'UnavailableError', code: 'unavailable', status: 503 })
        await sleep(50)
        assert.equal(published.length, 1, 'the failed turn published nothing')
        assert.equal(await kernel.ref<typeof counter>('counter/seen').ask('get'), 4, 'and sent nothing')
        assert.deepEqual(await acct.ask('balance'), { balance: 4, entries: 1 })
        assert.equal(await acct.ask('deposit', { amount: 1 }), 5)
      })
    })

    test(`${mode.name} - the reply, sends and publishes leave only once the append is done`, async () => {
      const journal = new ProbeJournal()
      await withLedger(mode, { journal }, async (kernel) => {
        await kernel.register(counter)
        const published: unknown[] = []
        await kernel.subscribe('ledger.held', (m) => void published.push(m))
        const seen = kernel.ref<typeof counter>('counter/held')
        journal.holdAppends = true
        let replied = false
        const ask = kernel
          .ref<typeof account>('account/held')
          .ask('depositAndTell', { amount: 6, to: 'counter/held', topic: 'ledger.held' })
          .then((n) => ((replied = true), n))
        await sleep(80)
        assert.equal(await journal.highestSeq('account/held'), 0, 'the append is held')
        assert.equal(replied, false, 'no reply before the append')
        assert.deepEqual(published, [], 'no publish before the append')
        assert.equal(await seen.ask('get'), 0, 'no send before the append')
        journal.release()
        assert.equal(await ask, 6)
        assert.equal(await journal.highestSeq('account/held'), 1)
        await eventually(async () => published.length === 1 && (await seen.ask('get')) === 6)
      })
    })

    test(`${mode.name} - a mutating apply still leaves no trace of a failed append (the journal is read again)`, async () => {
      const journal = new ProbeJournal()
      await withLedger(mode, { journal }, async (kernel) => {
        const t = kernel.ref<typeof tally>('tally/m')
        assert.equal(await t.ask('add', { by: 2 }), 2)
        journal.failAppends = 1
        assert.equal((await rejection(t.ask('add', { by: 40 }))).status, 503)
        assert.equal(await t.ask('get'), 2)
      })
    })

    test(`${mode.name} - a turn that persists and then throws stores nothing`, async () => {
      const journal = new ProbeJournal()
      await withLedger(mode, { journal }, async (kernel) => {
        const acct = kernel.ref<typeof account>('account/undo')
        await acct.ask('deposit', { amount: 7 })
        assert.equal((await rejection(acct.ask('depositThenFail', { amount: 9 }))).code, 'bad_request')
        assert.deepEqual(await acct.ask('balance'), { balance: 7, entries: 1 })
        assert.equal(await journal.highestSeq('account/undo'), 1)
        // an event apply cannot fold is refused the same way
        assert.equal((await rejection(acct.ask('bogus'))).code, 'bad_request')
        assert.equal(await journal.highestSeq('account/undo'), 1)
      })
    })

    test(`${mode.name} - async handlers persist after their await; messages wait for the append`, async () => {
      const journal = new ProbeJournal()
      await withLedger(mode, { journal }, async (kernel) => {
        const acct = kernel.ref<typeof account>('account/slow')
        journal.holdAppends = true
        const first = acct.ask('depositLater', { amount: 3, ms: 10 })
        const second = acct.ask('deposit', { amount: 4 })
        await sleep(60)
        assert.equal(await journal.highestSeq('account/slow'), 0)
        journal.release()
        assert.deepEqual(await Promise.all([first, second]), [3, 7])
        assert.deepEqual(await decoded(journal, 'account/slow'), [
          { type: 'deposited', amount: 3 },
          { type: 'deposited', amount: 4 },
        ])
      })
    })

    test(`${mode.name} - a fault restarts the actor from its journal, not from its initial state`, async () => {
      const journal = new ProbeJournal()
      await withLedger(mode, { journal }, async (kernel) => {
        const acct = kernel.ref<typeof account>('account/r')
        await acct.ask('deposit', { amount: 8 })
        assert.equal((await rejection(acct.ask('explode'))).status, 500)
        assert.deepEqual(await acct.ask('balance'), { balance: 8, entries: 1 })
      })
    })

    test(`${mode.name} - snapshots every n events; recovery reads only what follows the snapshot`, async () => {
      const journal = new ProbeJournal(new MemoryJournal(), true)
      await journal.inner.start()
      await withLedger(mode, { journal }, async (kernel) => {
        const t = kernel.ref<typeof tally>('tally/s')
        for (let i = 1; i <= 25; i++) await t.ask('add', { by: 1 })
        await eventually(async () => (await journal.loadSnapshot('tally/s'))?.seq === 20)
        assert.deepEqual(codec.decode((await journal.loadSnapshot('tally/s'))!.bytes), { n: 20 })
      })
      // a second kernel on the same events: recovery starts at 21
      const again = new ProbeJournal(journal.inner, true)
      await withLedger(mode, { journal: again }, async (kernel) => {
        assert.equal(await kernel.ref<typeof tally>('tally/s').ask('get'), 25)
        assert.deepEqual(
          again.reads.filter((r) => r.persistenceId === 'tally/s').map((r) => r.fromSeq),
          [21],
        )
      })
      await journal.inner.stop()
    })

    test(`${mode.name} - two activations of one id: the second writer gets a 409 conflict, never interleaves`, async () => {
      const shared = new MemoryJournal()
      await shared.start()
      try {
        await withLedger(mode, { journal: new ProbeJournal(shared, true) }, (a) =>
          withLedger(mode, { journal: new ProbeJournal(shared, true) }, async (b) => {
            const onA = a.ref<typeof account>('account/twin')
            const onB = b.ref<typeof account>('account/twin')
            await onA.ask('balance')
            await onB.ask('balance') // both activated at sequence 0
            assert.equal(await onA.ask('deposit', { amount: 1 }), 1)
            assert.deepEqual(await rejection(onB.ask('deposit', { amount: 2 })), {
              name: 'ConflictError',
              code: 'conflict',
              status: 409,
            })
            // B read its journal again: its next write lands after A's
            assert.equal(await onB.ask('deposit', { amount: 2 }), 3)
            assert.deepEqual(
              (await shared.read('account/twin', 1)).map((e) => [e.seq, codec.decode(e.payload)]),
              [
                [1, { type: 'deposited', amount: 1 }],
                [2, { type: 'deposited', amount: 2 }],
              ],
            )
          }),
        )
      } finally {
        await shared.stop()
      }
    })

    test(`${mode.name} - idle persistent actors are passivated beyond maxActors and come back whole`, async () => {
      const journal = new ProbeJournal()
      await withLedger(mode, { journal, passivation: { maxActors: 10 } }, async (kernel) => {
        const ids = Array.from({ length: 60 }, (_, i) => `p${i}`)
        for (const id of ids) await kernel.ref<typeof account>(`account/${id}`).ask('deposit', { amount: 1 })
        for (const id of ids) await kernel.ref<typeof account>(`account/${id}`).ask('deposit', { amount: 2 })
        const threads = mode.workers ? 2 : 1
        await eventually(async () => (await kernel.stats()).actors <= 10 * threads)
        for (const id of ids)
          assert.deepEqual(await kernel.ref<typeof account>(`account/${id}`).ask('balance'), {
            balance: 3,
            entries: 2,
          })
      })
    })

    test(`${mode.name} - ctx.persist in a kind without apply is a 400`, () =>
      withLedger(mode, async (kernel) => {
        const r = await rejection(kernel.ref<typeof plain>('plain/x').ask('tryPersist'))
        assert.deepEqual(r, { name: 'BadRequestError', code: 'bad_request', status: 400 })
      }))
  })
}

describe('persistent actors: lifetimes', () => {
  test('idle actors leave after idleMs and come back from the journal', async () => {
    const journal = new ProbeJournal()
    await withLedger(MODES[0]!, { journal, passivation: { idleMs: 100 } }, async (kernel) => {
      await kernel.ref<typeof account>('account/idle').ask('deposit', { amount: 6 })
      assert.equal((await kernel.stats()).actors, 1)
      await eventually(async () => (await kernel.stats()).actors === 0, 3_000)
      assert.deepEqual(await kernel.ref<typeof account>('account/idle').ask('balance'), {
        balance: 6,
        entries: 1,
      })
    })
  })

  test('workers - a worker crash: the actor comes back from its journal on its next message', async () => {
    const journal = new ProbeJournal()
    const workers = MODES.find((m) => m.workers)!
    await withLedger(workers, { journal }, async (kernel, logger) => {
      const acct = kernel.ref<typeof account>('account/crash')
      await acct.ask('deposit', { amount: 9 })
      assert.equal(
        (await rejection(acct.ask('crashThread', undefined, { timeout: 10_000 }))).code,
        'worker_crashed',
      )
      // a replacement worker boots under tsx: seconds on a loaded 2-core machine, so the bounds are wide
      await eventually(() => logger.warnings.some((w) => w.includes('died')), 10_000)
      await eventually(async () => {
        try {
          return (await acct.ask('balance', undefined, { timeout: 1_000 })).balance === 9
        } catch {
          return false
        }
      }, 20_000)
    })
  })

  test('file journal: a counter keeps its count across kernels', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mica-persist-'))
    try {
      for (const expected of [3, 6]) {
        const kernel = await createKernel({ workers: 0, journal: new FileJournal({ dir }) })
        try {
          await kernel.register(account)
          const acct = kernel.ref<typeof account>('account/durable')
          let last = 0
          for (let i = 0; i < 3; i++) last = await acct.ask('deposit', { amount: 1 })
          assert.equal(last, expected)
        } finally {
          await kernel.stop()
        }
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  test('without a journal option the kernel uses an in-memory one and says so once', () =>
    withLedger(MODES[0]!, async (kernel, logger) => {
      const acct = kernel.ref<typeof account>('account/mem')
      await acct.ask('deposit', { amount: 2 })
      await acct.ask('deposit', { amount: 2 })
      assert.equal(logger.warnings.filter((w) => w.includes('in-memory journal')).length, 1)
      assert.deepEqual(await acct.ask('balance'), { balance: 4, entries: 2 })
    }))
})
