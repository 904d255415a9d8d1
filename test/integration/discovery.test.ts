// Discovery and selection between processes (mDNS + TCP on loopback), measured from the caller's
// side: a new node is callable within 1 s of starting, a stopped node leaves the caller's selection
// within 1 s (its goodbye), a killed one within its TTL; stateless calls spread over the nodes and
// keyed ones land where rendezvous hashing says, moving only to a node that joins (about 1/N).
// The timing bounds get slack for a loaded 2-core machine; the measured times are printed.
//
// The caller (this process) records, through its selector's strategy, which nodes it was offered
// for each stateless call, and picks the node the test wants: so the timing tests never send a call
// to a node that is going away, and what they see is membership, not a mark-down after a failure.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { createKernel, type Kernel } from '../../src/kernel/kernel.ts'
import { loopbackNetwork } from '../../src/kernel/network.ts'
import { random, rendezvous, Selector, type Node, type Strategy } from '../../src/registry/selector.ts'
import { captureLogger } from '../helpers/kernels.ts'
import { NodeProcesses, privateMdnsPort } from '../helpers/node-processes.ts'
import type { where } from '../fixtures/actors.ts'

const TARGET_MS = 1_000
/** What a loaded 2-core machine may add to a 1 s target. */
const SLACK_MS = 1_000
const KILLED_TTL_MS = 2_000

/** The caller's unkeyed strategy: random, or the node `want` names when offered. */
const choice: { want: string | undefined; offered: string[] } = { want: undefined, offered: [] }
const spread = random()
const strategy: Strategy = (nodes) => {
  choice.offered = nodes.map((n) => n.id)
  if (choice.want === undefined) return spread(nodes)
  return nodes.find((n) => n.id === choice.want) ?? nodes.find((n) => n.id === 'anchor') ?? nodes[0]
}

/** Polls `check` every 10 ms; the ms it took, or a failure after `ms`. */
async function within(what: string, ms: number, check: () => Promise<boolean>): Promise<number> {
  const started = Date.now()
  while (!(await check())) {
    if (Date.now() - started > ms) assert.fail(`${what}: not within ${ms} ms`)
    await sleep(10)
  }
  return Date.now() - started
}

describe('discovery between processes (mDNS + TCP on loopback)', () => {
  const nodes = new NodeProcesses(privateMdnsPort())
  let a: Kernel
  const whereIs = async (): Promise<string> =>
    a.ref<typeof where>('where/').ask('node', undefined, { timeout: 2_000 })
  const offered = async (): Promise<string[]> => {
    await whereIs()
    return choice.offered
  }

  before(async () => {
    a = await createKernel({
      nodeId: 'caller',
      workers: 0,
      logger: captureLogger(),
      selector: new Selector({ strategy }),
      ...loopbackNetwork(nodes.mdnsPort),
    })
    await nodes.start('anchor') // a node that stays: the caller always has somewhere to go
    choice.want = 'anchor'
    await within('the anchor is callable', 10_000, async () => (await whereIs().catch(() => '')) === 'anchor')
  })
  after(async () => {
    await nodes.stopAll()
    await a.stop()
  })

  test('discovery - a new node is callable within 1 s; after SIGTERM its goodbye takes it out within 1 s', async () => {
    const forked = Date.now()
    const joiner = await nodes.start('joiner')
    choice.want = 'joiner'
    const callable = await within('the new node is callable', TARGET_MS + SLACK_MS, async () => {
      return (await whereIs()) === 'joiner'
    })
    const sinceReady = Date.now() - joiner.readyAt
    console.log(
      `discovery: callable ${sinceReady} ms after the node was up (${Date.now() - forked} ms after fork, ${callable} ms of polling)`,
    )
    assert.ok(sinceReady <= TARGET_MS + SLACK_MS, `callable ${sinceReady} ms after it was up`)

    choice.want = 'anchor' // from now on nothing is sent to the node that leaves
    assert.ok((await offered()).includes('joiner'))
    const stopping = nodes.stop(joiner.child, 'SIGTERM')
    const gone = await within('the stopped node leaves the selection', TARGET_MS + SLACK_MS, async () => {
      return !(await offered()).includes('joiner')
    })
    await stopping
    console.log(`discovery: a stopped node left the caller's selection ${gone} ms after SIGTERM`)
    assert.ok(gone <= TARGET_MS + SLACK_MS)
  })

  test('discovery - a SIGKILLed node (no goodbye) leaves the selection within its TTL, not at once', async () => {
    const victim = await nodes.start('victim', { ttlMs: KILLED_TTL_MS })
    choice.want = 'anchor'
    await within('the node is offered', TARGET_MS + SLACK_MS, async () =>
      (await offered()).includes('victim'),
    )
    const killedAt = Date.now()
    await nodes.stop(victim.child, 'SIGKILL')
    await sleep(300)
    assert.ok((await offered()).includes('victim'), 'a killed process says no goodbye')
    // the records' TTL is whole seconds from the node's last registration (every third of its TTL)
    const bound = KILLED_TTL_MS + SLACK_MS
    await within(
      'the killed node leaves the selection',
      bound,
      async () => !(await offered()).includes('victim'),
    )
    const gone = Date.now() - killedAt
    console.log(
      `discovery: a killed node (TTL ${KILLED_TTL_MS} ms) left the selection ${gone} ms after SIGKILL`,
    )
    assert.ok(gone <= bound, `gone after ${gone} ms`)
  })

  test('selection - stateless calls spread over the nodes; keyed ones follow rendezvous, and ~1/N move to a new node', async () => {
    const second = await nodes.start('second')
    choice.want = undefined // random
    await within('both nodes are offered', 5_000, async () => (await offered()).length === 2)
    const counts = new Map<string, number>()
    for (let i = 0; i < 400; i++) {
      const node = await whereIs()
      counts.set(node, (counts.get(node) ?? 0) + 1)
    }
    console.log(`selection: 400 stateless calls -> ${JSON.stringify(Object.fromEntries(counts))}`)
    for (const id of ['anchor', 'second']) {
      const n = counts.get(id) ?? 0
      assert.ok(n >= 120 && n <= 280, `${id} served ${n} of 400 (random: 200 ± 8 sd allowed)`)
    }

    const ids = Array.from({ length: 90 }, (_, i) => `k${i}`)
    const expected = (members: string[]) => {
      const pick = rendezvous()
      const list: Node[] = members.map((id) => ({ id, address: '', metadata: {} }))
      return new Map(ids.map((id) => [id, pick(list, `where/${id}`)!.id]))
    }
    const homes = async (): Promise<Map<string, string>> =>
      new Map(
        await Promise.all(
          ids.map(async (id) => [id, await a.ref<typeof where>(`where/${id}`).ask('node')] as const),
        ),
      )
    const two = expected(['anchor', 'second'])
    assert.deepEqual(await homes(), two, 'every keyed call goes to its rendezvous node')
    assert.deepEqual(await homes(), two, 'and again: stable while membership is')

    const third = await nodes.start('third')
    const three = expected(['anchor', 'second', 'third'])
    await within('the keyed calls follow the new membership', 5_000, async () => {
      const now = await homes()
      return ids.every((id) => now.get(id) === three.get(id))
    })
    const moved = ids.filter((id) => two.get(id) !== three.get(id))
    console.log(`selection: a third node took ${moved.length} of ${ids.length} keys`)
    assert.ok(
      moved.every((id) => three.get(id) === 'third'),
      'keys move only to the node that joined',
    )
    assert.ok(Math.abs(moved.length / ids.length - 1 / 3) <= 0.12, `${moved.length} of ${ids.length} moved`)
    await nodes.stop(third.child, 'SIGTERM')
    await nodes.stop(second.child, 'SIGTERM')
  })
})
