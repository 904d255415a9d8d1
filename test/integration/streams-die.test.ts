// Streams across processes when one side dies (SIGKILL): the other side's stream is cancelled with
// connection_lost, every route it used is released on the surviving node (`stats().streams`), and
// the surviving actor keeps serving. One node is this process; the other a forked child, found over
// mDNS on loopback.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import type { Kernel } from '../../src/kernel/kernel.ts'
import { eventually, rejection } from '../helpers/kernels.ts'
import { NodeProcesses, privateMdnsPort } from '../helpers/node-processes.ts'
import { chat } from '../fixtures/streams.ts'

describe('streams across processes when a side dies', () => {
  const nodes = new NodeProcesses(privateMdnsPort())
  let a: Kernel
  before(async () => {
    a = await nodes.caller()
  })
  after(async () => {
    await nodes.stopAll()
    await a.stop()
  })

  test('streams - the serving node is killed: the caller sees connection_lost, no route is left', async () => {
    const { child } = await nodes.start('server')
    const ref = a.ref<typeof chat>('chat/k@server')
    await eventually(async () => (await ref.ask('state').catch(() => undefined)) !== undefined, 5_000)
    const s = ref.stream('echo', { window: 4 })
    const echoed: number[] = []
    const reading = (async () => {
      for await (const n of s) echoed.push(n)
    })().catch((err: unknown) => err)
    for (const n of [1, 2, 3]) await s.send(n)
    await eventually(() => echoed.length === 3)
    assert.equal((await a.stats()).streams, 1)
    const killedAt = Date.now()
    await nodes.stop(child, 'SIGKILL')
    assert.deepEqual(await rejection(s.done), {
      name: 'UnavailableError',
      code: 'connection_lost',
      status: 503,
    })
    const took = Date.now() - killedAt
    console.log(`stream cancelled ${took} ms after the server was killed`)
    assert.ok(took < 5_000, `cancelled after ${took} ms`)
    assert.equal(((await reading) as { code: string }).code, 'connection_lost')
    await assert.rejects(s.send(4), { code: 'connection_lost' })
    await eventually(async () => (await a.stats()).streams === 0)
  })

  test('streams - the calling node is killed: the handler sees connection_lost, its actor serves on', async () => {
    await a.register(chat)
    const { child } = await nodes.start('caller')
    const ref = a.ref<typeof chat>('chat/w@a')
    const streaming = once(child, 'message')
    child.send({ stream: 'chat/w@a' })
    await streaming
    await eventually(async () => (await a.stats()).streams === 1, 5_000) // the inbound stream's route
    const killedAt = Date.now()
    await nodes.stop(child, 'SIGKILL')
    // the streaming handler holds its actor's turn: `state` is answered once the cancel ended it
    const state = await ref.ask('state', undefined, { timeout: 5_000 })
    console.log(`handler saw the cancel ${Date.now() - killedAt} ms after the caller was killed`)
    assert.deepEqual(state, { read: 3, cancelled: 'connection_lost' })
    await eventually(async () => (await a.stats()).streams === 0)
    // the streaming turn is over: the actor takes a new stream
    const s = ref.stream('echo')
    const back: number[] = []
    const reading = (async () => {
      for await (const n of s) back.push(n)
    })()
    await s.send(5)
    s.end()
    await reading
    await s.done
    assert.deepEqual(back, [10])
  })
})
