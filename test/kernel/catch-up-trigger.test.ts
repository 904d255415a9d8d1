// The catch-up trigger on its own (src/kernel/catch-up.ts): which plugin events count as evidence
// that this node was routed around, one catch-up per tick however much evidence came, the settling
// catch-ups on the clock afterwards, and stop() leaving no timer and no subscription behind.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { CatchUp, settling } from '../../src/kernel/catch-up.ts'
import { Selector } from '../../src/registry/selector.ts'
import { UnavailableError, ErrorCode } from '../../src/errors.ts'
import type { LinkHandler } from '../../src/link.ts'
import type { Registry } from '../../src/registry/registry.ts'
import type { Peer, PeerDownHandler, Transport } from '../../src/transport/transport.ts'
import { ManualClock } from '../helpers/manual-clock.ts'
import { captureLogger } from '../helpers/kernels.ts'

/** The plugin events CatchUp follows, fired by hand; `links: false` is a transport without a shared link (TCP). */
class Plugins {
  readonly peerDown = new Set<PeerDownHandler>()
  readonly transportLink = new Set<LinkHandler>()
  readonly registryLink = new Set<LinkHandler>()
  readonly transport: Transport
  readonly registry: Registry

  constructor(links = true) {
    const subscribe =
      <H>(set: Set<H>) =>
      (handler: H) => {
        set.add(handler)
        return () => void set.delete(handler)
      }
    this.transport = {
      onPeerDown: subscribe(this.peerDown),
      ...(links ? { onLinkChange: subscribe(this.transportLink) } : {}),
    } as unknown as Transport
    this.registry = { onLinkChange: subscribe(this.registryLink) } as unknown as Registry
  }

  downPeer(address: string): void {
    const peer = { address } as Peer
    const reason = new UnavailableError(ErrorCode.CONNECTION_LOST, 'heartbeat timed out')
    for (const h of this.peerDown) h(peer, reason)
  }

  get subscriptions(): number {
    return this.peerDown.size + this.transportLink.size + this.registryLink.size
  }
}

function setup(links = true) {
  const clock = new ManualClock()
  const logger = captureLogger()
  const plugins = new Plugins(links)
  let bumps = 0
  const catchUp = new CatchUp({
    clock,
    logger,
    bump: async () => void bumps++,
    settle: { first: 100, max: 400 },
    stallMs: 5_000,
  })
  catchUp.follow(plugins.transport, plugins.registry)
  return { clock, logger, plugins, catchUp, bumps: () => bumps }
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve))

describe('catch-up trigger', () => {
  test('catch-up trigger - a lost connection, a link lost or restored, or a placement move each make a catch-up', async () => {
    const { plugins, catchUp, bumps, logger } = setup()
    plugins.downPeer('nats:abc')
    await tick()
    assert.equal(bumps(), 1)
    for (const h of plugins.transportLink) h({ state: 'lost', detail: 'disconnected from nats://a' })
    await tick()
    for (const h of plugins.registryLink) h({ state: 'restored', detail: 'reconnected to nats://b' })
    await tick()
    catchUp.trigger("this node's registration of account was deleted")
    await tick()
    assert.equal(bumps(), 4)
    assert.equal(catchUp.epoch, 4)
    assert.ok(
      logger.warnings.length === 0,
      `evidence is logged at info, not as a warning: ${logger.warnings.join('; ')}`,
    )
    catchUp.stop()
  })

  test('catch-up trigger - evidence in one tick makes one catch-up', async () => {
    const { plugins, catchUp, bumps } = setup()
    plugins.downPeer('127.0.0.1:4001')
    plugins.downPeer('127.0.0.1:4002')
    catchUp.trigger('n3 marked down')
    assert.equal(bumps(), 0, 'not in the caller stack')
    await tick()
    assert.equal(bumps(), 1)
    catchUp.stop()
  })

  test('catch-up trigger - settling catch-ups follow as the others mark-down can end, and new evidence starts them again', async () => {
    const { clock, plugins, catchUp, bumps } = setup()
    plugins.downPeer('mem:1')
    await tick()
    assert.equal(bumps(), 1)
    clock.advance(99)
    assert.equal(bumps(), 1)
    clock.advance(1) // 100
    assert.equal(bumps(), 2)
    clock.advance(100) // 200
    assert.equal(bumps(), 3)
    clock.advance(150) // 350: new evidence, the series starts over
    plugins.downPeer('mem:2')
    await tick()
    assert.equal(bumps(), 4)
    clock.advance(100) // 450
    clock.advance(100) // 550
    clock.advance(200) // 750
    assert.equal(bumps(), 7, 'at 100, 200 and 400 after the evidence')
    clock.advance(10_000) // the stall check runs every second meanwhile, on time: no stall
    assert.equal(bumps(), 7, 'and then no more')
    assert.equal(clock.pending, 1, 'the stall check alone')
    catchUp.stop()
  })

  test('catch-up trigger - a stall of the event loop (the check timer fires stallMs late) is evidence', async () => {
    let now = 0
    const timers: { at: number; fn: () => void }[] = []
    const clock = {
      now: () => now,
      setTimeout(fn: () => void, ms: number) {
        const timer = { at: now + ms, fn }
        timers.push(timer)
        return { cancel: () => void timers.splice(timers.indexOf(timer) >>> 0, 1) }
      },
    }
    const fire = (late: number) => {
      const next = timers.sort((a, b) => a.at - b.at).shift()!
      now = next.at + late
      next.fn()
    }
    let bumps = 0
    const plugins = new Plugins()
    const catchUp = new CatchUp({
      clock,
      logger: captureLogger(),
      bump: async () => void bumps++,
      settle: { first: 100_000, max: 100_000 },
      stallMs: 3_000,
    })
    catchUp.follow(plugins.transport, plugins.registry)
    fire(0)
    fire(2_999)
    await tick()
    assert.equal(bumps, 0, 'late, but less than stallMs')
    fire(3_000)
    await tick()
    assert.equal(bumps, 1, 'a stall of stallMs')
    catchUp.stop()
    assert.equal(timers.length, 0, 'stop cancels the check and the settling timer')
  })

  test('catch-up trigger - a transport without a shared link (TCP) is followed by its peers alone', async () => {
    const { plugins, catchUp, bumps } = setup(false)
    assert.equal(plugins.transportLink.size, 0)
    plugins.downPeer('127.0.0.1:4001')
    await tick()
    assert.equal(bumps(), 1)
    catchUp.stop()
  })

  test('catch-up trigger - stop() unsubscribes, cancels the settling timer and ignores later evidence', async () => {
    const { clock, plugins, catchUp, bumps } = setup()
    assert.equal(plugins.subscriptions, 3)
    plugins.downPeer('mem:1')
    catchUp.stop() // before the queued catch-up ran: it does not
    await tick()
    assert.equal(bumps(), 0)
    assert.equal(plugins.subscriptions, 0)
    assert.equal(clock.pending, 0)
    catchUp.trigger('late')
    await tick()
    clock.advance(10_000)
    assert.equal(bumps(), 0)
    catchUp.stop() // idempotent
  })

  test("catch-up trigger - the settling times follow the selector's mark-down and the registration renewal", () => {
    // the defaults: a first mark-down of 5 s, doubling up to 60 s; renewal every 5 s; a 1 s placement cache
    assert.deepEqual(settling(new Selector(), 5_000), { first: 6_000, max: 61_000 })
    assert.deepEqual(settling(new Selector(), 20_000), { first: 21_000, max: 61_000 })
    const quick = new Selector({ markDownMs: 100, maxMarkDownMs: 400 })
    assert.deepEqual(settling(quick, 50), { first: 1_100, max: 1_400 })
  })
})
