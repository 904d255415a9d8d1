// The far Moleculer node of bench/remote.ts: a broker with the TCP transporter on loopback only
// (bench/lib/moleculer-tcp.ts), serving a counter (`bcounter.add` returns the new count, `.get` it).
// Nodes come from MICA_BENCH_MOLECULER ({ self, peer }, JSON). Says { ready } over IPC; stops on the
// parent's 'stop' or when the parent goes away.
import { ServiceBroker, type Context } from 'moleculer'
import { listenAddress, loopbackTcp, type MoleculerNode } from './lib/moleculer-tcp.ts'

const { self, peer } = JSON.parse(process.env.MICA_BENCH_MOLECULER ?? '{}') as {
  self: MoleculerNode
  peer: MoleculerNode
}
const transporter = loopbackTcp(self, [self, peer])
const broker = new ServiceBroker({
  nodeID: self.nodeID,
  logger: false,
  metrics: false,
  tracing: false,
  transporter,
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
process.send?.({ ready: { listen: listenAddress(transporter) } })

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
