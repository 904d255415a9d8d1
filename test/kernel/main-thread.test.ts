// `thread: 'main'` kinds beside worker kinds, and the per-handler counts kernel.stats() reports.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { isMainThread } from 'node:worker_threads'
import { createKernel } from '../../src/kernel/kernel.ts'
import { defineActor } from '../../src/actors/define.ts'
import { errors } from '../../src/errors.ts'
import { counter } from '../fixtures/counter.ts'
import { captureLogger, rejection } from '../helpers/kernels.ts'

test('main thread - a thread: main kind runs on the main thread of a kernel with workers', async () => {
  const seen: string[] = [] // a main-thread object no worker could reach
  const probe = defineActor({
    kind: 'probe',
    thread: 'main',
    handlers: {
      note(msg: { text: string }) {
        if (msg.text === '') throw errors.badRequest('empty')
        seen.push(msg.text)
        return isMainThread
      },
    },
  })
  const kernel = await createKernel({ workers: 1, logger: captureLogger() })
  try {
    await kernel.register(probe)
    await kernel.register(counter)
    assert.equal(await kernel.ref<typeof probe>('probe/a').ask('note', { text: 'one' }), true)
    kernel.ref<typeof probe>('probe/a').send('note', { text: 'two' })
    await rejection(kernel.ref<typeof probe>('probe/a').ask('note', { text: '' }))
    assert.equal(await kernel.ref<typeof counter>('counter/c').ask('add', { by: 2 }), 2)
    assert.equal(await kernel.ref<typeof counter>('counter/c').ask('add', { by: 3 }), 5)
    assert.deepEqual(seen, ['one', 'two'])
    const stats = await kernel.stats()
    assert.deepEqual(stats.handlers['probe.note'], { count: 3, errors: 1 })
    assert.deepEqual(stats.handlers['counter.add'], { count: 2, errors: 0 }, 'counted on the worker')
    assert.equal(stats.actors, 2)
  } finally {
    await kernel.stop()
  }
})

test('main thread - thread must be main when given', () => {
  assert.throws(
    () => defineActor({ kind: 'bad-thread', thread: 'worker' as 'main', handlers: { x: () => 1 } }),
    /thread must be 'main'/,
  )
})
