// Two nodes that share one journal (as nodes share JetStream): n1 serves an account, n2 routes around
// n1 (marked down in n2's selector, as after a failed ask) and writes to it itself. n1 still holds
// its old activation and answers reads from it, reading no journal, until it has evidence that it
// was routed around (here its registration deleted, as when it expires); then its next message
// reads the journal first and answers with the fold of every write, n2's included. And the node that
// took over catches its own copy up when the ids may come back to it (n1 leaves).
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { withCluster, type Cluster, type TransportKind } from '../helpers/cluster.ts'
import { eventually, rejection, sleep } from '../helpers/kernels.ts'
import { ProbeJournal } from '../helpers/journals.ts'
import { account } from '../fixtures/ledger.ts'
import { MemoryJournal } from '../../src/journal/memory.ts'
import { rendezvous, Selector } from '../../src/registry/selector.ts'
import { PLACEMENT_CACHE_MS } from '../../src/kernel/placement.ts'
import { ErrorCode } from '../../src/errors.ts'
import type { Kernel } from '../../src/kernel/kernel.ts'
import type { RegistryNode } from '../../src/registry/registry.ts'

const nodeOf = (k: Kernel): RegistryNode => ({ id: k.nodeId, address: k.address!, metadata: {} })

/** An account id whose home (rendezvous over both nodes) is n1. */
function homedOn(n1: Kernel, n2: Kernel): string {
  const pick = rendezvous()
  for (let i = 0; ; i++) if (pick([nodeOf(n1), nodeOf(n2)], `account/c${i}`)!.id === 'n1') return `c${i}`
}

/**
 * n1 serves account `id` (one deposit of 1), then n2, with n1 marked down in its selector, serves it
 * itself and deposits 2: the journal holds { balance: 3, entries: 2 }, n1's activation knows one entry.
 */
async function takenOver(c: Cluster, workers: number) {
  const shared = new MemoryJournal()
  await shared.start()
  const j1 = new ProbeJournal(shared, true)
  const j2 = new ProbeJournal(shared, true)
  const selector2 = new Selector()
  const n1 = await c.node('n1', { workers, journal: j1 })
  const n2 = await c.node('n2', { workers, journal: j2, selector: selector2 })
  await n1.register(account)
  await n2.register(account)
  const id = homedOn(n1, n2)
  const at1 = n1.ref<typeof account>(`account/${id}`)
  const at2 = n2.ref<typeof account>(`account/${id}`)
  assert.equal(await at2.ask('deposit', { amount: 1 }), 1, 'served by its home, n1')
  assert.deepEqual(await at1.ask('balance'), { balance: 1, entries: 1 })
  assert.equal((await n2.stats()).actors, 0, 'n2 holds no activation yet')

  selector2.markDown('n1') // n2 lost n1: it serves n1's ids itself (once its placement cache notices)
  await sleep(PLACEMENT_CACHE_MS + 100)
  assert.equal(await at2.ask('deposit', { amount: 2 }), 3, "n2's own activation, recovered from the journal")
  assert.equal((await n2.stats()).actors, 1, 'n2 holds an activation now')
  return { shared, j1, j2, selector2, n1, n2, id, at1, at2 }
}

for (const transport of ['memory', 'tcp'] as TransportKind[]) {
  for (const workers of [0, 2]) {
    describe(`catch-up across nodes (${transport}, workers: ${workers})`, () => {
      test('catch-up - a node routed around answers from the journal once it knows, and not before', () =>
        withCluster(transport, async (c) => {
          const { shared, j1, n1, id, at1 } = await takenOver(c, workers)
          try {
            // the defect this guards against: n1's old activation, read without a journal call
            const before = j1.lookups.length
            assert.deepEqual(await at1.ask('balance'), { balance: 1, entries: 1 }, 'n1 has no evidence yet')
            assert.deepEqual(await at1.ask('balance'), { balance: 1, entries: 1 })
            assert.deepEqual(j1.lookups.slice(before), [], 'without a trigger, no journal call')
            assert.equal((await n1.stats()).catchUps, 0)

            // the evidence: n1's own registration deleted (it expired, or another registrant removed it)
            await c.registry.deregister({
              name: 'account',
              version: '',
              metadata: {},
              endpoints: [],
              nodes: [nodeOf(n1)],
            })
            await eventually(async () => (await n1.stats()).catchUps > 0)
            const mark = j1.lookups.length
            assert.deepEqual(
              await at1.ask('balance'),
              { balance: 3, entries: 2 },
              "n1 answers with the fold of the journal, n2's deposit included",
            )
            assert.deepEqual(j1.lookups.slice(mark), [`highestSeq account/${id}`, `read account/${id}`])
            assert.deepEqual(await at1.ask('balance'), { balance: 3, entries: 2 })
            assert.equal(await at1.ask('deposit', { amount: 4 }), 7, 'and writes after it')
            assert.equal(j1.lookups.length, mark + 2, 'caught up once: no more journal reads')
          } finally {
            await c.stop()
            await shared.stop()
          }
        }))

      test('catch-up - the node that took over catches its copy up when the ids may come back to it', () =>
        withCluster(transport, async (c) => {
          const { shared, j2, selector2, n1, n2, id, at1, at2 } = await takenOver(c, workers)
          try {
            selector2.markUp('n1') // n1 is back in n2's rotation: the id goes home
            await sleep(PLACEMENT_CACHE_MS + 100)
            // n1's first write finds the journal moved on (one writer per id) and it reads it again
            assert.equal((await rejection(at1.ask('deposit', { amount: 4 }))).code, ErrorCode.CONFLICT)
            assert.equal(await at2.ask('deposit', { amount: 4 }), 7, 'sent by n2, written by n1')
            const catchUps = (await n2.stats()).catchUps
            const before = j2.lookups.length

            await n1.stop() // n1 leaves: its ids move to n2, which still holds its copy at entries 2
            await eventually(async () => (await n2.stats()).catchUps > catchUps)
            assert.deepEqual(
              await at2.ask('balance'),
              { balance: 7, entries: 3 },
              "n2's copy caught up with n1's write",
            )
            assert.deepEqual(j2.lookups.slice(before), [`highestSeq account/${id}`, `read account/${id}`])
          } finally {
            await c.stop()
            await shared.stop()
          }
        }))
    })
  }
}
