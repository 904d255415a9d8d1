// The memory journal: the contract, and what is particular to it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MemoryJournal } from '../../src/journal/memory.ts'
import { ManualClock } from '../helpers/manual-clock.ts'
import { bytes, journalContract } from './contract.ts'

const maxEventBytes = 4096

journalContract('memory', async () => {
  const journal = new MemoryJournal({ maxEventBytes })
  await journal.start()
  return { journal, maxEventBytes, stop: () => journal.stop() }
})

test('memory - events are stamped by the injected clock', async () => {
  const journal = new MemoryJournal({ clock: new ManualClock(1234) })
  await journal.start()
  await journal.append('a', [bytes('x')], 0)
  assert.equal((await journal.read('a', 1))[0]!.ts, 1234)
  await journal.stop()
})

test('memory - two journals share nothing', async () => {
  const a = new MemoryJournal()
  const b = new MemoryJournal()
  await Promise.all([a.start(), b.start()])
  await a.append('x', [bytes('1')], 0)
  assert.equal(await b.highestSeq('x'), 0)
  await Promise.all([a.stop(), b.stop()])
})

test('memory - used before start or started twice is refused as unavailable', async () => {
  const journal = new MemoryJournal()
  await assert.rejects(journal.highestSeq('a'), { code: 'unavailable' })
  await journal.start()
  await assert.rejects(journal.start(), { code: 'unavailable' })
  await journal.stop()
})
