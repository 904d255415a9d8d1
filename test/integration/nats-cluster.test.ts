// The nats engine on a 3-server NATS cluster (routes, JetStream R3): three mica nodes, each attached
// to a different server and failing over to the others in order (noRandomize; this process is n0,
// n1 and n2 are child processes). Persistent keyed accounts spread over the nodes take conditional
// deposits all along, asks cross nodes, pubsub reaches every node, while (a) a NATS server is
// killed (asks, persistent actors and pubsub go on while it is down) and restarted, then (b) a mica
// node is killed with SIGKILL: its accounts answer from another node within 2 s + the registry TTL
// (measured and printed), rebuilt from the JetStream journal, with no acknowledged event lost and
// none written twice; and every account then answers reads from the fold of its journal, though
// its id was served by other nodes meanwhile (the nodes that were routed around or took over caught
// up with the journal). Then two activations of one account on two nodes: the stale one's write is
// refused (one writer per persistence id); and replicas: 3 reaches every stream the engine makes.
// Every server and child process is stopped by its pid.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { connect } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'
import { createKernel, type Kernel } from '../../src/kernel/kernel.ts'
import { applyEngine } from '../../src/kernel/engine.ts'
import { JetStreamJournal } from '../../src/journal/jetstream.ts'
import { CodecTable } from '../../src/codec/table.ts'
import { ErrorCode, type MicaError } from '../../src/errors.ts'
import { account } from '../fixtures/ledger.ts'
import { startNatsCluster, type NatsCluster } from '../helpers/nats-cluster.ts'

const TTL_MS = 3000
const ACCOUNTS = 12
/**
 * The depositors' ask timeout. An ask in flight to a node that dies is answered by nobody: the next
 * message to that node finds no subscriber (503) and proves it gone, so the time the accounts of a
 * killed node take to answer again starts with this wait.
 */
const ASK_TIMEOUT_MS = 1000
const NODES = ['n0', 'n1', 'n2']
const codec = new CodecTable().get(undefined)
const quiet = { debug() {}, info() {}, warn() {}, error() {} }

/** Server `i` first, then the others: a node attaches to its own server and fails over to the rest. */
const attachedTo = (cluster: NatsCluster, i: number): string[] => [
  cluster.urls[i]!,
  ...cluster.urls.filter((_, j) => j !== i),
]

/** Polls `ok` every 50 ms until it holds or `ms` passed; fails with `what` then. */
async function until(what: string, ok: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await ok())) {
    if (Date.now() > deadline) assert.fail(`${what} (not within ${ms} ms)`)
    await sleep(50)
  }
}

describe('nats engine on a 3-server cluster', () => {
  let cluster: NatsCluster
  let n0: Kernel
  const news = new Map<string, number>()
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
  /** How many `cluster.news` messages tagged `tag` node `nodeId` received. */
  const newsAt = async (nodeId: string, tag: string): Promise<number> => {
    if (nodeId === 'n0') return news.get(tag) ?? 0
    const child = children.get(nodeId)!
    const reply = once(child, 'message')
    child.send({ count: tag })
    return ((await reply)[0] as { count: number }).count
  }
  /** How many catch-ups child `nodeId` has run (see src/kernel/catch-up.ts). */
  const catchUpsAt = async (nodeId: string): Promise<number> => {
    const child = children.get(nodeId)!
    const reply = once(child, 'message')
    child.send({ catchUps: true })
    return ((await reply)[0] as { catchUps: number }).catchUps
  }
  const kill = async (nodeId: string): Promise<void> => {
    const child = children.get(nodeId)!
    children.delete(nodeId)
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    child.kill('SIGKILL')
    await exited
  }

  /**
   * Pubsub reaches every node in `nodes`: probes until each got one (core NATS is at-most-once: what
   * is published while a node's connection fails over is lost), then 20 messages, each received once.
   */
  let batches = 0
  const pubsubReaches = async (nodes: string[], when: string): Promise<void> => {
    const batch = ++batches
    const probe = `probe-${batch}`
    await until(
      `a probe reached ${nodes.join(', ')} ${when}`,
      async () => {
        await n0.publish('cluster.news', { tag: probe })
        for (const nodeId of nodes) if ((await newsAt(nodeId, probe)) === 0) return false
        return true
      },
      10_000,
    )
    const tag = `batch-${batch}`
    for (let i = 0; i < 20; i++) await n0.publish('cluster.news', { tag, i })
    await sleep(200)
    await until(
      `20 messages reached ${nodes.join(', ')} ${when}`,
      async () => (await Promise.all(nodes.map((n) => newsAt(n, tag)))).every((c) => c >= 20),
      5000,
    )
    for (const nodeId of nodes)
      assert.equal(await newsAt(nodeId, tag), 20, `${nodeId}: each message once ${when}`)
  }

  before(async () => {
    cluster = await startNatsCluster()
    n0 = await createKernel({
      nodeId: 'n0',
      workers: 1,
      engine: 'nats',
      servers: attachedTo(cluster, 0),
      nats: { replicas: 3, reconnectTimeWaitMs: 100, noRandomize: true },
      registerTtlMs: TTL_MS,
      registerIntervalMs: TTL_MS / 3,
      logger: quiet,
    })
    await n0.register(account)
    await n0.subscribe('cluster.news', (msg) => {
      const tag = String((msg as { tag?: unknown }).tag)
      news.set(tag, (news.get(tag) ?? 0) + 1)
    })
    await Promise.all([startNode('n1', 1), startNode('n2', 2)])
  })
  after(async () => {
    running = false // a failed case must not leave the depositors looping
    await Promise.all(depositors)
    for (const nodeId of [...children.keys()]) await kill(nodeId)
    await n0?.stop()
    await cluster?.close()
  })

  // Each account gets conditional deposits 1, 2, 3, … in order (`depositNext` refuses any amount but
  // entries + 1); `acked` is the last one answered. An ask whose outcome is unknown (a node or server
  // died under it: it may have been applied) is followed by a read of the account, and the next
  // deposit continues from what that says; a deposit sent again that had landed is refused by the
  // actor, one sent to a stale activation fails its append. Any gap or repeat in the journal is
  // then a real loss or a double write.
  const acked = new Map<string, number>()
  /** Events in each account's journal once the depositors stopped. */
  const journalled = new Map<string, number>()
  const ackedAt = new Map<string, number[]>()
  let running = true
  const depositor = async (id: string): Promise<void> => {
    const ref = n0.ref<typeof account>(`account/${id}`)
    let next = 1
    while (running) {
      try {
        await ref.ask('depositNext', { amount: next }, { timeout: ASK_TIMEOUT_MS })
        acked.set(id, next)
        ackedAt.get(id)!.push(Date.now())
        next++
      } catch {
        try {
          next = (await ref.ask('balance', undefined, { timeout: ASK_TIMEOUT_MS })).entries + 1
        } catch {
          await sleep(20)
        }
      }
      await sleep(5)
    }
  }
  const ids = Array.from({ length: ACCOUNTS }, (_, i) => `acct-${i}`)
  let depositors: Promise<void>[] = []
  /** The fewest deposits any account had acknowledged after `at`. */
  const progressSince = (at: number): number =>
    Math.min(...ids.map((id) => ackedAt.get(id)!.filter((t) => t > at).length))
  /** The pid hosting account `id`; retried a while (an activation fails while its journal stream elects a leader). */
  const where = async (id: string): Promise<number> => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await n0.ref<typeof account>(`account/${id}`).ask('where', undefined, { timeout: 2000 })
      } catch (error) {
        if (attempt === 20) throw error
        await sleep(250)
      }
    }
  }

  test('cluster - accounts spread over three nodes answer asks; pubsub reaches every node', async () => {
    for (const id of ids) ackedAt.set(id, [])
    depositors = ids.map((id) => depositor(id))
    await until('every account answered five deposits', () => progressSince(0) >= 5, 15_000)
    const homes = new Set(await Promise.all(ids.map(where)))
    assert.deepEqual([...homes].sort(), [...pids.values()].sort(), 'the accounts live on all three nodes')
    await pubsubReaches(NODES, 'with every server up')
  })

  test('cluster - a NATS server killed: asks, persistent actors and pubsub go on while it is down and after its restart', async (t) => {
    await cluster.stop(1) // n1's own server: n1 fails over to the two left, JetStream keeps a quorum
    const killedAt = Date.now()
    try {
      await until(
        'every account moved on while server 1 was down',
        () => progressSince(killedAt) >= 5,
        30_000,
      )
      t.diagnostic(`every account took 5 deposits ${Date.now() - killedAt} ms after server 1 was killed`)
      await pubsubReaches(NODES, 'while server 1 is down')
    } finally {
      await cluster.restart(1)
    }
    const restartedAt = Date.now()
    await until(
      'every account moved on after server 1 came back',
      () => progressSince(restartedAt) >= 5,
      30_000,
    )
    await pubsubReaches(NODES, 'after server 1 restarted')
  })

  test('cluster - a mica node killed: its accounts answer from another node within 2 s + TTL', async (t) => {
    // after the server's outage n0 may still have n2 marked down (its accounts served elsewhere)
    let onN2: string[] = []
    await until(
      'n2 hosts some accounts again',
      async () => {
        const homes = await Promise.all(ids.map(where))
        onN2 = ids.filter((_, i) => homes[i] === pids.get('n2'))
        return onN2.length > 0
      },
      30_000,
    )
    await kill('n2')
    const killedAt = Date.now()
    const limit = 2000 + TTL_MS
    await until('every account answered again', () => progressSince(killedAt) >= 1, limit + 5000)
    const firstAck = (id: string) => ackedAt.get(id)!.find((at) => at > killedAt)! - killedAt
    const recoveredIn = Math.max(...onN2.map(firstAck))
    t.diagnostic(
      `${onN2.length} accounts of n2 answered again ${recoveredIn} ms after its SIGKILL (TTL ${TTL_MS} ms, limit ${limit} ms)`,
    )
    assert.ok(recoveredIn <= limit, `n2's accounts answered again after ${recoveredIn} ms (limit ${limit})`)
    for (const id of onN2) {
      const home = await where(id)
      assert.ok(home === pids.get('n0') || home === pids.get('n1'), `${id} moved to a live node`)
    }
    await pubsubReaches(['n0', 'n1'], 'after n2 was killed')
    await sleep(500)
    running = false
    await Promise.all(depositors)

    await cluster.ready() // the checks below read the journal themselves
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
        journalled.set(id, events.length)
      }
    } finally {
      await journal.stop()
    }
  })

  // While server 1 was down n0 marked n1 down and served n1's accounts on n0 and n2, writing them;
  // n1 kept its old activations, and once n0 routed back to it they held the state from before.
  // n1 lost its NATS link meanwhile (and n0 marked a node down, n2 then left): each had its
  // persistent actors catch up with the journal before their next message (src/kernel/catch-up.ts),
  // so these reads, with no write to correct them first, see every deposit.
  test('cluster - every account answers from the fold of its journal', async () => {
    const stale: string[] = []
    for (const id of ids) {
      const state = await n0.ref<typeof account>(`account/${id}`).ask('balance')
      if (state.entries !== journalled.get(id)) stale.push(`${id}: ${state.entries} of ${journalled.get(id)}`)
    }
    assert.deepEqual(stale, [], 'accounts whose live state is behind their journal')
  })

  test('cluster - two activations of one account on two nodes: the stale one cannot write', async () => {
    await cluster.ready()
    // The earlier tests' evidence (a killed node, a lost link) leaves settling catch-ups to come on
    // n1 (src/kernel/catch-up.ts): one that lands between the two writes below lets the home
    // activation read the pinned one's deposit first, and its write then succeeds in turn, which is
    // right but not the case under test. Such a round is checked for that, and the case tried again.
    let i = 0
    const accountOnN1 = async (): Promise<string> => {
      let id = ''
      await until(
        'an account placed on n1',
        async () => {
          if ((await where(`dw-${i}`)) === pids.get('n1')) id = `dw-${i}`
          i++
          return id !== ''
        },
        30_000,
      )
      return id
    }
    const journalOf = async (id: string): Promise<number[]> => {
      const journal = new JetStreamJournal({ servers: cluster.urls, replicas: 3 })
      await journal.start()
      try {
        return (await journal.read(`account/${id}`, 1)).map(
          (e) => (codec.decode(e.payload) as { amount: number }).amount,
        )
      } finally {
        await journal.stop()
      }
    }
    for (let attempt = 1; ; attempt++) {
      // an account whose home is n1, and a second activation of it pinned to n0
      const id = await accountOnN1()
      const home = n0.ref<typeof account>(`account/${id}`)
      const pinned = n0.ref<typeof account>(`account/${id}@n0`)
      const catchUps = await catchUpsAt('n1')
      assert.equal(await home.ask('deposit', { amount: 1 }), 1)
      assert.equal(await pinned.ask('where'), process.pid, 'the pinned activation lives on n0')
      assert.equal(await pinned.ask('deposit', { amount: 2 }), 3, 'it recovered the first deposit')
      // the home activation still holds the state before the second deposit: its append is refused
      const outcome = await home.ask('deposit', { amount: 4 }).then(
        (balance) => ({ balance }),
        (error: unknown) => ({ error }),
      )
      if ('balance' in outcome) {
        assert.ok((await catchUpsAt('n1')) > catchUps, 'only a catch-up lets the home activation write')
        assert.equal(outcome.balance, 7, 'it caught up with the pinned deposit before writing')
        assert.deepEqual(await journalOf(id), [1, 2, 4], 'one writer at a time')
        assert.ok(attempt < 5, 'a catch-up came between the writes five times in a row')
        continue
      }
      const refused = outcome.error as MicaError
      assert.equal(refused.code, ErrorCode.CONFLICT, `the stale writer is refused`)
      assert.deepEqual(await home.ask('balance'), { balance: 3, entries: 2 }, 'it read its journal again')
      assert.equal(await home.ask('deposit', { amount: 4 }), 7)
      assert.deepEqual(await journalOf(id), [1, 2, 4], 'one writer at a time')
      return
    }
  })

  test('cluster - replicas: 3 replicates the registry bucket, the journal and the durable pubsub streams', async () => {
    await cluster.ready()
    const { broker } = applyEngine(
      { engine: 'nats', servers: cluster.urls, nats: { replicas: 3, durable: true } },
      {},
    )
    const nc = await connect({ servers: cluster.urls })
    try {
      await broker!.start()
      await broker!.publish('replicated.news', { body: new Uint8Array([1]) })
      const jsm = await jetstreamManager(nc)
      for (const stream of ['MICA_replicated', 'MICA_JOURNAL', 'KV_mica_registry'])
        assert.equal((await jsm.streams.info(stream)).config.num_replicas, 3, stream)
    } finally {
      await broker!.stop()
      await nc.close()
    }
  })
})
