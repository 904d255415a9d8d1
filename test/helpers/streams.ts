// A stream check shared by the kernel and transport tests: credit-based flow control holds a writer
// to the reader's window, whatever carries the stream.
import assert from 'node:assert/strict'
import type { ActorRef } from '../../src/actors/types.ts'
import type { chat } from '../fixtures/streams.ts'

/** Writes 40 numbers into `chat`'s `slow` handler with a window of 4 and checks the writer never ran far ahead. */
export async function assertWindowHeld(ref: ActorRef<typeof chat>): Promise<void> {
  const s = ref.stream('slow', { window: 4 })
  let lastRead = 0
  let maxAhead = 0
  const reading = (async () => {
    for await (const n of s) lastRead = n
  })()
  for (let sent = 1; sent <= 40; sent++) {
    await s.send(sent)
    maxAhead = Math.max(maxAhead, sent - lastRead)
  }
  s.end()
  await reading
  await s.done
  assert.equal(lastRead, 40)
  // the window (4), the one in the reader's hands, a report on its way back
  assert.ok(maxAhead <= 4 + 3, `writer ran ${maxAhead} ahead of the reader`)
  assert.ok(maxAhead >= 3, `writer was not serialized: ${maxAhead} ahead`)
  assert.equal((await ref.ask('state')).read, 40)
}
