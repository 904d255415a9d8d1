// The nats registry on a nats-server of this file's own: the registry contract between two instances
// on two connections (each case on a bucket of its own), then what only NATS has: heartbeats, a
// registrant that dies without deregistering, two instances claiming one node id, a server restart,
// and the options.
//
// The contract runs with `heartbeat: false`: by default the registry itself puts a node registered
// with a TTL again every TTL/3, so the contract's "a node not registered again within its TTL
// expires" would not hold; with heartbeats off the caller refreshes, as the contract says.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { connect } from '@nats-io/transport-node'
import { jetstream } from '@nats-io/jetstream'
import { Kvm } from '@nats-io/kv'
import { ConflictError, ErrorCode, UnavailableError } from '../../src/errors.ts'
import { NatsRegistry, type NatsRegistryOptions } from '../../src/registry/nats.ts'
import { encodeValue, keyOf } from '../../src/registry/nats-records.ts'
import type { Service, WatchEvent } from '../../src/registry/registry.ts'
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts'
import { ManualClock } from '../helpers/manual-clock.ts'
import { eventually, nextEvent, record, registryContract } from './contract.ts'

const TTL_MS = 1000
const SWEEP_MS = 50
let server: NatsServer
let unique = 0

before(async () => {
  server = await startNatsServer()
})
after(() => server.close())

/** Options on a bucket no other case uses (pass `bucket` to share one). */
function options(extra: Partial<NatsRegistryOptions> = {}): NatsRegistryOptions {
  return {
    servers: server.url,
    bucket: `reg_${++unique}`,
    requestTimeoutMs: 2000,
    reconnectTimeWaitMs: 100,
    sweepIntervalMs: SWEEP_MS,
    ...extra,
  }
}

async function started(o: NatsRegistryOptions): Promise<NatsRegistry> {
  const registry = new NatsRegistry(o)
  await registry.start()
  return registry
}

/** Two instances on one bucket, each on its own connection. */
async function pair(extra: Partial<NatsRegistryOptions> = {}): Promise<[NatsRegistry, NatsRegistry]> {
  const shared = options(extra)
  return [await started(shared), await started(shared)]
}

const ids = (services: Service[]): string[] => services.flatMap((s) => s.nodes.map((n) => n.id)).sort()

registryContract('nats', async () => {
  const [writer, reader] = await pair({ heartbeat: false })
  return {
    writer,
    reader,
    ttlMs: TTL_MS,
    advance: (ms) => sleep(ms),
    stop: async () => {
      await Promise.all([writer.stop(), reader.stop()])
    },
  }
})

test('nats - the heartbeat keeps a node alive well past its TTL, with no event', async () => {
  const [writer, reader] = await pair()
  const watcher = reader.watch({ service: 'greeter' })
  const seen: WatchEvent[] = []
  const watching = (async () => {
    for await (const event of watcher) seen.push(event)
  })()
  try {
    const greeter = record('greeter', 'n1')
    await writer.register(greeter, { ttlMs: TTL_MS })
    await eventually(
      async () => seen.length,
      (n) => n === 1,
    )
    await sleep(TTL_MS * 3)
    assert.deepEqual(await reader.getService('greeter'), [greeter])
    assert.deepEqual(
      seen.map((e) => e.action),
      ['create'],
      'no delete, no update',
    )
    await writer.deregister(greeter)
    await eventually(
      async () => seen.map((e) => e.action).join(),
      (actions) => actions === 'create,delete',
    )
  } finally {
    watcher.stop()
    await Promise.all([writer.stop(), reader.stop()])
    await watching
  }
})

test('nats - a node registered with a TTL is put again every TTL/3 (on the registry clock)', async () => {
  const clock = new ManualClock(Date.now())
  const shared = options({ clock })
  const registry = await started(shared)
  const nc = await connect({ servers: server.url })
  try {
    await registry.register(record('greeter', 'n1'), { ttlMs: 900 })
    const kv = await new Kvm(jetstream(nc)).open(shared.bucket!)
    const revision = async () => (await kv.get(keyOf('greeter', '1.0.0', 'n1')))!.revision
    const first = await revision()
    clock.advance(299)
    await sleep(100)
    assert.equal(await revision(), first, 'no put before TTL/3')
    clock.advance(1)
    await eventually(revision, (r) => r > first)
    const second = await revision()
    clock.advance(299)
    await sleep(100)
    assert.equal(await revision(), second, 'the next one TTL/3 later')
    clock.advance(1)
    await eventually(revision, (r) => r > second)
  } finally {
    await registry.stop()
    await nc.close()
  }
})

test('nats - a registrant that dies without deregistering disappears within TTL + sweep', async () => {
  const shared = options()
  const nc = await connect({ servers: server.url })
  const doomed = await started({ ...shared, connection: nc })
  const reader = await started(shared)
  const inspector = await connect({ servers: server.url })
  const watcher = reader.watch({ service: 'greeter' })
  const events = watcher[Symbol.asyncIterator]()
  try {
    await doomed.register(record('greeter', 'n1'), { ttlMs: TTL_MS })
    assert.equal((await nextEvent(events)).action, 'create')
    await sleep(TTL_MS) // a heartbeat or two went out
    const killedAt = Date.now()
    await nc.close() // the process is gone: no deregister, no more heartbeats
    const gone = await nextEvent(events, TTL_MS * 3)
    const took = Date.now() - killedAt
    console.log(`# deleted ${took} ms after the kill (TTL ${TTL_MS} ms, sweep ${SWEEP_MS} ms)`)
    assert.equal(gone.action, 'delete')
    assert.deepEqual(ids([gone.service]), ['n1'])
    // heard last at most TTL/3 before the kill: gone by TTL + one sweep (+ scheduling slack)
    assert.ok(took <= TTL_MS + SWEEP_MS + 400, `deleted ${took} ms after the kill`)
    assert.deepEqual(await reader.getService('greeter'), [])
    // the reader also took the stale key out of the bucket
    const kv = await new Kvm(jetstream(inspector)).open(shared.bucket!)
    const key = keyOf('greeter', '1.0.0', 'n1')
    await eventually(
      async () => (await kv.get(key))?.operation,
      (op) => op === 'DEL',
    )
  } finally {
    watcher.stop()
    await Promise.all([doomed.stop(), reader.stop()])
    await inspector.close()
  }
})

test('nats - a record left by a dead registrant is not loaded by a registry started later', async () => {
  const shared = options()
  const nc = await connect({ servers: server.url })
  try {
    const kv = await new Kvm(jetstream(nc)).create(shared.bucket!, { history: 1 })
    const stale = {
      service: record('greeter', 'old'),
      owner: 'dead',
      ttlMs: 1000,
      heartbeat: Date.now() - 60_000,
    }
    const live = { service: record('greeter', 'fresh'), owner: 'alive', ttlMs: 60_000, heartbeat: Date.now() }
    await kv.put(keyOf('greeter', '1.0.0', 'old'), encodeValue(stale))
    await kv.put(keyOf('greeter', '1.0.0', 'fresh'), encodeValue(live))
    await kv.put('greeter.v1=2E0=2E0.junk', 'not json')
    const warnings: string[] = []
    const registry = await started({ ...shared, onWarning: (e) => warnings.push(e.message) })
    try {
      assert.deepEqual(ids(await registry.getService('greeter')), ['fresh'])
      assert.ok(
        warnings.some((w) => /junk.*not JSON/.test(w)),
        warnings.join('\n'),
      )
      await eventually(
        async () => (await kv.get(keyOf('greeter', '1.0.0', 'old')))?.operation,
        (op) => op === 'DEL',
      )
    } finally {
      await registry.stop()
    }
  } finally {
    await nc.close()
  }
})

test('nats - two instances claiming one node id: the newest registration wins, the replaced one is fenced off', async () => {
  // no heartbeats, no sweeps: a record stays in the bucket until someone writes the key
  const shared = options({ heartbeat: false, sweepIntervalMs: 60_000 })
  const [a, b] = [await started(shared), await started(shared)]
  const nc = await connect({ servers: server.url })
  try {
    const kv = await new Kvm(jetstream(nc)).open(shared.bucket!)
    const conflict = (e: unknown): boolean =>
      e instanceof ConflictError &&
      e.status === 409 &&
      e.code === ErrorCode.CONFLICT &&
      /node n1 /.test(e.message)
    await a.register(record('greeter', 'n1'))
    // b registers the same node id (a restarted process would): it takes the key over at once
    await b.register(record('greeter', 'n1', { metadata: { by: 'b' } }))
    await eventually(
      () => a.getService('greeter'),
      (s) => s[0]?.metadata.by === 'b',
    )
    // a's refresh finds itself replaced: refused, and refused again (no taking it back)
    await assert.rejects(a.register(record('greeter', 'n1', { metadata: { by: 'a' } })), conflict)
    await assert.rejects(a.register(record('greeter', 'n1', { metadata: { by: 'a' } })), conflict)
    assert.deepEqual((await b.getService('greeter'))[0]!.metadata, { by: 'b' }, "b's record stands")
    // a's deregister and stop leave b's record alone
    await a.deregister(record('greeter', 'n1'))
    await b.register(record('cart', 'n2'))
    await a.register(record('cart', 'n2')) // a takes n2 (newest wins) ...
    await assert.rejects(b.register(record('cart', 'n2')), /node n2 /) // ... and b is fenced off n2
    await a.stop()
    await sleep(200)
    assert.equal((await kv.get(keyOf('greeter', '1.0.0', 'n1')))?.operation, 'PUT', 'n1 is still b’s')
    assert.deepEqual(
      (await b.getService('greeter')).map((s) => s.metadata),
      [{ by: 'b' }],
    )
    assert.deepEqual(ids(await b.getService('cart')), [], 'a deregistered n2, its own')
  } finally {
    await Promise.all([a.stop(), b.stop()])
    await nc.close()
  }
})

for (const storage of ['memory', 'file'] as const) {
  test(`nats - a server restart (${storage} bucket): calls fail as unavailable meanwhile, nodes are put again, readers see them`, async () => {
    // a memory-stored bucket is lost with the server: the registries make it again and put their nodes
    const shared = options({ storage })
    const [writer, reader] = [await started(shared), await started(shared)]
    const watcher = reader.watch({ service: 'greeter' })
    const seen: WatchEvent[] = []
    const watching = (async () => {
      for await (const event of watcher) seen.push(event)
    })()
    let late: NatsRegistry | undefined
    const links: string[] = []
    writer.onLinkChange((e) => links.push(e.state))
    try {
      const greeter = record('greeter', 'n1')
      await writer.register(greeter, { ttlMs: 1500 })
      await writer.register(record('cart', 'n2')) // no TTL: lives until deregistered, across restarts too
      await eventually(
        () => reader.listServices(),
        (s) => ids(s).length === 2,
      )
      await server.stop()
      await sleep(300) // the clients see the socket close
      assert.deepEqual(links, ['lost'], 'the registry reports its link lost')
      const unavailable = (e: unknown): boolean =>
        e instanceof UnavailableError && e.status === 503 && e.retryable
      await assert.rejects(writer.register(record('greeter', 'n3')), unavailable)
      await assert.rejects(reader.getService('greeter'), unavailable)
      await assert.rejects(reader.listServices(), unavailable)
      await sleep(1500) // longer than the TTL: nothing expires while nobody can refresh
      const restartedAt = Date.now()
      await server.restart()
      // a registry started after the restart sees only what is in the bucket again
      late = await eventually(
        () => started(shared).catch(() => undefined),
        (r) => r !== undefined,
        10_000,
      )
      const back = await eventually(
        () => late!.listServices(),
        (s) => ids(s).join() === 'n1,n2',
        10_000,
      )
      assert.deepEqual(
        back.find((s) => s.name === 'greeter'),
        greeter,
      )
      await eventually(
        async () => reader.listServices().catch(() => []),
        (s) => ids(s).join() === 'n1,n2',
      )
      console.log(`# ${storage}: registries back ${Date.now() - restartedAt} ms after the restart`)
      assert.deepEqual(links, ['lost', 'restored'], 'once each, however many reconnect attempts failed')
      await writer.register(record('greeter', 'n3'))
      assert.deepEqual(ids(await writer.getService('greeter')), ['n1', 'n3'], 'the writer reads its write')
      await eventually(
        () => reader.getService('greeter'),
        (s) => ids(s).join() === 'n1,n3',
      )
      await sleep(2000) // the heartbeat goes on after the restart
      assert.deepEqual(ids(await reader.getService('greeter')), ['n1', 'n3'])
      const actions = seen.map((e) => `${e.action} ${e.service.nodes[0]!.id}`)
      // a file bucket survives: no event but n3's; a memory one may flap n1 (delete, create) once
      if (storage === 'file') assert.deepEqual(actions, ['create n1', 'create n3'])
      else
        assert.deepEqual(
          actions.filter((a) => a.endsWith('n3')),
          ['create n3'],
        )
    } finally {
      await Promise.all([writer.stop(), reader.stop(), late?.stop()])
      await watching
    }
  })
}

test('nats - a given connection is used and left open by stop', async () => {
  const nc = await connect({ servers: server.url })
  try {
    const { servers: _servers, ...rest } = options()
    const registry = await started({ ...rest, connection: nc })
    await registry.register(record('greeter', 'n1'))
    assert.equal((await registry.getService('greeter')).length, 1)
    await registry.stop()
    assert.equal(nc.isClosed(), false)
  } finally {
    await nc.close()
  }
})

test('nats - start fails with UnavailableError when no server answers', async () => {
  const registry = new NatsRegistry({ servers: 'nats://127.0.0.1:1', reconnect: false })
  await assert.rejects(registry.start(), (e: unknown) => e instanceof UnavailableError && e.status === 503)
  await registry.stop()
})

test('nats - stop while starting closes the connection; start is idempotent; stopped is final', async () => {
  const before = process.getActiveResourcesInfo().sort()
  const registry = new NatsRegistry(options())
  const starting = registry.start()
  assert.equal(registry.start(), starting)
  await registry.stop()
  await assert.rejects(starting, { code: 'unavailable' })
  await assert.rejects(registry.start(), { code: 'unavailable' })
  assert.deepEqual(process.getActiveResourcesInfo().sort(), before)
})

test('nats - keys are valid KV keys, distinct, and readable', () => {
  const kvKey = /^[-/=.\w]+$/
  const keys = [
    keyOf('greeter', '1.0.0', 'n1'),
    keyOf('greeter', '', 'n1'),
    keyOf('greeter.v1', '', 'n1'),
    keyOf('greeter', 'v1', 'n1'),
    keyOf('go.micro.srv', '1.0.0+build.7', 'host:4000'),
    keyOf('go.micro', 'srv.1', 'host:4000'),
    keyOf('x'.repeat(128), 'v'.repeat(64), 'n'.repeat(128)),
  ]
  for (const key of keys) {
    assert.match(key, kvKey)
    assert.ok(!key.startsWith('.') && !key.endsWith('.') && !key.includes('..'), key)
  }
  assert.equal(new Set(keys).size, keys.length)
  assert.equal(keys[0], 'greeter.v1=2E0=2E0.n1')
  assert.equal(keys[4], 'go=2Emicro=2Esrv.v1=2E0=2E0=2Bbuild=2E7.host=3A4000')
})

test('nats - bad options are refused with BadRequestError invalid_options', () => {
  const bad: Partial<NatsRegistryOptions>[] = [
    { servers: undefined },
    { servers: [] },
    { bucket: 'has.dot' },
    { bucket: '' },
    { replicas: 0 },
    { replicas: 2.5 },
    { storage: 'disk' as 'file' },
    { requestTimeoutMs: 0 },
    { sweepIntervalMs: Number.NaN },
    { maxRecords: 0 },
    { maxRecords: 1.5 },
    { heartbeat: 'yes' as unknown as boolean },
  ]
  for (const extra of bad) {
    assert.throws(
      () => new NatsRegistry({ servers: 'nats://127.0.0.1:4222', ...extra }),
      { code: 'invalid_options', status: 400 },
      JSON.stringify(extra),
    )
  }
})

test('nats - maxRecords bounds what a registry registers and what its view holds', async () => {
  const shared = options()
  const warnings: string[] = []
  const small = await started({ ...shared, maxRecords: 2, onWarning: (e) => warnings.push(e.message) })
  const big = await started(shared)
  try {
    await small.register(record('a', 'n1'))
    await small.register(record('b', 'n2'))
    await assert.rejects(small.register(record('c', 'n3')), { code: 'bad_request' })
    await small.register(record('a', 'n1', { metadata: { again: 'yes' } })) // a refresh is not a new record
    await big.register(record('d', 'n4'))
    await eventually(
      () => big.listServices(),
      (s) => ids(s).length === 3,
    )
    await sleep(200)
    assert.deepEqual(ids(await small.listServices()), ['n1', 'n2'])
    assert.ok(
      warnings.some((w) => /view full/.test(w)),
      warnings.join('\n'),
    )
  } finally {
    await Promise.all([small.stop(), big.stop()])
  }
})
