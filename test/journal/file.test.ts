// The file journal: the contract on a temp directory, then recovery (torn tails, corruption), the
// directory lock, group commit, and a real crash (SIGKILL of a child process mid-append).
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { fork, spawnSync } from 'node:child_process'
import { mkdtemp, readFile, readdir, rm, truncate, writeFile, appendFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FileJournal, type FileJournalOptions } from '../../src/journal/file.ts'
import { JournalCorruptError, JournalLockedError } from '../../src/journal/journal.ts'
import { bytes, journalContract, texts } from './contract.ts'

const maxEventBytes = 4096
const dirs: string[] = []
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))))

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mica-journal-'))
  dirs.push(dir)
  return dir
}

/** A started journal on `dir` whose warnings are collected in `warnings`. */
async function open(dir: string, options: Partial<FileJournalOptions> = {}, warnings: string[] = []) {
  const journal = new FileJournal({
    dir,
    maxEventBytes,
    logger: { warn: (m) => warnings.push(m) },
    ...options,
  })
  await journal.start()
  return journal
}

async function lastSegment(dir: string): Promise<string> {
  const names = (await readdir(join(dir, 'segments'))).filter((n) => n.endsWith('.seg')).sort()
  return join(dir, 'segments', names.at(-1)!)
}

journalContract('file', async () => {
  const dir = await tempDir()
  let journal = await open(dir)
  return {
    get journal() {
      return journal
    },
    maxEventBytes,
    reopen: async () => {
      await journal.stop()
      journal = await open(dir)
      return journal
    },
    stop: async () => {
      await journal.stop()
      await rm(dir, { recursive: true, force: true })
    },
  }
})

test('file - reopening recovers every event across many segments', async () => {
  const dir = await tempDir()
  let journal = await open(dir, { segmentBytes: 512 })
  for (let i = 0; i < 60; i++)
    await journal.append(`id${i % 3}`, [bytes(`e${i}`), bytes(`f${i}`)], 2 * Math.floor(i / 3))
  await journal.stop()
  assert.ok((await readdir(join(dir, 'segments'))).length > 5, 'rolled into several segments')
  journal = await open(dir, { segmentBytes: 512 })
  for (let k = 0; k < 3; k++) {
    const expected = Array.from({ length: 20 }, (_, j) => [`e${3 * j + k}`, `f${3 * j + k}`]).flat()
    assert.deepEqual(await texts(journal, `id${k}`), expected)
  }
  await journal.stop()
})

test('file - a torn last record is cut away and earlier events survive', async () => {
  const dir = await tempDir()
  let journal = await open(dir)
  for (let i = 1; i <= 5; i++) await journal.append('a', [bytes(`e${i}`)], i - 1)
  await journal.stop()
  const segment = await lastSegment(dir)
  const size = (await readFile(segment)).length
  await truncate(segment, size - 3) // the last record loses its tail
  const warnings: string[] = []
  journal = await open(dir, {}, warnings)
  assert.deepEqual(await texts(journal, 'a'), ['e1', 'e2', 'e3', 'e4'])
  assert.equal(warnings.length, 1)
  assert.match(warnings[0]!, /torn tail/)
  assert.equal(await journal.append('a', [bytes('e5 again')], 4), 5)
  await journal.stop()
  journal = await open(dir)
  assert.deepEqual(await texts(journal, 'a'), ['e1', 'e2', 'e3', 'e4', 'e5 again'])
  await journal.stop()
})

test('file - a multi-event append cut in the middle is dropped whole; zero fill is cut too', async () => {
  const dir = await tempDir()
  let journal = await open(dir)
  await journal.append('a', [bytes('keep')], 0)
  await journal.append('a', [bytes('x1'), bytes('x2'), bytes('x3')], 1)
  await journal.stop()
  const segment = await lastSegment(dir)
  const size = (await readFile(segment)).length
  await truncate(segment, size - 5) // x3 (the commit record) is torn: x1 and x2 must go too
  await appendFile(segment, Buffer.alloc(100)) // a crash after the file grew but before data landed
  journal = await open(dir)
  assert.deepEqual(await texts(journal, 'a'), ['keep'])
  assert.equal(await journal.highestSeq('a'), 1)
  await journal.stop()
})

test('file - a flipped byte in the middle refuses to start, naming the file and offset', async () => {
  const dir = await tempDir()
  let journal = await open(dir)
  for (let i = 1; i <= 5; i++) await journal.append('a', [bytes(`event-${i}`)], i - 1)
  await journal.stop()
  const segment = await lastSegment(dir)
  const data = await readFile(segment)
  const recordBytes = data.length / 5
  const at = 2 * recordBytes + recordBytes - 3 // inside the third record's payload
  data[at] = data[at]! ^ 0xff
  await writeFile(segment, data)
  const err = await open(dir).catch((e: unknown) => e)
  assert.ok(err instanceof JournalCorruptError, String(err))
  assert.equal(err.file, segment)
  assert.equal(err.offset, 2 * recordBytes)
  assert.match(err.detail, /CRC mismatch/)
  assert.equal(err.status, 500)
  // Refused, not repaired: the file is untouched, and the lock was released.
  assert.equal((await readFile(segment)).length, data.length)
  data[at] = data[at]! ^ 0xff
  await writeFile(segment, data)
  journal = await open(dir)
  assert.equal(await journal.highestSeq('a'), 5)
  await journal.stop()
})

test('file - the lock keeps a second journal off the directory; a dead owner’s lock is taken over', async () => {
  const dir = await tempDir()
  const first = await open(dir)
  const err = await open(dir).catch((e: unknown) => e)
  assert.ok(err instanceof JournalLockedError, String(err))
  assert.equal(err.ownerPid, process.pid)
  assert.equal(err.status, 503)
  await first.stop()
  const dead = spawnSync(process.execPath, ['-e', '']).pid! // exited: its pid is (almost surely) free
  await writeFile(join(dir, 'LOCK'), `${dead}\nstale-token\n`)
  const warnings: string[] = []
  const second = await open(dir, {}, warnings)
  assert.match(warnings.join('\n'), /stale lock/)
  await second.append('a', [bytes('x')], 0)
  await second.stop()
  await assert.rejects(readFile(join(dir, 'LOCK')), { code: 'ENOENT' }) // released on stop
})

test('file - fsync batch groups concurrent appends; always syncs each', async () => {
  for (const fsync of ['batch', 'always'] as const) {
    const dir = await tempDir()
    let syncs = 0
    const journal = await open(dir, { fsync, onSync: (t) => void (t === 'segment' && syncs++) })
    await Promise.all(Array.from({ length: 100 }, (_, i) => journal.append(`id${i}`, [bytes('x')], 0)))
    if (fsync === 'batch') assert.ok(syncs < 10, `${syncs} fsyncs for 100 appends`)
    else assert.ok(syncs >= 100, `${syncs} fsyncs for 100 appends`)
    await journal.stop()
  }
})

test('file - an append resolves only after the fsync that makes it durable (default batch, and always)', async () => {
  for (const fsync of [undefined, 'batch', 'always'] as const) {
    const dir = await tempDir()
    let syncs = 0
    const onSync = (target: string): void => void (target === 'segment' && syncs++)
    const journal = await open(dir, fsync === undefined ? { onSync } : { fsync, onSync })
    for (let i = 0; i < 20; i++) {
      const before = syncs
      await journal.append('a', [bytes(`e${i}`)], i)
      assert.ok(syncs > before, `fsync ${fsync ?? 'default'}: append ${i} answered before its fsync`)
    }
    await journal.stop()
  }
})

test('file - fsync never still keeps everything across stop and start', async () => {
  const dir = await tempDir()
  let syncs = 0
  let journal = await open(dir, { fsync: 'never', onSync: () => syncs++ })
  await Promise.all(Array.from({ length: 20 }, (_, i) => journal.append('a', [bytes(`e${i}`)], i)))
  await journal.stop()
  assert.equal(syncs, 0)
  journal = await open(dir)
  assert.equal(await journal.highestSeq('a'), 20)
  await journal.stop()
})

test('file - a process killed mid-append loses no acknowledged event', async () => {
  const dir = await tempDir()
  const child = fork(new URL('./crash-child.ts', import.meta.url).pathname, [dir], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const acked = new Map<string, number>()
  let count = 0
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', () => reject(new Error('child exited before it was killed')))
    child.on('message', (message) => {
      if (message === 'ready') return
      const [id, seq] = String(message).split(':')
      assert.equal(Number(seq), (acked.get(id!) ?? 0) + 1, 'acks arrive in order')
      acked.set(id!, Number(seq))
      if (++count === 400) {
        child.kill('SIGKILL')
        resolve()
      }
    })
  })
  await exited
  const journal = await open(dir)
  for (const [id, seq] of acked) {
    const events = await journal.read(id, 1)
    assert.ok(events.length >= seq, `${id}: acknowledged ${seq}, recovered ${events.length}`)
    assert.deepEqual(
      events.map((e) => e.seq),
      Array.from({ length: events.length }, (_, i) => i + 1),
    )
    assert.deepEqual(
      events.map((e) => new TextDecoder().decode(e.payload)),
      events.map((e) => `${id}:${e.seq}`),
    )
  }
  await journal.stop()
})

test('file - stop leaves no file handle or immediate open', async () => {
  const open_ = () =>
    process.getActiveResourcesInfo().filter((r) => r === 'FileHandle' || r === 'Immediate').length
  const before = open_()
  const dir = await tempDir()
  const journal = await open(dir, { segmentBytes: 256 })
  const appends = Array.from({ length: 30 }, (_, i) => journal.append('a', [bytes(`e${i}`)], i))
  await journal.read('a', 1)
  await Promise.all(appends)
  await journal.saveSnapshot('a', 30, bytes('s'))
  await journal.read('a', 1)
  await journal.stop()
  assert.equal(open_(), before)
})

test('file - bytes damaged after start are refused on read with the typed error', async () => {
  const dir = await tempDir()
  const journal = await open(dir)
  await journal.append('a', [bytes('first'), bytes('second')], 0)
  const segment = await lastSegment(dir)
  const data = await readFile(segment)
  data[data.length - 1] = data[data.length - 1]! ^ 0xff // the last payload byte of 'second'
  await writeFile(segment, data)
  await assert.rejects(journal.read('a', 1), (err: unknown) => {
    assert.ok(err instanceof JournalCorruptError)
    assert.equal(err.file, segment)
    assert.match(err.detail, /bad-body/)
    return true
  })
  await journal.stop()
})
