// The main demo: two nodes (two processes) that find each other over mDNS on loopback; node A asks
// actors on node B, streams, publishes, keeps a persistent count across a SIGKILL of node B, and
// keyed actors spread over both nodes move when B leaves. Run: npm run demo
// On NATS instead (registry, transport, broker and JetStream journal; a nats-server with -js at
// MICA_NATS_SERVERS, default nats://127.0.0.1:4222): npm run demo -- --nats
import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createKernel, loopbackNetwork, MicaError, type ActorRef } from '../src/index.ts'
import { counter, ledger, type shouter, type visits } from './actors.ts'

process.env.MICA_DEMO_NODE = 'node-a'
const onNats = process.argv.includes('--nats') || process.env.MICA_ENGINE === 'nats'
const mdnsPort = 20_000 + Math.floor(Math.random() * 20_000) // a private mDNS port: no other demo hears us
const run = Math.random().toString(36).slice(2, 8) // on NATS the journal outlives the demo: ids of this run
const a = await createKernel({
  nodeId: 'node-a',
  workers: 2,
  ...(onNats ? { engine: 'nats' as const } : loopbackNetwork(mdnsPort)),
})
await a.register(counter)
const how = onNats
  ? `NATS at ${process.env.MICA_NATS_SERVERS ?? 'nats://127.0.0.1:4222'}`
  : `mDNS on 127.0.0.1, port ${mdnsPort}`
console.log(`node-a up at ${a.address}; starting node-b (${how})`)

const journalDir = mkdtempSync(join(tmpdir(), 'mica-demo-journal-')) // node B's file journal
async function startNodeB(): Promise<ChildProcess> {
  const child = fork(new URL('./demo-node.ts', import.meta.url), {
    execArgv: ['--import', 'tsx'],
    env: {
      ...process.env,
      MICA_DEMO_NODE: 'node-b',
      MICA_DEMO_MDNS_PORT: String(mdnsPort),
      MICA_DEMO_JOURNAL: journalDir,
      ...(onNats ? { MICA_ENGINE: 'nats' } : {}),
    },
  })
  const [ready] = (await once(child, 'message')) as [{ ready: string }]
  console.log(`node-b up at ${ready.ready} (pid ${child.pid})`)
  return child
}
/** Asks until node B answers: right after it starts, discovery may still be in progress. */
async function untilAnswered<T>(ask: () => Promise<T>): Promise<T> {
  const started = Date.now()
  for (;;) {
    try {
      return await ask()
    } catch (err) {
      if (Date.now() - started > 10_000) throw err
      await new Promise((r) => setTimeout(r, 50))
    }
  }
}
let b = await startNodeB()

try {
  const greeter = a.ref('greeter/')
  const started = Date.now()
  let reply: unknown
  for (;;) {
    try {
      reply = await greeter.ask('hello', { name: 'mica' })
      break
    } catch (err) {
      if (Date.now() - started > 5_000) throw err
      await new Promise((r) => setTimeout(r, 50)) // discovery in progress
    }
  }
  console.log(`ask greeter/ on node-b (found in ${Date.now() - started} ms) ->`, reply)
  try {
    await greeter.ask('hello', { name: '' })
  } catch (err) {
    const e = err as MicaError
    console.log('a remote error arrives typed ->', e.name, {
      code: e.code,
      status: e.status,
      detail: e.detail,
    })
  }

  const stream = a.ref<typeof shouter>('shouter/demo').stream('shout', { window: 2 })
  const shouted: string[] = []
  const reading = (async () => {
    for await (const line of stream) shouted.push(line)
  })()
  for (const line of ['one', 'two', 'three']) await stream.send(line)
  stream.end()
  await reading
  console.log('a stream to node-b (window 2) ->', shouted)

  // pubsub on node A: a topic into a keyed actor, and a function
  const books = await a.spawn(ledger, 'books')
  await a.subscribe('orders.*', books, { handler: 'record' })
  const seen: string[] = []
  await a.subscribe('orders.>', (_order, info) => void seen.push(info.topic))
  await a.publish('orders.created', { id: 'o-1', total: 30 }, { metadata: { trace: 't-1' } })
  await a.publish('orders.paid', { id: 'o-1', total: 30 })
  await new Promise((r) => setTimeout(r, 50))
  console.log('pubsub: ledger/books ->', await books.ask('lines'), '; orders.> saw', seen)

  // pubsub across nodes: node B subscribed to `demo.>` (the direct broker finds it through mDNS; on
  // NATS it is a subject subscription)
  const heard = new Promise<unknown>((resolve) => {
    b.on('message', (m: { got?: string }) => {
      if (m.got !== undefined) resolve(m)
    })
  })
  const publishing = setInterval(() => {
    void a.publish('demo.greeting', { text: 'hi from node-a' }, { metadata: { trace: 't-2' } })
  }, 100) // until node-a's direct broker has seen node-b's subscription (a watch event)
  try {
    console.log('pubsub across nodes: node-b received ->', await heard)
  } finally {
    clearInterval(publishing)
  }

  // persistence: node B keeps visits/home in its journal (a file, or JetStream on NATS); a SIGKILL
  // loses no acknowledged event
  const homeId = onNats ? `visits/home-${run}` : 'visits/home'
  const home = (): ActorRef<typeof visits> => a.ref<typeof visits>(homeId)
  for (let i = 0; i < 3; i++) await untilAnswered(() => home().ask('hit'))
  console.log(`${homeId} on node-b, its 4th hit ->`, await home().ask('hit'))
  b.kill('SIGKILL')
  await once(b, 'exit')
  console.log('node-b killed with SIGKILL; starting it again on the same journal')
  b = await startNodeB()
  console.log(
    `${homeId} after the restart (recovered from the journal) ->`,
    await untilAnswered(() => home().ask('hit')),
  )

  const ids = ['ada', 'bob', 'cyd', 'dan', 'eve', 'fay', 'gus', 'hal']
  for (const id of ids)
    for (let i = 0; i < 5; i++) await a.ref<typeof counter>(`counter/${id}`).ask('add', { by: 1 })
  const homes = await Promise.all(ids.map((id) => a.ref<typeof counter>(`counter/${id}`).ask('where')))
  console.log('8 keyed counters, 5 adds each, placed by rendezvous hashing ->')
  for (const [i, id] of ids.entries()) console.log(`  counter/${id}: lives on ${homes[i]}`)

  const t = Date.now()
  const n = 10_000
  await Promise.all(
    Array.from({ length: n }, (_, i) => a.ref<typeof counter>(`counter/${ids[i % 8]}`).ask('add', { by: 1 })),
  )
  console.log(`${n} concurrent asks across both nodes in ${Date.now() - t} ms`)

  b.kill('SIGTERM')
  await once(b, 'exit')
  console.log('node-b stopped (deregistered on SIGTERM); asking the counters again ->')
  const after = await Promise.all(ids.map((id) => a.ref<typeof counter>(`counter/${id}`).ask('where')))
  console.log(
    `  all on ${[...new Set(after)].join(', ')} now (counter is not persistent: those of node-b start afresh here)`,
  )
} finally {
  if (b.exitCode === null) b.kill('SIGKILL')
  await a.stop()
  rmSync(journalDir, { recursive: true, force: true })
  console.log('stopped cleanly')
}
