/**
 * bench:journal — event sourcing on 2 cores. Each figure beside its baseline in the same run:
 * - persisted asks/s through persistent actors on workers with the file journal (fsync batch), many
 *   actors at once so group commit has something to group, vs raw node:fs appends of the same record
 *   bytes with the same group commit (one write + one fsync per batch);
 * - recovery of one actor from 1,000,000 events, without and with a snapshot;
 * - 1,000,000 distinct persistent actors messaged in turn with at most 100,000 live (passivation):
 *   resident memory at the end after a full GC on every thread (and before it), and a sample re-asked
 *   for its full state;
 * - jetstream appends/s vs raw JetStream publishes (when a JetStream journal and nats-server exist).
 * Prints the machine, a table with ratios and targets (PASS/MISS, never a failing exit), one JSON line.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createKernel } from '../src/kernel/kernel.ts'
import { FileJournal } from '../src/journal/file.ts'
import { CodecTable } from '../src/codec/table.ts'
import { HEADER_BYTES } from '../src/journal/record.ts'
import { heapProbe, ledger } from './lib/journal-actors.ts'
import { RawGroupCommit } from './lib/raw-fs.ts'
import { concurrentThroughput, limits, now, SCALE, verify } from './lib/measure.ts'
import { jsonLine, machine, table, type Row } from './lib/report.ts'
import { jetstreamFigures } from './lib/journal-jetstream.ts'

const ACTORS = 2_000
const PERSIST = limits(600_000, 3_000)
const RECOVERY_EVENTS = Math.round(1_000_000 * Math.min(SCALE, 1))
const PASSIVATION_ACTORS = Math.round(1_000_000 * Math.min(SCALE, 1))
const MAX_LIVE = 100_000
const quiet = { debug() {}, info() {}, warn() {}, error() {} }
const codec = new CodecTable().get(undefined)

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'mica-bench-journal-'))
}

/** Persisted asks/s: ACTORS actors, one ask in flight each, actors on workers. */
async function filePersist(): Promise<{ perS: number; recordBytes: number }> {
  const dir = await tempDir()
  const kernel = await createKernel({ journal: new FileJournal({ dir, fsync: 'batch' }), logger: quiet })
  try {
    await kernel.register(ledger)
    const refs = Array.from({ length: ACTORS }, (_, i) => kernel.ref<typeof ledger>(`bench-ledger/a${i}`))
    await Promise.all(refs.map((r) => r.ask('add', { by: 1 }))) // activation + warm-up
    const r = await concurrentThroughput((i) => refs[i]!.ask('add', { by: 1 }), ACTORS, PERSIST)
    const states = await Promise.all(refs.slice(0, 10).map((ref) => ref.ask('get')))
    verify(
      states.every((s) => s.n === s.events && s.n >= 1),
      'each actor state is the fold of its events',
    )
    const recordBytes = HEADER_BYTES + 20 + 'bench-ledger/a0000'.length + codec.encode(1).length
    return { perS: r.perS, recordBytes }
  } finally {
    await kernel.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

async function rawFs(recordBytes: number): Promise<number> {
  const dir = await tempDir()
  const raw = new RawGroupCommit()
  await raw.open(dir)
  try {
    const record = new Uint8Array(recordBytes).fill(7)
    const r = await concurrentThroughput(() => raw.append(record), ACTORS, PERSIST)
    return r.perS
  } finally {
    await raw.close()
    await rm(dir, { recursive: true, force: true })
  }
}

/** Seconds until the first reply of an actor with `events` stored (and a snapshot at the end if asked). */
async function recovery(events: number, snapshot: boolean): Promise<number> {
  const dir = await tempDir()
  try {
    const journal = new FileJournal({ dir, fsync: 'never' })
    await journal.start()
    const one = codec.encode(1)
    const batch = Array.from({ length: 1000 }, () => one)
    for (let seq = 0; seq < events; seq += batch.length) {
      await journal.append('bench-ledger/big', batch.slice(0, Math.min(batch.length, events - seq)), seq)
    }
    if (snapshot) await journal.saveSnapshot('bench-ledger/big', events, codec.encode({ n: events, events }))
    await journal.stop()
    const kernel = await createKernel({ journal: new FileJournal({ dir }), logger: quiet })
    try {
      await kernel.register(ledger)
      const t = now()
      const state = await kernel
        .ref<typeof ledger>('bench-ledger/big')
        .ask('get', undefined, { timeout: 60_000 })
      const seconds = (now() - t) / 1000
      verify(state.n === events && state.events === (snapshot ? events : events), 'recovered state is whole')
      return seconds
    } finally {
      await kernel.stop()
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** RSS after messaging PASSIVATION_ACTORS distinct actors with at most MAX_LIVE live. */
async function passivation(): Promise<{
  rssMb: number
  rssBeforeGcMb: number
  peakRssMb: number
  live: number
  seconds: number
}> {
  const dir = await tempDir()
  const workers = 2
  const kernel = await createKernel({
    workers,
    journal: new FileJournal({ dir, fsync: 'never' }),
    passivation: { maxActors: MAX_LIVE / workers },
    logger: quiet,
  })
  try {
    await kernel.register(ledger)
    await kernel.register(heapProbe)
    const t = now()
    const window = 2_000
    let next = 0
    let peakRssMb = 0
    const sampler = setInterval(() => {
      peakRssMb = Math.max(peakRssMb, process.memoryUsage().rss / 2 ** 20)
    }, 200)
    const loop = async (): Promise<void> => {
      while (next < PASSIVATION_ACTORS) {
        const id = next++
        await kernel.ref<typeof ledger>(`bench-ledger/p${id}`).ask('add', { by: id % 7 }, { timeout: 60_000 })
      }
    }
    await Promise.all(Array.from({ length: window }, loop)).finally(() => clearInterval(sampler))
    const seconds = (now() - t) / 1000
    const live = (await kernel.stats()).actors
    // a sample of passivated actors, asked again: each comes back with its full state
    for (let i = 0; i < 2_000; i++) {
      const id = Math.floor((i * PASSIVATION_ACTORS) / 2_000)
      const state = await kernel.ref<typeof ledger>(`bench-ledger/p${id}`).ask('get')
      verify(state.n === id % 7 && state.events === 1, `actor p${id} came back whole`)
    }
    const rssBeforeGcMb = process.memoryUsage().rss / 2 ** 20
    // resident memory once garbage is collected on every thread (keyed probes land on every worker);
    // V8 compacts a fragmented heap a few pages per full GC, so the main thread gets a few, paced
    for (let i = 0; i < 16 * workers; i++)
      await kernel.ref<typeof heapProbe>(`bench-heap/w${i}`).ask('collect')
    for (let i = 0; i < 6; i++) {
      global.gc?.()
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    return { rssMb: process.memoryUsage().rss / 2 ** 20, rssBeforeGcMb, peakRssMb, live, seconds }
  } finally {
    await kernel.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

async function main(): Promise<void> {
  const host = machine()
  console.log(`bench:journal — scale ${SCALE} (BENCH_SCALE=5 npm run bench:journal runs it 5x longer)`)
  for (const line of host.lines) console.log(line)
  const t0 = now()
  const step = (what: string): void => console.log(`... ${((now() - t0) / 1000).toFixed(1)} s: ${what}`)

  step(`file journal (fsync batch): ${ACTORS} persistent actors on workers, one ask in flight each`)
  const persist = await filePersist()
  step(`raw fs: ${ACTORS} appenders, ${persist.recordBytes}-byte records, one write + fsync per batch`)
  const rawPerS = await rawFs(persist.recordBytes)
  step(`recovery of ${RECOVERY_EVENTS.toLocaleString('en-US')} events, then with a snapshot`)
  const recovery1m = await recovery(RECOVERY_EVENTS, false)
  const recoverySnap = await recovery(RECOVERY_EVENTS, true)
  step(
    `${PASSIVATION_ACTORS.toLocaleString('en-US')} distinct actors, at most ${MAX_LIVE.toLocaleString('en-US')} live`,
  )
  const pass = await passivation()
  console.log(
    `    ${pass.seconds.toFixed(1)} s; ${pass.live} live at the end; rss peaked at ${pass.peakRssMb.toFixed(0)} MB during the run, ${pass.rssBeforeGcMb.toFixed(0)} MB at its end before a GC on every thread`,
  )
  step('jetstream journal vs raw JetStream publish')
  const js = await jetstreamFigures()
  if (js.note !== undefined) console.log(`    ${js.note}`)
  step('done')

  const rows: Row[] = [
    {
      figure: 'file journal persisted asks',
      value: persist.perS,
      unit: '/s',
      baseline: { name: 'raw fs group commit', value: rawPerS },
      target: {
        text: '>= 100,000/s and >= 50% of raw',
        met: persist.perS >= 100_000 && persist.perS >= 0.5 * rawPerS,
      },
    },
    {
      figure: `recovery, ${RECOVERY_EVENTS.toLocaleString('en-US')} events`,
      value: recovery1m,
      unit: 's',
      target: { text: '< 3 s', met: recovery1m < 3 },
    },
    {
      figure: 'recovery from a snapshot',
      value: recoverySnap * 1000,
      unit: 'ms',
      target: { text: '< 50 ms', met: recoverySnap * 1000 < 50 },
    },
    {
      figure: `rss after ${PASSIVATION_ACTORS.toLocaleString('en-US')} actors`,
      value: pass.rssMb,
      unit: 'MB',
      target: { text: '< 500 MB', met: pass.rssMb < 500 },
    },
    {
      figure: 'jetstream journal appends',
      value: js.appendPerS,
      unit: '/s',
      baseline: { name: 'raw JetStream publish', value: js.rawPerS },
      target: { text: 'reported', met: Number.isFinite(js.appendPerS) },
    },
  ]
  console.log('')
  console.log(table(rows))
  console.log('')
  console.log(
    jsonLine('journal', host.node, host.cpus, {
      file_persist_per_s: persist.perS,
      raw_fs_append_per_s: rawPerS,
      file_persist_vs_raw_ratio: persist.perS / rawPerS,
      recovery_1m_s: recovery1m,
      recovery_snapshot_ms: recoverySnap * 1000,
      passivation_rss_mb: pass.rssMb,
      passivation_rss_before_gc_mb: pass.rssBeforeGcMb,
      passivation_peak_rss_mb: pass.peakRssMb,
      passivation_live_count: pass.live,
      jetstream_append_per_s: js.appendPerS,
      raw_jetstream_publish_per_s: js.rawPerS,
    }),
  )
}

await main()
