// The far Moleculer node of bench/nats.ts: a broker with Moleculer's NATS transporter (the legacy
// `nats` v2 client; server from MICA_BENCH_NATS_URL) serving a counter (`bcounter.add` returns the
// new count, `.get` it). Says { ready } over IPC; stops on 'stop' or when the parent goes away.
import { ServiceBroker, type Context } from 'moleculer'

const broker = new ServiceBroker({
  nodeID: 'bench-moleculer-nats-b',
  logger: false,
  metrics: false,
  tracing: false,
  transporter: process.env.MICA_BENCH_NATS_URL,
})
let n = 0
broker.createService({
  name: 'bcounter',
  actions: {
    add: (ctx: Context<{ by: number }>) => (n += ctx.params.by),
    get: () => n,
  },
})
await broker.start()
process.send?.({ ready: { nodeID: broker.nodeID } })

let stopping = false
const stop = (): void => {
  if (stopping) return
  stopping = true
  void broker.stop().then(() => {
    if (process.connected) process.send?.({ stopped: { n } }, () => process.disconnect())
  })
}
process.on('message', (message) => {
  if (message === 'stop') stop()
})
process.once('disconnect', stop)
