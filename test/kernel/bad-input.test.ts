import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { MODES, rejection, withKernel } from '../helpers/kernels.ts'
import { counter } from '../fixtures/actors.ts'
import { createKernel } from '../../src/kernel/kernel.ts'
import { defineActor } from '../../src/actors/define.ts'

for (const mode of MODES) {
  describe(`kernel bad input (${mode.name})`, () => {
    test('bad input - unknown kind is a 404 kind_not_found', () =>
      withKernel(mode, async (kernel) => {
        assert.deepEqual(await rejection(kernel.ref('nobody/1').ask('x')), {
          name: 'NotFoundError',
          code: 'kind_not_found',
          status: 404,
        })
      }))

    test('bad input - unknown handler is a 404 handler_not_found, also for prototype names', () =>
      withKernel(mode, async (kernel) => {
        const ref = kernel.ref('counter/u')
        await kernel.register(counter)
        for (const h of ['nope', 'constructor', '__proto__', 'toString']) {
          assert.equal((await rejection(ref.ask(h))).code, 'handler_not_found', h)
        }
        assert.equal(await kernel.ref<typeof counter>('counter/u').ask('get'), 0)
      }))

    test('bad input - malformed addresses are 400 invalid_address', () =>
      withKernel(mode, async (kernel) => {
        for (const a of ['', 'bad kind/1', 'k/1@', 'k/1@bad node', `k/${'x'.repeat(600)}`]) {
          assert.throws(() => kernel.ref(a), { code: 'invalid_address', status: 400 }, a)
        }
      }))

    test('bad input - malformed metadata and timeouts are 400s', () =>
      withKernel(mode, async (kernel) => {
        const ref = await kernel.spawn(counter, 'md')
        const badMd = { metadata: { n: 1 } as unknown as Record<string, string> }
        assert.equal((await rejection(ref.ask('get', undefined, badMd))).code, 'bad_request')
        assert.equal((await rejection(ref.ask('get', undefined, { timeout: -1 }))).code, 'bad_request')
        assert.equal((await rejection(ref.ask('get', undefined, { contentType: 'text/x-nope' }))).status, 400)
        assert.equal(await ref.ask('get'), 0)
      }))

    test('bad input - a handler that throws does not stop the actor', () =>
      withKernel(mode, async (kernel) => {
        const ref = await kernel.spawn(counter, 'th')
        for (let i = 0; i < 3; i++) await rejection(ref.ask('boom', { message: `#${i}` }))
        assert.equal(await ref.ask('add', { by: 2 }), 2)
      }))

    if (mode.encodes) {
      test('bad input - a message that cannot be encoded is a 400 encode_failed', () =>
        withKernel(mode, async (kernel) => {
          const ref = await kernel.spawn(counter, 'enc')
          const fn = { by: 1, f: () => 1 } as unknown as { by: number }
          assert.deepEqual(await rejection(ref.ask('add', fn)), {
            name: 'BadRequestError',
            code: 'encode_failed',
            status: 400,
          })
          const circular: Record<string, unknown> = {}
          circular.self = circular
          assert.equal((await rejection(ref.ask('echo', circular))).code, 'encode_failed')
          assert.throws(() => ref.send('add', fn), { code: 'encode_failed' })
          assert.equal(await ref.ask('get'), 0)
        }))

      test('bad input - a reply that cannot be encoded fails the ask, not the actor', () =>
        withKernel(mode, async (kernel) => {
          const ref = await kernel.spawn(counter, 'rep')
          assert.equal((await rejection(ref.ask('fn'))).code, 'encode_failed')
          assert.equal(await ref.ask('add', { by: 1 }), 1)
        }))

      test('bad input - messages and replies over the size limit are 400 message_too_large', () =>
        withKernel(mode, { maxMessageBytes: 4096 }, async (kernel) => {
          const ref = await kernel.spawn(counter, 'big')
          assert.deepEqual(await rejection(ref.ask('echo', 'x'.repeat(5000))), {
            name: 'BadRequestError',
            code: 'message_too_large',
            status: 400,
          })
          assert.equal((await rejection(ref.ask('big', { bytes: 5000 }))).code, 'message_too_large')
          assert.equal(((await ref.ask('big', { bytes: 100 })) as string).length, 100)
        }))
    }
  })
}

describe('kernel bad input (definitions and options)', () => {
  test('bad input - invalid kernel options are 400 invalid_options', async () => {
    for (const options of [{ workers: -1 }, { workers: 1.5 }, { askTimeoutMs: 0 }, { nodeId: 'a b' }]) {
      await assert.rejects(createKernel(options), { code: 'invalid_options' }, JSON.stringify(options))
    }
  })

  test('bad input - invalid definitions are refused when defined', () => {
    const bad = [
      { kind: '', handlers: {} },
      { kind: 'has space', handlers: {} },
      { kind: 'k', handlers: { h: 1 } },
      { kind: 'k', handlers: { $sys: () => 1 } },
      { kind: 'k', handlers: {}, mailbox: { capacity: 0 } },
      { kind: 'k', handlers: {}, mailbox: { overflow: 'explode' } },
      { kind: 'k', handlers: {}, turnTimeoutMs: -5 },
      { kind: 'k', handlers: {}, snapshotEvery: 5 }, // neither apply nor machine: nothing to snapshot
      { kind: 'k', handlers: { h: () => 1 }, schemas: 'x' },
      { kind: 'k', handlers: { h: () => 1 }, schemas: { other: {} } }, // names no handler
      { kind: 'k', handlers: { h: () => 1 }, schemas: { h: 5 } },
      { kind: 'k', handlers: { h: () => 1 }, schemas: { h: { request: 'string' } } },
    ]
    for (const def of bad) {
      assert.throws(() => defineActor(def as never), { code: 'invalid_options' }, JSON.stringify(def))
    }
  })

  test('bad input - two different definitions cannot share a kind name (409)', () =>
    withKernel(MODES[0]!, async (kernel) => {
      await kernel.register(counter)
      const impostor = defineActor({
        kind: 'counter',
        handlers: { get: () => -1 },
        module: 'file:///elsewhere.ts',
      })
      await assert.rejects(kernel.spawn(impostor, 'x'), { code: 'conflict', status: 409 })
      await kernel.spawn(counter, 'fine')
    }))

  test('bad input - spawn of a module that does not exist is a clear 400', () =>
    withKernel(MODES[0]!, async (kernel) => {
      await assert.rejects(kernel.spawn(new URL('./missing-module.ts', import.meta.url), 'x'), {
        code: 'invalid_options',
      })
    }))
})
