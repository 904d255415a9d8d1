// A node process killed with SIGKILL during a burst of persisted asks: after a restart, every
// acknowledged event is in the journal, in order, without duplicates, and each actor's state is the
// fold of its events. (A torn last record is repaired by the file journal: test/journal/file.test.ts.)
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fork } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createKernel } from '../../src/kernel/kernel.ts'
import { FileJournal } from '../../src/journal/file.ts'
import { CodecTable } from '../../src/codec/table.ts'
import { account } from '../fixtures/ledger.ts'

const codec = new CodecTable().get(undefined)

test('persistent actors: SIGKILL mid-burst loses no acknowledged event and duplicates none', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mica-persist-crash-'))
  try {
    const child = fork(new URL('../fixtures/persist-child.ts', import.meta.url).pathname, [dir], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    const acked = new Map<string, number>()
    let count = 0
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('too few acknowledgements in 30 s')), 30_000)
        child.once('error', reject)
        child.once('exit', () => reject(new Error('child exited before it was killed')))
        child.on('message', (message) => {
          if (message === 'ready') return
          const [id, amount] = String(message).split(':')
          assert.equal(Number(amount), (acked.get(id!) ?? 0) + 1, 'acks arrive in order')
          acked.set(id!, Number(amount))
          if (++count === 600) {
            clearTimeout(timer)
            child.kill('SIGKILL')
            resolve()
          }
        })
      })
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL')
      await exited
    }

    const kernel = await createKernel({ workers: 2, journal: new FileJournal({ dir }) })
    try {
      await kernel.register(account)
      for (const [id, last] of acked) {
        const events = (await kernel.journal.read(`account/${id}`, 1)).map(
          (e) => (codec.decode(e.payload) as { amount: number }).amount,
        )
        assert.ok(events.length >= last, `${id}: acknowledged ${last}, recovered ${events.length}`)
        // deposits 1, 2, 3 … in order: no gap, no duplicate, nothing reordered
        assert.deepEqual(
          events,
          Array.from({ length: events.length }, (_, i) => i + 1),
        )
        const state = await kernel.ref<typeof account>(`account/${id}`).ask('balance')
        assert.deepEqual(state, {
          balance: events.reduce((a, b) => a + b, 0),
          entries: events.length,
        })
      }
    } finally {
      await kernel.stop()
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
