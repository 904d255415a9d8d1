// Catch-up of persistent actors on one host (one thread): another writer appends to an actor's
// journal behind its back (what another node does after routing around this one); the actor keeps
// its state until the host's epoch moves (ActorHost.catchUp), then reads the journal once before its
// next message: the events written since, folded in, or a full recovery when they cannot be (a gap
// under a snapshot, a machine kind). No journal call happens without a catch-up.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { ActorHost } from '../../src/actors/host.ts'
import { defineActor } from '../../src/actors/define.ts'
import type { Delivery } from '../../src/actors/delivery.ts'
import type { ActorEnvironment } from '../../src/actors/environment.ts'
import type { ActorDefinition } from '../../src/actors/types.ts'
import { CodecTable } from '../../src/codec/table.ts'
import { systemClock } from '../../src/clock.ts'
import { errors, UnavailableError, ErrorCode } from '../../src/errors.ts'
import { MemoryJournal } from '../../src/journal/memory.ts'
import { PendingAsk } from '../../src/kernel/pending.ts'
import { ProbeJournal } from '../helpers/journals.ts'
import { door } from '../fixtures/machines.ts'

const codec = new CodecTable().get(undefined)

/** The gate a `hold` turn waits on. */
let gate: Promise<void> = Promise.resolve()

const sum = defineActor({
  kind: 'sum',
  initial: () => ({ n: 0 }),
  handlers: {
    add(msg: { by: number }, ctx) {
      ctx.persist({ type: 'added', by: msg.by })
      return ctx.state.n
    },
    get: (_msg: void, ctx) => ctx.state.n,
    /** Holds the turn until the gate opens, then answers the state it had when it began. */
    async hold(_msg: void, ctx) {
      const n = ctx.state.n
      await gate
      return n
    },
  },
  apply: { added: (s, e: { by: number }) => ({ n: s.n + e.by }) },
})

function environment(journal: ProbeJournal, warnings: string[]): ActorEnvironment {
  const nowhere = (): never => {
    throw errors.badRequest('no way out in this test')
  }
  return {
    clock: systemClock,
    codecs: new CodecTable(),
    copyReplies: false,
    maxMessageBytes: 1 << 20,
    journal,
    send: nowhere,
    ask: nowhere,
    publish: nowhere,
    ref: nowhere,
    spawn: nowhere,
    deadLetter: () => {},
    warn: (message) => warnings.push(message),
  }
}

/** A host of `sum` and `door` over a journal another writer shares (`other`). */
async function setup() {
  const shared = new MemoryJournal()
  await shared.start()
  const journal = new ProbeJournal(shared, true)
  const warnings: string[] = []
  const host = new ActorHost(environment(journal, warnings), false)
  // a kernel erases the handlers' state types the same way (resolveDefinition)
  for (const def of [sum, door]) host.addKind(def as unknown as ActorDefinition)
  const ask = (address: string, handler: string, body?: unknown): Promise<unknown> => {
    const reply = new PendingAsk(address)
    const d: Delivery = { handler, body, ct: undefined, md: undefined, dl: 0, reply }
    const [kind, id] = address.split('/') as [string, string]
    host.deliver(kind, id, address, d)
    return reply.promise
  }
  /** Appends as another activation would (on another node), after what it finds stored. */
  const other = async (pid: string, ...events: unknown[]): Promise<number> =>
    shared.append(
      pid,
      events.map((e) => codec.encode(e)),
      await shared.highestSeq(pid),
    )
  const stop = async () => {
    await host.stopAll(Date.now() + 1000)
    await shared.stop()
  }
  return { host, journal, shared, warnings, ask, other, stop }
}

describe('persistent actors catch up with their journal', () => {
  test('catch-up - an actor keeps its state without one, and reads the journal once before its next message after one', async () => {
    const { host, journal, ask, other, stop } = await setup()
    try {
      assert.equal(await ask('sum/a', 'add', { by: 1 }), 1)
      await other('sum/a', { type: 'added', by: 10 }, { type: 'added', by: 100 })
      const before = journal.lookups.length
      assert.equal(await ask('sum/a', 'get'), 1, 'no catch-up: the state it held')
      assert.equal(await ask('sum/a', 'get'), 1)
      assert.deepEqual(journal.lookups.slice(before), [], 'and no journal call for it')

      host.catchUp()
      assert.equal(journal.lookups.length, before, 'lazy: nothing happens until a message comes')
      assert.equal(await ask('sum/a', 'get'), 111, "the other writer's events are folded in")
      assert.deepEqual(journal.lookups.slice(before), ['highestSeq sum/a', 'read sum/a'])
      assert.equal(journal.reads.at(-1)!.fromSeq, 2, 'only the events after the ones it knew')
      assert.equal(await ask('sum/a', 'get'), 111)
      assert.equal(
        await ask('sum/a', 'add', { by: 1000 }),
        1111,
        'its next append expects the right sequence',
      )
      assert.equal(journal.lookups.length, before + 2, 'once caught up, nothing more is read')

      host.catchUp()
      host.catchUp()
      assert.equal(await ask('sum/a', 'get'), 1111)
      assert.deepEqual(
        journal.lookups.slice(before + 2),
        ['highestSeq sum/a'],
        'two catch-ups with nobody writing: one highestSeq',
      )
    } finally {
      await stop()
    }
  })

  test('catch-up - messages already queued when it comes wait behind it', async () => {
    const { host, ask, other, stop } = await setup()
    try {
      assert.equal(await ask('sum/q', 'add', { by: 1 }), 1)
      let open!: () => void
      gate = new Promise((resolve) => (open = resolve))
      const holding = ask('sum/q', 'hold')
      const queued = ask('sum/q', 'get') // delivered before the catch-up, handled after it
      await other('sum/q', { type: 'added', by: 5 })
      host.catchUp()
      open()
      assert.equal(await holding, 1, 'the turn in progress had begun with what it knew')
      assert.equal(await queued, 6, 'the queued read sees the journal')
    } finally {
      gate = Promise.resolve()
      await stop()
    }
  })

  test('catch-up - a gap in the journal (events deleted under a snapshot) means a full recovery', async () => {
    const { host, journal, shared, ask, other, stop } = await setup()
    try {
      assert.equal(await ask('sum/g', 'add', { by: 1 }), 1)
      const seq = await other('sum/g', { type: 'added', by: 2 }, { type: 'added', by: 4 })
      await shared.saveSnapshot('sum/g', seq, codec.encode({ n: 7 }))
      await shared.deleteTo('sum/g', seq)
      await other('sum/g', { type: 'added', by: 8 })
      host.catchUp()
      const before = journal.lookups.length
      assert.equal(await ask('sum/g', 'get'), 15, 'snapshot 7, then the event after it')
      assert.deepEqual(journal.lookups.slice(before).sort(), [
        'highestSeq sum/g',
        'highestSeq sum/g',
        'loadSnapshot sum/g',
        'read sum/g',
        'read sum/g',
      ])
    } finally {
      await stop()
    }
  })

  test('catch-up - a machine kind recovers in full when another activation wrote, and runs on untouched when none did', async () => {
    const { host, journal, ask, other, stop } = await setup()
    try {
      const locked = (await ask('door/d', 'LOCK', { code: '1' })) as { value: string }
      assert.equal(locked.value, 'locked')
      host.catchUp()
      let before = journal.lookups.length
      assert.equal(((await ask('door/d', 'snapshot')) as { value: string }).value, 'locked')
      assert.deepEqual(journal.lookups.slice(before), ['highestSeq door/d'], 'nobody wrote: nothing else')

      await other('door/d', { type: 'UNLOCK', code: '1' }, { type: 'OPEN' })
      host.catchUp()
      before = journal.lookups.length
      const reply = (await ask('door/d', 'snapshot')) as { value: string; context: { opened: number } }
      assert.equal(reply.value, 'open', "the other activation's events, replayed")
      assert.equal(reply.context.opened, 1)
      assert.ok(journal.lookups.slice(before).includes('loadSnapshot door/d'), 'a full recovery')
      assert.equal(
        ((await ask('door/d', 'CLOSE')) as { value: string }).value,
        'closed',
        'the machine runs on',
      )
    } finally {
      await stop()
    }
  })

  test('catch-up - a journal that cannot be read ends the activation: the message fails with its error, the next one recovers', async () => {
    const { host, journal, warnings, ask, other, stop } = await setup()
    try {
      assert.equal(await ask('sum/f', 'add', { by: 1 }), 1)
      await other('sum/f', { type: 'added', by: 2 })
      const highestSeq = journal.highestSeq.bind(journal)
      journal.highestSeq = () =>
        Promise.reject(new UnavailableError(ErrorCode.UNAVAILABLE, 'journal down (test)'))
      host.catchUp()
      await assert.rejects(ask('sum/f', 'get'), { code: ErrorCode.UNAVAILABLE })
      assert.ok(
        warnings.some((w) => w.includes('sum/f: recovery failed')),
        warnings.join('; '),
      )
      journal.highestSeq = highestSeq
      assert.equal(await ask('sum/f', 'get'), 3, 'a new activation, recovered from the journal')
    } finally {
      await stop()
    }
  })
})
