// A typed client from an actor definition, with no code generation: `typed(greeter)` has a method
// per handler whose request and reply types come from the handler. Wrappers on the client side:
// trace context (traceparent per hop) and metrics (count, errors, latency per endpoint).
// Run: node --import tsx examples/typed-client.ts
import { createService, metricsWrapper, traceContext } from '../src/index.ts'
import { greeter } from './service-actors.ts'
import { inProcess } from './in-process.ts'

const net = inProcess()
await net.start()
const service = createService({ name: 'greeter', handleSignal: false, ...net.options() })
await service.handle(greeter)
await service.start()

const metrics = metricsWrapper()
const app = createService({
  name: 'app',
  handleSignal: false,
  wrappers: [traceContext(), metrics],
  ...net.options(),
})
await app.start()

const greeterClient = app.client.typed(greeter, 'greeter')
const reply = await greeterClient.hello({ name: 'typed' }) // reply: { greeting: string; from: string }
console.log('hello ->', reply.greeting, 'from', reply.from)
await greeterClient.hello({ name: '' }).catch((err: Error) => console.log('hello("") ->', err.message))
const m = metrics.snapshot().client['greeter Greeter.hello']!
console.log(`metrics: ${m.count} calls, ${m.errors} errors`)

await app.stop()
await service.stop()
await net.stop()
