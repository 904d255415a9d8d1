// The main demo: a node with actors on worker threads. Run: npm run demo
import { threadId } from 'node:worker_threads'
import { createKernel, MicaError } from '../src/index.ts'
import { counter, greeter } from './actors.ts'

const kernel = await createKernel({ workers: 2 })
console.log(`node ${kernel.nodeId}: ${kernel.workers} workers (main thread ${threadId})`)

const hello = await kernel.spawn(greeter)
console.log('ask greeter/       ->', await hello.ask('hello', { name: 'mica' }))
try {
  await hello.ask('hello', { name: '' })
} catch (err) {
  const e = err as MicaError
  console.log('ask with bad input ->', e.name, { code: e.code, status: e.status, detail: e.detail })
}

const counters = await Promise.all(['a', 'b', 'c'].map((id) => kernel.spawn(counter, id)))
for (const ref of counters) for (let i = 0; i < 1000; i++) ref.send('add', { by: 1 })
const totals = await Promise.all(counters.map((ref) => ref.ask('get')))
console.log('3 counters x 1000 sends ->', Object.fromEntries(counters.map((r, i) => [r.address, totals[i]])))

const started = performance.now()
const asks = 20_000
await Promise.all(Array.from({ length: asks }, (_, i) => counters[i % 3]!.ask('add', { by: 1 })))
const seconds = (performance.now() - started) / 1000
console.log(
  `${asks} concurrent asks across workers in ${(seconds * 1000).toFixed(0)} ms (${Math.round(asks / seconds)}/s)`,
)

const stats = await kernel.stats()
console.log('stats ->', { actors: stats.actors, kinds: stats.kinds, deadLetters: stats.deadLetters })
await kernel.stop()
console.log('stopped cleanly')
