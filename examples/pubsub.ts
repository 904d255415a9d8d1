// Pubsub between services: two subscriber services share a queue group (each message handled
// once), a third subscribes without a group (gets every message). Run: node --import tsx examples/pubsub.ts
import { createService } from '../src/index.ts'
import { inProcess } from './in-process.ts'

const net = inProcess()
await net.start()
const seen: string[] = []
const subscriber = async (name: string, queue?: string) => {
  const s = createService({ name, handleSignal: false, ...net.options() })
  await s.subscribe<{ id: number }>(
    'orders.created',
    (msg, info) => void seen.push(`${name} got order ${msg.id} (from ${info.metadata['Micro-From'] ?? '?'})`),
    queue === undefined ? {} : { queue },
  )
  await s.start()
  return s
}
const services = [
  await subscriber('billing-1', 'billing'),
  await subscriber('billing-2', 'billing'),
  await subscriber('audit'),
]
const shop = createService({ name: 'shop', handleSignal: false, ...net.options() })
await shop.start()
for (let id = 1; id <= 4; id++)
  await shop.client.publish('orders.created', { id }, { metadata: { 'Micro-From': 'shop' } })
while (seen.length < 8) await new Promise((r) => setTimeout(r, 5))
for (const line of seen.sort()) console.log(line)
console.log(
  `billing handled ${seen.filter((l) => l.startsWith('billing')).length}, audit ${seen.filter((l) => l.startsWith('audit')).length}`,
)
for (const s of [shop, ...services]) await s.stop()
await net.stop()
