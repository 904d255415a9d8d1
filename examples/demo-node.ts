// Node B of the demo: hosts greeter, counter, shouter and the persistent `visits` (file journal in
// MICA_DEMO_JOURNAL), found by node A over mDNS on loopback (or everything on NATS, JetStream journal
// included: MICA_ENGINE=nats). Started by examples/demo.ts; stops cleanly (deregisters, drains) on
// SIGTERM.
import { createKernel, FileJournal, loopbackNetwork } from '../src/index.ts'
import { counter, greeter, shouter, visits } from './actors.ts'

const mdnsPort = Number(process.env.MICA_DEMO_MDNS_PORT)
const onNats = process.env.MICA_ENGINE === 'nats' // the engine supplies the JetStream journal
const kernel = await createKernel({
  nodeId: 'node-b',
  workers: 2,
  ...(onNats
    ? { engine: 'nats' as const }
    : { journal: new FileJournal({ dir: process.env.MICA_DEMO_JOURNAL! }), ...loopbackNetwork(mdnsPort) }),
})
await kernel.spawn(greeter)
await kernel.register(counter)
await kernel.register(shouter)
await kernel.register(visits)
// pubsub across nodes: the direct broker records this subscription in the registry and node A's
// publishes arrive over TCP (on NATS: a subject subscription); what arrived is told to node A's process
await kernel.subscribe('demo.>', (msg, info) => {
  process.send?.({ got: info.topic, msg, trace: info.metadata.trace ?? null })
})
process.send?.({ ready: kernel.address })
process.once('SIGTERM', () => {
  // no process.exit: once stopped and off the IPC channel, nothing is left open and the process ends
  void kernel.stop().then(() => process.disconnect())
})
