// Node B of bench/remote.ts: a mica node in its default configuration (actors on worker threads, one
// per core) hosting bcounter, found by node A over mDNS on loopback (port from MICA_BENCH_MDNS_PORT).
// Says { ready } over IPC; stops on the parent's 'stop' or when the parent goes away.
import { createKernel, loopbackNetwork } from '../src/index.ts'
import { counter } from './actors.ts'

const kernel = await createKernel({ ...loopbackNetwork(Number(process.env.MICA_BENCH_MDNS_PORT)) })
await kernel.register(counter)
process.send?.({ ready: { address: kernel.address, nodeId: kernel.nodeId, workers: kernel.options.workers } })

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
