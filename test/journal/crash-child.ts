// Forked by file.test.ts: appends to a file journal in a loop (several streams at once, so appends
// are group-committed) and tells the parent each acknowledged `id:seq` over IPC, until it is killed.
import { FileJournal } from '../../src/journal/file.ts'

const dir = process.argv[2]!
const journal = new FileJournal({ dir, fsync: 'batch', logger: { warn: () => {} } })
await journal.start()
process.send!('ready')

async function writer(id: string): Promise<void> {
  for (let seq = 1; ; seq++) {
    await journal.append(id, [new TextEncoder().encode(`${id}:${seq}`)], seq - 1)
    process.send!(`${id}:${seq}`)
  }
}

await Promise.all(['p0', 'p1', 'p2', 'p3'].map(writer))
