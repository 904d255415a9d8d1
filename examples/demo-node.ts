// Node B of the demo: hosts greeter and counter, found by node A over mDNS on loopback.
// Started by examples/demo.ts; stops cleanly (deregisters, drains) on SIGTERM.
import { createKernel, loopbackNetwork } from '../src/index.ts'
import { counter, greeter, shouter } from './actors.ts'

const mdnsPort = Number(process.env.MICA_DEMO_MDNS_PORT)
const kernel = await createKernel({ nodeId: 'node-b', workers: 2, ...loopbackNetwork(mdnsPort) })
await kernel.spawn(greeter)
await kernel.register(counter)
await kernel.register(shouter)
process.send?.({ ready: kernel.address })
process.once('SIGTERM', () => {
  void kernel.stop().then(() => process.exit(0))
})
