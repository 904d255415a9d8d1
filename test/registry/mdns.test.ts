// The mdns registry on loopback: the contract between two registries in this process, the records on
// the wire as a standard mDNS listener sees them, unicast answers, and the limits of one packet.
// Every registry binds 0.0.0.0 with interface 127.0.0.1 on a port of its own (random per file, one
// more per harness), so parallel test files and earlier tests never hear each other.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import dnsPacket from 'dns-packet'
import type { Answer, DecodedPacket } from 'dns-packet'
import createMdns from 'multicast-dns'
import type { ResponsePacket } from 'multicast-dns'
import { BadRequestError } from '../../src/errors.ts'
import { replyTo } from '../../src/registry/mdns-answer.ts'
import { announcement, decodeInstance, dnsLabel, mdnsNames } from '../../src/registry/mdns-records.ts'
import { MdnsRegistry, type MdnsRegistryOptions } from '../../src/registry/mdns.ts'
import type { Service } from '../../src/registry/registry.ts'
import { eventually, nextEvent, record, registryContract } from './contract.ts'

const firstPort = 25353 + Math.floor(Math.random() * 20000)
const ports = { next: firstPort }
const names = mdnsNames('local')

function loopback(port: number, extra: MdnsRegistryOptions = {}): MdnsRegistry {
  return new MdnsRegistry({ interface: '127.0.0.1', bind: '0.0.0.0', port, ...extra })
}

async function pair(
  extra: MdnsRegistryOptions = {},
): Promise<{ port: number; a: MdnsRegistry; b: MdnsRegistry }> {
  const port = ports.next++
  const a = loopback(port, extra)
  const b = loopback(port, extra)
  await Promise.all([a.start(), b.start()])
  return { port, a, b }
}

registryContract('mdns', async () => {
  const { a, b } = await pair()
  return {
    writer: a,
    reader: b,
    ttlMs: 1000,
    advance: (ms) => sleep(ms),
    stop: async () => {
      await Promise.all([a.stop(), b.stop()])
    },
  }
})

const bad = (e: unknown): boolean => e instanceof BadRequestError && e.code === 'bad_request'
const noise = (bytes: number): string => randomBytes(bytes).toString('base64').slice(0, bytes)

describe('mdns records', () => {
  test('mdns - labels are safe, distinct DNS labels for any id', () => {
    assert.equal(dnsLabel('node-1', 63), 'node-1')
    const ids = ['Node.1', 'node.1', 'node-1x', 'x'.repeat(128), `${'x'.repeat(128)}y`]
    const labels = ids.map((id) => dnsLabel(id, 63))
    for (const label of labels) assert.match(label, /^[a-z0-9_:-]{1,63}$/)
    assert.equal(new Set(labels).size, ids.length)
  })

  test('mdns - no TXT string exceeds 255 bytes, and large records round-trip', () => {
    const metadata = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`key-${i}`, noise(60)]))
    const instance = {
      nodeId: 'node.with.dots',
      address: '127.0.0.1:4000',
      metadata: { zone: 'a' },
      services: [
        { name: 'greeter', version: '1.0.0', metadata, endpoints: [{ name: 'hello', metadata: { a: 'b' } }] },
        { name: 'x'.repeat(128), version: 'v'.repeat(64), metadata: {}, endpoints: [] },
      ],
    }
    const bytes = dnsPacket.encode({ type: 'response', answers: announcement(instance, 120, names) })
    const decoded = dnsPacket.decode(bytes)
    const records = decoded.answers ?? []
    const txt = records.find((r) => r.type === 'TXT')
    const srv = records.find((r) => r.type === 'SRV')
    assert.ok(txt?.type === 'TXT' && srv?.type === 'SRV')
    const strings = txt.data as Buffer[]
    assert.ok(strings.length > 10, 'the payload was chunked')
    for (const s of strings) assert.ok(s.length <= 255, `a TXT string of ${s.length} bytes`)
    assert.deepEqual(decodeInstance(srv.data, txt.data, records), instance)
  })

  test('mdns - a QU question from the mDNS port is answered unicast, a plain one multicast', () => {
    const instance = {
      nodeId: 'n1',
      address: '127.0.0.1:4000',
      metadata: {},
      services: [record('greeter', 'n1')],
    }
    const query = (qu: boolean): DecodedPacket => {
      const bytes = dnsPacket.encode({
        type: 'query',
        questions: [{ name: '_Greeter._sub._mica._tcp.local', type: 'PTR' }],
      })
      if (qu) bytes.writeUInt16BE(0x8001, bytes.length - 2)
      return dnsPacket.decode(bytes)
    }
    const owned = [{ instance, ttl: 120 }]
    const multicast = replyTo(query(false), 5353, 5353, owned, names)
    const unicast = replyTo(query(true), 5353, 5353, owned, names)
    assert.equal(multicast?.unicast, false)
    assert.equal(unicast?.unicast, true)
    assert.equal(unicast?.packet.answers?.[0]?.name, '_Greeter._sub._mica._tcp.local', 'the name as asked')
    assert.equal(replyTo(query(false), 5353, 5353, [], names), undefined, 'nothing of ours: silence')
  })
})

describe('mdns on loopback', () => {
  test('mdns - a standard listener sees PTR, subtype PTR, SRV, TXT and A; deregister and stop say goodbye', async () => {
    const port = ports.next++
    const sniffer = createMdns({ interface: '127.0.0.1', bind: '0.0.0.0', port })
    const heard: ResponsePacket[] = []
    sniffer.on('response', (packet: ResponsePacket) => heard.push(packet))
    await once(sniffer, 'ready')
    const registry = loopback(port)
    await registry.start()
    try {
      const greeter = record('greeter', 'n1')
      await registry.register(greeter)
      const heardWith = (ttl: (t: number) => boolean): Answer[] =>
        heard.flatMap((p) => p.answers).filter((a) => 'ttl' in a && ttl(a.ttl ?? 0))
      const text = (a: Answer): string =>
        `${a.type} ${a.name} ${'data' in a && typeof a.data === 'string' ? a.data : ''}`
      const live = (
        await eventually(
          async () => heardWith((t) => t > 0),
          (a) => a.length >= 5,
        )
      ).map(text)
      const instance = 'n1._mica._tcp.local'
      assert.ok(live.includes(`PTR _mica._tcp.local ${instance}`), live.join('\n'))
      assert.ok(live.includes(`PTR _greeter._sub._mica._tcp.local ${instance}`), live.join('\n'))
      assert.ok(live.includes(`SRV ${instance} `))
      assert.ok(live.includes(`TXT ${instance} `))
      assert.ok(live.includes('A n1.local 127.0.0.1'))
      const answers = heard.flatMap((p) => p.answers)
      const srv = answers.find((a) => a.type === 'SRV')
      assert.ok(srv?.type === 'SRV')
      assert.equal(srv.data.port, Number(greeter.nodes[0]!.address.split(':')[1]))
      assert.equal(srv.flush, true)
      const txt = answers.find((a) => a.type === 'TXT')
      assert.ok(txt?.type === 'TXT')
      const strings = (txt.data as Buffer[]).map(String)
      for (const s of ['txtvers=1', 'node=n1', 's0=greeter@1.0.0']) assert.ok(strings.includes(s), s)

      await registry.deregister(greeter)
      const goodbye = await eventually(
        async () => heardWith((t) => t === 0),
        (a) => a.length >= 4,
      )
      assert.ok(goodbye.some((a) => a.type === 'SRV' && a.name === instance))
      assert.ok(goodbye.some((a) => a.type === 'PTR' && a.name === '_greeter._sub._mica._tcp.local'))

      // stop says goodbye too, for every node still registered
      await registry.register(record('cart', 'n2'))
      await eventually(
        async () => heardWith((t) => t > 0).filter((a) => a.name === 'n2._mica._tcp.local'),
        (a) => a.length > 0,
      )
      await registry.stop()
      const onStop = await eventually(
        async () => heardWith((t) => t === 0).filter((a) => a.name === 'n2._mica._tcp.local'),
        (a) => a.some((x) => x.type === 'SRV') && a.some((x) => x.type === 'TXT'),
      )
      assert.ok(onStop.length >= 2)
    } finally {
      await registry.stop()
      await new Promise<void>((resolve) => sniffer.destroy(resolve))
    }
  })

  test('mdns - a one-shot query from another port gets a unicast reply echoing id, question and name', async () => {
    const port = ports.next++
    const registry = loopback(port)
    await registry.start()
    const socket = createSocket('udp4')
    try {
      await registry.register(record('greeter', 'n1'))
      await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
      socket.setMulticastInterface('127.0.0.1')
      const asked = '_GREETER._sub._mica._tcp.local'
      const query = dnsPacket.encode({ type: 'query', id: 4242, questions: [{ name: asked, type: 'PTR' }] })
      query.writeUInt16BE(0x8001, query.length - 2) // the QU bit: "answer me directly"
      const reply = once(socket, 'message')
      socket.send(query, port, '224.0.0.251')
      const [bytes] = (await Promise.race([reply, sleep(2000).then(() => assert.fail('no reply'))])) as [
        Buffer,
      ]
      const packet = dnsPacket.decode(bytes)
      assert.equal(packet.type, 'response')
      assert.equal(packet.id, 4242)
      assert.deepEqual(
        packet.questions?.map((q) => q.name),
        [asked],
      )
      const ptr = packet.answers?.[0]
      assert.ok(ptr?.type === 'PTR')
      assert.equal(ptr.name, asked)
      assert.equal(ptr.data, 'n1._mica._tcp.local')
      assert.ok((ptr.ttl ?? 0) <= 10, 'legacy replies cap the TTL')
      assert.deepEqual(packet.additionals?.map((a) => a.type).sort(), ['A', 'SRV', 'TXT'])
    } finally {
      socket.close()
      await registry.stop()
    }
  })

  test('mdns - a registry started later finds existing nodes by asking', async () => {
    const port = ports.next++
    const writer = loopback(port)
    await writer.start()
    await writer.register(record('greeter', 'n1'))
    await writer.register(record('cart', 'n2'))
    const late = loopback(port)
    const later = loopback(port)
    await Promise.all([late.start(), later.start()])
    try {
      assert.deepEqual(
        (await late.getService('greeter')).map((s) => s.nodes[0]!.id),
        ['n1'],
      )
      const all = await later.listServices()
      assert.deepEqual(all.map((s) => s.name).sort(), ['cart', 'greeter'])
    } finally {
      await Promise.all([writer.stop(), late.stop(), later.stop()])
    }
  })

  test('mdns - browsers keep a live node past its record TTL by asking again', async () => {
    const { a, b } = await pair({ ttlMs: 1000 })
    const watcher = b.watch()
    const events = watcher[Symbol.asyncIterator]()
    try {
      await a.register(record('greeter', 'n1')) // no ttlMs: the records carry the registry's 1 s
      assert.equal((await nextEvent(events)).action, 'create')
      await assert.rejects(nextEvent(events, 2500), /no watch event/)
      assert.equal((await b.getService('greeter')).length, 1)
    } finally {
      watcher.stop()
      await Promise.all([a.stop(), b.stop()])
    }
  })

  test('mdns - a node gets one address, and all its records must fit one packet', async () => {
    const { a, b } = await pair()
    try {
      const greeter = record('greeter', 'n1')
      await a.register(greeter)
      const elsewhere = record('cart', 'n1', { nodes: [{ id: 'n1', address: '10.0.0.1:1', metadata: {} }] })
      await assert.rejects(a.register(elsewhere), bad)
      const heavy = (name: string): Service =>
        record(name, 'n1', {
          metadata: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, noise(180)])),
        })
      await a.register(heavy('big-1'))
      await assert.rejects(
        (async () => {
          for (let i = 2; i < 10; i++) await a.register(heavy(`big-${i}`))
        })(),
        (e: unknown) => bad(e) && /over one mDNS packet/.test((e as Error).message),
      )
      const seen = await eventually(
        () => b.listServices(),
        (s) => s.some((x) => x.name === 'big-1'),
      )
      assert.ok(seen.some((s) => s.name === 'greeter'))
    } finally {
      await Promise.all([a.stop(), b.stop()])
    }
  })

  test('mdns - stop while starting closes the socket; start is idempotent; stopped is final', async () => {
    const before = process.getActiveResourcesInfo().sort()
    const registry = loopback(ports.next++)
    const starting = registry.start()
    assert.equal(registry.start(), starting)
    await registry.stop()
    await assert.rejects(starting, { code: 'unavailable' })
    await assert.rejects(
      loopback(ports.next++)
        .stop()
        .then(() => registry.start()),
      { code: 'unavailable' },
    )
    assert.deepEqual(process.getActiveResourcesInfo().sort(), before)
  })

  test('mdns - options are checked', () => {
    assert.throws(() => new MdnsRegistry({ port: 70000 }), { code: 'invalid_options' })
    assert.throws(() => new MdnsRegistry({ ttlMs: 10 }), { code: 'invalid_options' })
    assert.throws(() => new MdnsRegistry({ domain: 'bad domain' }), { code: 'invalid_options' })
  })
})
