import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { MemoryJournal } from '../../src/journal/memory.ts'
import { CodecTable } from '../../src/codec/table.ts'
import { defineActor } from '../../src/actors/define.ts'
import { eventually, MODES, rejection, sleep, withKernel, type Mode } from '../helpers/kernels.ts'
import { ProbeJournal } from '../helpers/journals.ts'
import type { Kernel } from '../../src/kernel/kernel.ts'
import { door, doorMachine, effects, snapDoor } from '../fixtures/machines.ts'

const codec = new CodecTable().get(undefined)
const types = async (journal: MemoryJournal, pid: string): Promise<string[]> =>
  (await journal.read(pid, 1)).map((e) => (codec.decode(e.payload) as { type: string }).type)

/** Runs `fn` against a kernel hosting `door` on a journal that outlives the kernel. */
async function withDoor(
  mode: Mode,
  journal: MemoryJournal,
  fn: (kernel: Kernel) => Promise<void>,
): Promise<unknown> {
  return withKernel(mode, { journal: new ProbeJournal(journal, true) }, async (kernel, logger) => {
    await kernel.register(door)
    void logger
    return fn(kernel)
  })
}

for (const mode of MODES) {
  describe(`machine behaviours (${mode.name})`, () => {
    test(`${mode.name} - events drive the machine, asks answer with its snapshot, each event is journaled`, async () => {
      const journal = new MemoryJournal()
      await journal.start()
      await withDoor(mode, journal, async (kernel) => {
        const d = kernel.ref<typeof door>('door/front')
        assert.deepEqual(await d.ask('snapshot'), {
          value: 'closed',
          context: { id: 'front', opened: 0, checks: 0 },
          status: 'active',
        })
        assert.equal((await d.ask('OPEN')).value, 'open')
        const closed = await d.ask('CLOSE')
        assert.equal(closed.value, 'closed')
        assert.equal((closed.context as { opened: number }).opened, 1)
        assert.equal((await d.ask('LOCK', { code: '1234' })).value, 'locked')
        assert.deepEqual(await types(journal, 'door/front'), ['OPEN', 'CLOSE', 'LOCK'])
        assert.equal((await rejection(kernel.ref('door/front').ask('NOPE'))).code, 'handler_not_found')
      })
      await journal.stop()
    })

    test(`${mode.name} - recovery replays the journal without running actions again`, async () => {
      const journal = new MemoryJournal()
      await journal.start()
      await withDoor(mode, journal, async (kernel) => {
        const d = kernel.ref<typeof door>('door/replay')
        for (let i = 0; i < 3; i++) {
          await d.ask('OPEN')
          await d.ask('CLOSE')
        }
        await d.ask('LOCK', { code: 'x' })
      })
      const before = effects.opened
      await withDoor(mode, journal, async (kernel) => {
        const snap = await kernel.ref<typeof door>('door/replay').ask('snapshot')
        assert.equal(snap.value, 'locked')
        assert.equal((snap.context as { opened: number }).opened, 3)
      })
      if (!mode.workers) assert.equal(effects.opened, before, 'no entry action ran during recovery')
      await journal.stop()
    })

    test(`${mode.name} - after timers fire as journaled turns and are re-armed after recovery`, async () => {
      const journal = new MemoryJournal()
      await journal.start()
      await withDoor(mode, journal, async (kernel) => {
        const d = kernel.ref<typeof door>('door/auto')
        assert.equal((await d.ask('OPEN')).value, 'open')
        await eventually(async () => (await d.ask('snapshot')).value === 'closed', 2_000)
        assert.deepEqual(await types(journal, 'door/auto'), ['OPEN', 'xstate.after.autoClose.door.open'])
        assert.equal((await d.ask('OPEN')).value, 'open') // the kernel stops while the door is open
      })
      await withDoor(mode, journal, async (kernel) => {
        const d = kernel.ref<typeof door>('door/auto')
        assert.equal((await d.ask('snapshot')).value, 'open')
        await eventually(async () => (await d.ask('snapshot')).value === 'closed', 2_000)
      })
      assert.equal((await types(journal, 'door/auto')).filter((t) => t.startsWith('xstate.after')).length, 2)
      await journal.stop()
    })

    test(`${mode.name} - snapshotEvery stores the persisted snapshot; recovery starts from it and re-arms after`, async () => {
      const journal = new MemoryJournal()
      await journal.start()
      const id = 'snap-door/s'
      await withKernel(mode, { journal: new ProbeJournal(journal, true) }, async (kernel) => {
        await kernel.register(snapDoor)
        const d = kernel.ref<typeof snapDoor>(id)
        assert.equal((await d.ask('CLOSE')).value, 'closed') // no transition, still an event: seq 1
        assert.equal((await d.ask('OPEN')).value, 'open') // seq 2: the snapshot
        assert.equal((await d.ask('OPEN')).value, 'open') // seq 3, after the snapshot
        await eventually(async () => (await journal.loadSnapshot(id))?.seq === 2)
      }) // stopped while open, well before the 1.5 s auto-close
      assert.deepEqual(await types(journal, id), ['CLOSE', 'OPEN', 'OPEN'])
      const before = effects.opened
      const again = new ProbeJournal(journal, true)
      await withKernel(mode, { journal: again }, async (kernel) => {
        await kernel.register(snapDoor)
        const d = kernel.ref<typeof snapDoor>(id)
        const snap = await d.ask('snapshot')
        assert.equal(snap.value, 'open')
        assert.equal((snap.context as { opened: number }).opened, 1)
        assert.deepEqual(
          again.reads.filter((r) => r.persistenceId === id).map((r) => r.fromSeq),
          [3],
          'only the events after the snapshot are read',
        )
        await eventually(async () => (await d.ask('snapshot')).value === 'closed', 4_000)
      })
      if (!mode.workers) assert.equal(effects.opened, before, 'restoring ran no entry action')
      assert.equal((await types(journal, id)).at(-1), 'xstate.after.autoClose.door.open')
      await journal.stop()
    })

    test(`${mode.name} - an invoked child's result is journaled and replayed`, async () => {
      const journal = new MemoryJournal()
      await journal.start()
      await withDoor(mode, journal, async (kernel) => {
        const d = kernel.ref<typeof door>('door/check')
        assert.equal((await d.ask('CHECK')).value, 'checking')
        await eventually(async () => (await d.ask('snapshot')).value === 'closed', 2_000)
        await eventually(async () => (await types(journal, 'door/check')).length === 2)
        assert.match((await types(journal, 'door/check'))[1]!, /^xstate\.done\.actor\./)
      })
      await withDoor(mode, journal, async (kernel) => {
        const snap = await kernel.ref<typeof door>('door/check').ask('snapshot')
        assert.equal(snap.value, 'closed')
        assert.equal((snap.context as { checks: number }).checks, 1)
      })
      await journal.stop()
    })
  })
}

describe('machine behaviours: definitions and failures', () => {
  test('machine replaces handlers, initial and apply; a non-machine is refused', () => {
    assert.throws(
      () => defineActor({ kind: 'bad', machine: doorMachine, handlers: {} } as never),
      /machine replaces handlers/,
    )
    assert.throws(() => defineActor({ kind: 'bad', machine: {} } as never), /must be an xstate machine/)
    assert.deepEqual(Object.keys(door.handlers).sort(), [
      'CHECK',
      'CLOSE',
      'LOCK',
      'OPEN',
      'UNLOCK',
      'snapshot',
    ])
  })

  test('a failed append fails the ask and the machine is rebuilt from its journal', async () => {
    const journal = new ProbeJournal()
    await withKernel(MODES[0]!, { journal }, async (kernel) => {
      await kernel.register(door)
      const d = kernel.ref<typeof door>('door/flaky')
      assert.equal((await d.ask('LOCK', { code: 'a' })).value, 'locked')
      journal.failAppends = 1
      assert.equal((await rejection(d.ask('UNLOCK', { code: 'a' }))).status, 503)
      assert.equal((await d.ask('snapshot')).value, 'locked')
      assert.equal((await d.ask('UNLOCK', { code: 'a' })).value, 'closed')
      await sleep(10)
    })
  })
})
