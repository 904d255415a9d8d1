// A persistent counter service on worker threads: its state is a journal of events in files; the
// service stops, a new one starts on the same journal directory, and the count is still there.
// Run: node --import tsx examples/counter.ts
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createService, FileJournal } from '../src/index.ts'
import { counter } from './service-actors.ts'
import { inProcess } from './in-process.ts'

const dir = mkdtempSync(join(tmpdir(), 'mica-counter-'))
const net = inProcess()
await net.start()
const client = createService({ name: 'client', handleSignal: false, ...net.options() })
await client.start()
const counters = client.client.typed(counter, 'counter')

async function counterService() {
  const s = createService({
    name: 'counter',
    workers: 2,
    journal: new FileJournal({ dir }),
    handleSignal: false,
    ...net.options(),
  })
  await s.handle(counter)
  await s.start()
  return s
}

try {
  let service = await counterService()
  for (const by of [1, 2, 3])
    console.log(`add ${by} to visits ->`, await counters.add({ by }, { id: 'visits' }))
  await service.stop()
  console.log('counter service stopped; starting a new one on the same journal')
  service = await counterService()
  console.log('get visits ->', await counters.get(undefined, { id: 'visits' }))
  await service.stop()
} finally {
  await client.stop()
  await net.stop()
  rmSync(dir, { recursive: true, force: true })
}
