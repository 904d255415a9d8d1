// Node B of bench/nats.ts: a mica node in its default configuration (actors on worker threads, one per
// core) hosting bcounter, reachable over the NATS transport (server from MICA_BENCH_NATS_URL). Its
// registry is a memory registry of its own: it says { ready } over IPC with the records it registered,
// and node A registers those in its own (the simplest registry two processes can share for a bench).
// Stops on the parent's 'stop' or when the parent goes away.
import { createKernel, MemoryRegistry, NatsTransport } from '../src/index.ts'
import { counter } from './actors.ts'

const registry = new MemoryRegistry()
const kernel = await createKernel({
  registry,
  transport: new NatsTransport({ servers: process.env.MICA_BENCH_NATS_URL }),
  listen: 'nats:0',
})
await kernel.register(counter)
const records = await registry.getService(counter.kind)
process.send?.({ ready: { address: kernel.address, workers: kernel.options.workers, records } })

let stopping = false
const stop = (): void => {
  if (stopping) return
  stopping = true
  void kernel.stop().then(() => {
    if (process.connected) process.send?.({ stopped: true }, () => process.disconnect())
  })
}
process.on('message', (message) => {
  if (message === 'stop') stop()
})
process.once('disconnect', stop)
