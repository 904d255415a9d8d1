// The nats engine on a 3-server NATS cluster (routes, JetStream R3): three mica nodes, each attached
// first to a different server (this process is n0; n1 and n2 are child processes). Persistent keyed
// accounts spread over the nodes, asks cross nodes, pubsub reaches every node, while (a) a NATS server
// is killed and restarted, then (b) a mica node is killed with SIGKILL: its accounts answer from another
// node within 2 s + the registry TTL, rebuilt from the JetStream journal, with no acknowledged event
// lost and none written twice.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { createKernel, type Kernel } from '../../src/kernel/kernel.ts'
import { JetStreamJournal } from '../../src/journal/jetstream.ts'
import { CodecTable } from '../../src/codec/table.ts'
import { account } from '../fixtures/ledger.ts'
import { startNatsCluster, type NatsCluster } from '../helpers/nats-cluster.ts'

const TTL_MS = 3000
const ACCOUNTS = 12
const codec = new CodecTable().get(undefined)
const quiet = { debug() {}, info() {}, warn() {}, error() {} }

/** Server `i` first, then the others: a node attaches to its own server and fails over to the rest. */
const attachedTo = (cluster: NatsCluster, i: number): string[] => [
  cluster.urls[i]!,
  ...cluster.urls.filter((_, j) => j !== i),
]

describe('nats engine on a 3-server cluster', () => {
  let cluster: NatsCluster
  let n0: Kernel
  let news = 0
  const children = new Map<string, ChildProcess>()
  const pids = new Map<string, number>([['n0', process.pid]])

  const startNode = async (nodeId: string, server: number): Promise<void> => {
    const child = fork(new URL('../fixtures/nats-node.ts', import.meta.url), {
      execArgv: ['--import', 'tsx'],
      env: {
        ...process.env,
        MICA_NODE_ID: nodeId,
        MICA_NATS_SERVERS: attachedTo(cluster, server).join(','),
        MICA_TTL_MS: String(TTL_MS),
      },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    })
    children.set(nodeId, child)
    pids.set(nodeId, child.pid!)
    await once(child, 'message')
  }
  const newsAt = async (nodeId: string): Promise<number> => {
    const child = children.get(nodeId)!
    const reply = once(child, 'message')
    child.send('count')
    return ((await reply)[0] as { count: number }).count
  }
  const kill = async (nodeId: string): Promise<void> => {
    const child = children.get(nodeId)!
    children.delete(nodeId)
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    child.kill('SIGKILL')
    await exited
  }

  before(async () => {
    cluster = await startNatsCluster()
    n0 = await createKernel({
      nodeId: 'n0',
      workers: 1,
      engine: 'nats',
      servers: attachedTo(cluster, 0),
      nats: { replicas: 3, reconnectTimeWaitMs: 100 },
      registerTtlMs: TTL_MS,
      registerIntervalMs: TTL_MS / 3,
      logger: quiet,
    })
    await n0.register(account)
    await n0.subscribe('cluster.news', () => {
      news++
    })
    await Promise.all([startNode('n1', 1), startNode('n2', 2)])
  })
  after(async () => {
    for (const nodeId of [...children.keys()]) await kill(nodeId)
    await n0?.stop()
    await cluster?.close()
  })

  // Each account gets deposits 1, 2, 3, … in order; `acked` is the last one answered. An ask whose
  // outcome is unknown (a node or server died under it) is followed by a read of the account, so
  // the next deposit continues from what the journal holds: any gap or repeat is then a real loss
  // or a double write.
  const acked = new Map<string, number>()
  const ackedAt = new Map<string, number[]>()
  let running = true
  const depositor = async (id: string): Promise<void> => {
    const ref = n0.ref<typeof account>(`account/${id}`)
    let next = 1
    while (running) {
      try {
        await ref.ask('deposit', { amount: next }, { timeout: 2000 })
        acked.set(id, next)
        ackedAt.get(id)!.push(Date.now())
        next++
      } catch {
        try {
          next = (await ref.ask('balance', undefined, { timeout: 2000 })).entries + 1
        } catch {
          await sleep(20)
        }
      }
      await sleep(5)
    }
  }
  const ids = Array.from({ length: ACCOUNTS }, (_, i) => `acct-${i}`)
  let depositors: Promise<void>[] = []
  const progressSince = (at: number): number =>
    Math.min(...ids.map((id) => ackedAt.get(id)!.filter((t) => t > at).length))

  test('cluster - accounts spread over three nodes answer asks; pubsub reaches every node', async () => {
    for (const id of ids) ackedAt.set(id, [])
    depositors = ids.map((id) => depositor(id))
    const until = Date.now() + 15_000
    while (progressSince(0) < 5 && Date.now() < until) await sleep(50)
    assert.ok(progressSince(0) >= 5, 'every account answered five deposits')
    const homes = new Set(
      await Promise.all(ids.map((id) => n0.ref<typeof account>(`account/${id}`).ask('where'))),
    )
    assert.deepEqual([...homes].sort(), [...pids.values()].sort(), 'the accounts live on all three nodes')
    const before = { n1: await newsAt('n1'), n2: await newsAt('n2'), n0: news }
    for (let i = 0; i < 20; i++) await n0.publish('cluster.news', { i })
    const deadline = Date.now() + 5000
    while (Date.now() < deadline && ((await newsAt('n1')) < before.n1 + 20 || news < before.n0 + 20))
      await sleep(50)
    assert.equal(news - before.n0, 20, 'n0 got every message')
    assert.equal((await newsAt('n1')) - before.n1, 20, 'n1 got every message')
    assert.equal((await newsAt('n2')) - before.n2, 20, 'n2 got every message')
  })

  test('cluster - a NATS server killed and restarted: asks and pubsub keep working', async () => {
    await cluster.stop(1) // n1's own server
    const killedAt = Date.now()
    await sleep(1500)
    await cluster.restart(1)
    const until = Date.now() + 20_000
    while (progressSince(killedAt) < 10 && Date.now() < until) await sleep(100)
    assert.ok(progressSince(killedAt) >= 10, 'every account moved on after the server came back')
    const before = { n1: await newsAt('n1'), n2: await newsAt('n2') }
    for (let i = 0; i < 20; i++) await n0.publish('cluster.news', { i })
    const deadline = Date.now() + 5000
    while (Date.now() < deadline && (await newsAt('n1')) < before.n1 + 20) await sleep(50)
    assert.equal((await newsAt('n1')) - before.n1, 20, 'n1 (whose server restarted) got every message')
    assert.equal((await newsAt('n2')) - before.n2, 20)
  })

  test('cluster - a mica node killed: its accounts answer from another node within 2 s + TTL', async (t) => {
    const where = (id: string) => n0.ref<typeof account>(`account/${id}`).ask('where')
    const onN2 = (
      await Promise.all(ids.map(async (id) => ((await where(id)) === pids.get('n2') ? id : '')))
    ).filter((id) => id !== '')
    assert.ok(onN2.length > 0, 'n2 hosts some accounts')
    await kill('n2')
    const killedAt = Date.now()
    const limit = 2000 + TTL_MS
    while (progressSince(killedAt) < 1 && Date.now() - killedAt < limit + 5000) await sleep(20)
    const recoveredIn = Math.max(...ids.map((id) => ackedAt.get(id)!.find((t) => t > killedAt)! - killedAt))
    assert.ok(recoveredIn <= limit, `every account answered again after ${recoveredIn} ms (limit ${limit})`)
    t.diagnostic(
      `${onN2.length} accounts of n2 answered again ${recoveredIn} ms after its SIGKILL (TTL ${TTL_MS} ms)`,
    )
    for (const id of onN2) {
      const home = await where(id)
      assert.ok(home === pids.get('n0') || home === pids.get('n1'), `${id} moved to a live node`)
    }
    await sleep(500)
    running = false
    await Promise.all(depositors)

    const journal = new JetStreamJournal({ servers: cluster.urls, replicas: 3 })
    await journal.start()
    try {
      for (const id of ids) {
        const events = (await journal.read(`account/${id}`, 1)).map(
          (e) => (codec.decode(e.payload) as { amount: number }).amount,
        )
        const last = acked.get(id)!
        assert.ok(events.length >= last, `${id}: acknowledged ${last}, journal holds ${events.length}`)
        assert.deepEqual(
          events,
          Array.from({ length: events.length }, (_, i) => i + 1),
          `${id}: deposits in order, none lost, none twice`,
        )
        const state = await n0.ref<typeof account>(`account/${id}`).ask('balance')
        assert.equal(state.entries, events.length, `${id}: the live state is the fold of the journal`)
      }
    } finally {
      await journal.stop()
    }
  })
})
