/** Baseline: Moleculer 0.14's local `broker.call` to an action returning a number (no transporter). */
import { ServiceBroker } from 'moleculer'
import { sequential, verify, type Limits, type Throughput } from './measure.ts'

export async function moleculerLocalCall(warm: Limits, l: Limits): Promise<Throughput> {
  const broker = new ServiceBroker({ logger: false, transporter: null, metrics: false, tracing: false })
  let n = 0
  broker.createService({ name: 'svc', actions: { get: () => ++n } })
  await broker.start()
  try {
    const call = (): Promise<number> => broker.call<number>('svc.get')
    await sequential(call, warm)
    const before = n
    const result = await sequential(call, l)
    verify(n - before === result.ops, `moleculer ran ${n - before} of ${result.ops} calls`)
    return result
  } finally {
    await broker.stop()
  }
}
