/**
 * jetstream_append_per_s beside raw_jetstream_publish_per_s: the JetStream journal appending one event
 * per call from 64 persistence ids at once, and the raw client publishing the same bytes (awaiting
 * each ack) from 64 loops, both against one nats-server started here (free loopback port, temp
 * store, stopped by its pid).
 */
import { connect } from '@nats-io/transport-node'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { JetStreamJournal } from '../../src/journal/jetstream.ts'
import { startNatsServer } from '../../test/helpers/nats-server.ts'
import { concurrentThroughput, limits } from './measure.ts'

const LOOPS = 64
const PLAN = limits(200_000, 2_000)

export async function jetstreamFigures(): Promise<{ appendPerS: number; rawPerS: number; note?: string }> {
  let server
  try {
    server = await startNatsServer()
  } catch (err) {
    return { appendPerS: NaN, rawPerS: NaN, note: `nats-server unavailable: ${(err as Error).message}` }
  }
  const payload = new Uint8Array(16).fill(1)
  try {
    const journal = new JetStreamJournal({ servers: server.url })
    await journal.start()
    const seqs = new Array<number>(LOOPS).fill(0)
    const mica = await concurrentThroughput(
      async (i) => {
        seqs[i] = await journal.append(`bench/${i}`, [payload], seqs[i]!)
      },
      LOOPS,
      PLAN,
    )
    await journal.stop()

    const nc = await connect({ servers: server.url })
    const jsm = await jetstreamManager(nc)
    await jsm.streams.add({ name: 'RAW', subjects: ['raw.>'] })
    const js = jetstream(nc)
    const raw = await concurrentThroughput((i) => js.publish(`raw.${i}`, payload), LOOPS, PLAN)
    await nc.close()
    return { appendPerS: mica.perS, rawPerS: raw.perS }
  } finally {
    await server.close()
  }
}
