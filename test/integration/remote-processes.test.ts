// Nodes in separate processes, discovering each other over mDNS on loopback and talking over TCP.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { connect } from 'node:net'
import { createKernel, type Kernel } from '../../src/kernel/kernel.ts'
import { loopbackNetwork } from '../../src/kernel/network.ts'
import { MdnsRegistry } from '../../src/registry/mdns.ts'
import { captureLogger, eventually, rejection, sleep } from '../helpers/kernels.ts'
import type { counter } from '../fixtures/actors.ts'
import type { chat } from '../fixtures/streams.ts'

const MDNS_PORT = 20_000 + Math.floor(Math.random() * 20_000)
const children = new Set<ChildProcess>()

async function startNode(nodeId: string, ttlMs = 15_000): Promise<{ child: ChildProcess; readyAt: number }> {
  const child = fork(new URL('../fixtures/node-process.ts', import.meta.url), {
    execArgv: ['--import', 'tsx'],
    env: {
      ...process.env,
      MICA_NODE_ID: nodeId,
      MICA_MDNS_PORT: String(MDNS_PORT),
      MICA_TTL_MS: String(ttlMs),
    },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  })
  children.add(child)
  child.once('exit', () => children.delete(child))
  const [msg] = (await once(child, 'message')) as [{ at: number }]
  return { child, readyAt: msg.at }
}

async function stopNode(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill(signal)
  await exited
}

describe('nodes in separate processes (mDNS + TCP on loopback)', () => {
  let a: Kernel
  before(async () => {
    a = await createKernel({
      nodeId: 'a',
      workers: 0,
      logger: captureLogger(),
      ...loopbackNetwork(MDNS_PORT),
    })
  })
  after(async () => {
    for (const child of [...children]) await stopNode(child, 'SIGKILL')
    await a.stop()
  })

  test('processes - a new node is callable within 1 s of starting; ask and send cross processes', async () => {
    const { readyAt } = await startNode('b')
    const ref = a.ref<typeof counter>('counter/one')
    // the 1 s target, with the slack of a loaded 2-core machine (measured and printed: discovery.test.ts)
    await eventually(async () => (await ref.ask('add', { by: 1 }).catch(() => -1)) > 0, 2_000)
    assert.ok(Date.now() - readyAt < 2_000, `callable after ${Date.now() - readyAt} ms`)
    for (let i = 0; i < 10; i++) ref.send('add', { by: 1 })
    await eventually(async () => (await ref.ask('get')) === 11)
    assert.equal(await a.ref('where/').ask('node'), 'b')
    // a stream across processes, with a small window so credit flows both ways many times
    const s = a.ref<typeof chat>('chat/p').stream('echo', { window: 4 })
    const echoed: number[] = []
    const reading = (async () => {
      for await (const n of s) echoed.push(n)
    })()
    for (let i = 0; i < 100; i++) await s.send(i)
    s.end()
    await reading
    await s.done
    assert.deepEqual(
      echoed,
      Array.from({ length: 100 }, (_, i) => i * 2),
    )
  })

  test('processes - SIGKILL mid-traffic: asks fail over or reject with 503 in their deadline, none hangs', async () => {
    await startNode('c')
    await eventually(async () => {
      const seen = new Set(await Promise.all(Array.from({ length: 20 }, () => a.ref('where/').ask('node'))))
      return seen.has('b') && seen.has('c')
    }, 3_000)
    const [b] = [...children].filter((ch) => ch.spawnargs.length > 0).slice(0, 1)
    const outcomes: string[] = []
    const deadlineMs = 2_000
    const loop = async (): Promise<void> => {
      const until = Date.now() + 1_500
      while (Date.now() < until) {
        const started = Date.now()
        try {
          await a.ref('where/').ask('node', undefined, { timeout: deadlineMs })
          outcomes.push('ok')
        } catch (err) {
          const e = err as { code: string; status: number }
          assert.ok(Date.now() - started <= deadlineMs + 200, 'settled within its deadline')
          outcomes.push(`${e.status} ${e.code}`)
        }
      }
    }
    const traffic = Promise.all(Array.from({ length: 32 }, loop))
    await sleep(300)
    await stopNode(b!, 'SIGKILL')
    await traffic
    const failures = outcomes.filter((o) => o !== 'ok')
    assert.ok(outcomes.length > 100, `traffic ran: ${outcomes.length}`)
    assert.ok(
      failures.every((f) => f === '503 connection_lost' || f === '503 unavailable'),
      `failures are 503s: ${[...new Set(failures)].join(', ')}`,
    )
    // after the kill every ask is served by c
    const after = await Promise.all(Array.from({ length: 20 }, () => a.ref('where/').ask('node')))
    assert.deepEqual(new Set(after), new Set(['c']))
  })

  test('processes - a stopped node says goodbye: gone from selection within 1 s', async () => {
    const { child } = await startNode('d')
    await eventually(async () => {
      const seen = await Promise.all(Array.from({ length: 20 }, () => a.ref('where/').ask('node')))
      return seen.includes('d')
    }, 3_000)
    await stopNode(child, 'SIGTERM')
    const stoppedAt = Date.now()
    await eventually(async () => {
      const seen = await Promise.all(
        Array.from({ length: 20 }, () =>
          a
            .ref('where/')
            .ask('node')
            .catch(() => 'x'),
        ),
      )
      return !seen.includes('d') && !seen.includes('x')
    }, 2_000)
    assert.ok(Date.now() - stoppedAt < 2_000) // 1 s target plus slack, as above
  })

  test('processes - a killed node disappears from the registry after its TTL', async () => {
    const { child } = await startNode('e', 2_000)
    const observer = new MdnsRegistry({ interface: '127.0.0.1', bind: '0.0.0.0', port: MDNS_PORT })
    await observer.start()
    try {
      const nodesOf = async () =>
        (await observer.getService('counter')).flatMap((s) => s.nodes.map((n) => n.id))
      await eventually(async () => (await nodesOf()).includes('e'), 3_000)
      await stopNode(child, 'SIGKILL')
      const killedAt = Date.now()
      await eventually(async () => !(await nodesOf()).includes('e'), 5_000)
      assert.ok(Date.now() - killedAt <= 2_000 + 1_500, `gone after ${Date.now() - killedAt} ms`)
    } finally {
      await observer.stop()
    }
  })

  test('processes - garbage on a node TCP port closes that connection; the node keeps serving', async () => {
    const [host, port] = a.address!.split(':') as [string, string]
    const socket = connect(Number(port), host)
    await once(socket, 'connect')
    socket.write(Buffer.from([0x00, 0x00, 0x00, 0x05, 0xc1, 0xc1, 0xc1, 0xc1, 0xc1]))
    await once(socket, 'close')
    await a.register((await import('../fixtures/actors.ts')).recorder)
    assert.deepEqual(await a.ref('recorder/r').ask('events'), [])
    assert.equal((await rejection(a.ref('ghost/x').ask('y'))).code, 'kind_not_found')
  })
})
