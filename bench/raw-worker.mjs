// Raw baseline worker for bench/kernel.ts (plain JavaScript: no loader in the worker). It talks over
// the MessagePort it is given, like mica's workers. Mode `count`: each message is a transferred
// ArrayBuffer holding a msgpack batch of [key, body] frames; it unpacks the batch and every body,
// counts, and answers with its running total. Mode `echo`: it posts every ArrayBuffer straight back.
import { workerData } from 'node:worker_threads'
import { Unpackr } from 'msgpackr'

const { port, mode } = workerData
const unpackr = new Unpackr({ useRecords: false })
const counts = new Map()
let total = 0

port.on('message', (data) => {
  if (data === 'close') {
    port.close()
    return
  }
  if (mode === 'echo') {
    port.postMessage(data, [data])
    return
  }
  const batch = unpackr.unpack(new Uint8Array(data))
  for (let i = 0; i < batch.length; i++) {
    const [key, body] = batch[i]
    const by = unpackr.unpack(body).by
    counts.set(key, (counts.get(key) ?? 0) + by)
    total += by
  }
  port.postMessage(total)
})
