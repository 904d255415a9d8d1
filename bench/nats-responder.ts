// The far side of bench/nats.ts's raw baseline: a plain @nats-io/transport-node client answering every
// request on `bench.raw` with the bytes it got (no codec, no routing: the floor of a NATS round trip).
// Server from MICA_BENCH_NATS_URL. Says { ready } over IPC; stops on 'stop' or when the parent goes away.
import { connect } from '@nats-io/transport-node'

const nc = await connect({ servers: process.env.MICA_BENCH_NATS_URL, noAsyncTraces: true })
let answered = 0
nc.subscribe('bench.raw', {
  callback: (_err, msg) => {
    answered++
    msg.respond(msg.data)
  },
})
await nc.flush()
process.send?.({ ready: { subject: 'bench.raw' } })

let stopping = false
const stop = (): void => {
  if (stopping) return
  stopping = true
  void nc.close().then(() => {
    if (process.connected) process.send?.({ stopped: { answered } }, () => process.disconnect())
  })
}
process.on('message', (message) => {
  if (message === 'stop') stop()
})
process.once('disconnect', stop)
