// Go Micro's greeter, ported: a `greeter` service with one endpoint (Greeter.hello) and a client
// service that calls it, in one process. Run: node --import tsx examples/greeter.ts
import { createService, MicaError } from '../src/index.ts'
import { greeter } from './service-actors.ts'
import { inProcess } from './in-process.ts'

const net = inProcess()
await net.start()

// the server: micro.NewService(micro.Name("greeter")); RegisterGreeterHandler(...); service.Run()
const service = createService({ name: 'greeter', version: '1.0.0', handleSignal: false, ...net.options() })
await service.handle(greeter)
const running = service.run() // resolves once the service stopped (on SIGINT/SIGTERM with handleSignal)

// the client: another service calling greeter's endpoint
const client = createService({ name: 'greeter-client', handleSignal: false, ...net.options() })
await client.start()
while (!service.running) await new Promise((r) => setTimeout(r, 5))

const reply = await client.client.call('greeter', 'Greeter.hello', { name: 'John' })
console.log('greeter.Greeter.hello ->', reply)
try {
  await client.client.call('greeter', 'Greeter.hello', { name: '' })
} catch (err) {
  const e = err as MicaError
  console.log('an error arrives typed ->', e.name, e.status, e.code, e.detail)
}
console.log('Debug.Health ->', await client.client.call('greeter', 'Debug.Health'))

await client.stop()
await service.stop()
await running
await net.stop()
console.log('stopped')
