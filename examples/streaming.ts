// A streaming endpoint: the client opens a stream to Shouter.shout on the `shouter` service, sends
// lines and reads the answers (each side may have `window` messages in flight).
// Run: node --import tsx examples/streaming.ts
import { createService } from '../src/index.ts'
import { shouter } from './service-actors.ts'
import { inProcess } from './in-process.ts'

const net = inProcess()
await net.start()
const service = createService({ name: 'shouter', handleSignal: false, ...net.options() })
await service.handle(shouter)
await service.start()
const client = createService({ name: 'client', handleSignal: false, ...net.options() })
await client.start()

const stream = await client.client.stream<string, string>('shouter', 'Shouter.shout', { window: 2 })
const reading = (async () => {
  for await (const line of stream) console.log('<-', line)
})()
for (const line of ['hello', 'streaming', 'world']) {
  console.log('->', line)
  await stream.send(line)
}
stream.end()
await reading
await client.stop()
await service.stop()
await net.stop()
console.log('stream closed')
