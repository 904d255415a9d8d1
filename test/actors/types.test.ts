// Typed refs: `npm test` typechecks this file first, so each @ts-expect-error below must stay an error
// (a wrong message type, an unknown handler, a missing message) and each assignment must keep its type.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createKernel } from '../../src/kernel/kernel.ts'
import type { ActorRef } from '../../src/actors/types.ts'
import { counter } from '../fixtures/counter.ts'

test('types - ref.ask infers message and reply types from the definition', async () => {
  const kernel = await createKernel({ workers: 0 })
  try {
    const ref: ActorRef<typeof counter> = await kernel.spawn(counter, 't')
    const added: number = await ref.ask('add', { by: 2 })
    const got: number = await ref.ask('get')
    const log: number[] = await ref.ask('log')
    ref.send('add', { by: 1 })
    const untyped: ActorRef = kernel.ref('counter/t')
    const anything: unknown = await untyped.ask('get', undefined, { timeout: 100 })
    assert.equal(added, 2)
    assert.equal(got, 2)
    assert.deepEqual(log, [])
    assert.equal(anything, 3)
  } finally {
    await kernel.stop()
  }
})

/** Never called: these lines exist for the typechecker. */
export async function compileOnly(ref: ActorRef<typeof counter>): Promise<void> {
  // @ts-expect-error the message of `add` is { by: number }
  await ref.ask('add', { by: 'x' })
  // @ts-expect-error `add` needs a message
  await ref.ask('add')
  // @ts-expect-error no such handler
  await ref.ask('nope')
  // @ts-expect-error the reply of `get` is a number
  const wrong: string = await ref.ask('get')
  // @ts-expect-error sends are typed too
  ref.send('get', 5)
  void wrong
}
