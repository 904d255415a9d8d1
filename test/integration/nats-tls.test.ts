// The NATS engine over TLS: a nats-server of this file's own with a `tls { ... }` block, its
// certificate self-signed for 127.0.0.1 and generated here with openssl (a missing openssl fails the
// file loudly, nothing is skipped). Nodes given `nats: { tls: { caFile } }` and `tls://` servers ask
// each other, publish and subscribe, and journal to JetStream (registry, transport, broker and
// journal each on its own TLS connection); a client without the CA is refused at once with an
// UnavailableError naming the servers, by each plugin and by the kernel. Then mutual TLS: the server
// verifies clients, one without a certificate (or with one it does not trust) is refused at the
// connect deadline `connectTimeoutMs` with an error that says why, one with `certFile` and `keyFile`
// works.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { createKernel, type Kernel } from '../../src/kernel/kernel.ts'
import type { NatsEngineOptions } from '../../src/kernel/engine.ts'
import { NatsRegistry } from '../../src/registry/nats.ts'
import { NatsTransport } from '../../src/transport/nats.ts'
import { NatsBroker } from '../../src/broker/nats.ts'
import { JetStreamJournal } from '../../src/journal/jetstream.ts'
import { UnavailableError } from '../../src/errors.ts'
import { account } from '../fixtures/ledger.ts'
import { captureLogger } from '../helpers/kernels.ts'
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts'
import { selfSigned } from '../helpers/certs.ts'

/** A refused connection must fail by then, not hang on reconnects. */
const REFUSED_WITHIN_MS = 5000
const PLUGINS = ['registry', 'transport', 'broker', 'journal']

const dir = mkdtempSync(join(tmpdir(), 'mica-nats-tls-'))
after(() => rmSync(dir, { recursive: true, force: true }))

const serverCert = selfSigned(dir, 'mica-nats-server')
const clientCert = selfSigned(dir, 'mica-nats-client')

/** A `tls { ... }` server block; `verifyWith`: the CA clients' certificates must be signed by. */
function tlsBlock(verifyWith?: string): string {
  const lines = [`  cert_file: "${serverCert.cert}"`, `  key_file: "${serverCert.key}"`, '  timeout: 2']
  if (verifyWith !== undefined) lines.push(`  ca_file: "${verifyWith}"`, '  verify: true')
  return `tls {\n${lines.join('\n')}\n}\n`
}

const tlsUrl = (server: NatsServer): string => `tls://127.0.0.1:${server.port}`

function node(server: NatsServer, nats: NatsEngineOptions): Promise<Kernel> {
  return createKernel({
    engine: 'nats',
    servers: tlsUrl(server),
    workers: 0,
    logger: captureLogger(),
    nats: { reconnectTimeWaitMs: 200, ...nats },
  })
}

/** Rejects if `promise` has not settled within `ms` (a refusal must not hang). */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not settled within ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([promise, late])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * `attempt` rejects at once with a 503 UnavailableError naming the server and `reason` (and the
 * plugin, when `who` is one).
 */
async function refused(
  server: NatsServer,
  who: string,
  reason: RegExp,
  attempt: () => Promise<unknown>,
): Promise<void> {
  const url = tlsUrl(server).replace(/[.:/]/g, (c) => `\\${c}`)
  await within(
    REFUSED_WITHIN_MS,
    who,
    assert.rejects(attempt(), (err: unknown) => {
      assert.ok(err instanceof UnavailableError, `${who}: ${String(err)}`)
      assert.equal(err.status, 503)
      assert.equal(err.code, 'unavailable')
      assert.match(err.message, new RegExp(`^[a-z]+: cannot connect to nats ${url}: `))
      if (PLUGINS.includes(who)) assert.ok(err.message.startsWith(`${who}: `), err.message)
      assert.match(err.message, reason)
      return true
    }),
  )
}

/** Polls `ok` every 10 ms until it holds or 5 s passed. */
async function until(what: string, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000
  while (!ok()) {
    if (Date.now() > deadline) assert.fail(`${what} (not within 5000 ms)`)
    await sleep(10)
  }
}

describe('nats engine over TLS (server certificate)', () => {
  let server: NatsServer
  before(async () => {
    server = await startNatsServer([], { config: tlsBlock() })
  })
  after(() => server.close())

  test('nats tls - nodes with the CA ask across nodes, publish and subscribe, and journal to JetStream', async () => {
    const tls = { caFile: serverCert.cert }
    const a = await node(server, { tls })
    const b = await node(server, { tls })
    try {
      await a.register(account)
      const got: unknown[] = []
      await a.subscribe('tls.news', (msg) => void got.push(msg))
      // b hosts no account: the asks cross to a over the TLS transport, found in the TLS registry
      const ref = b.ref<typeof account>('account/tls')
      assert.equal(await ref.ask('deposit', { amount: 5 }), 5)
      assert.equal(await ref.ask('deposit', { amount: 7 }), 12)
      assert.equal((await a.stats()).actors, 1, 'the account lives on a')
      assert.equal((await b.stats()).actors, 0)
      await b.publish('tls.news', { n: 1 })
      await until('the message published on b reached a', () => got.length === 1)
      assert.deepEqual(got, [{ n: 1 }])
    } finally {
      await Promise.all([a.stop(), b.stop()])
    }
    // a new node rebuilds the account from the JetStream journal it reads over TLS
    const c = await node(server, { tls })
    try {
      await c.register(account)
      assert.deepEqual(await c.ref<typeof account>('account/tls').ask('balance'), {
        balance: 12,
        entries: 2,
      })
    } finally {
      await c.stop()
    }
  })

  test('nats tls - without the CA every plugin and the kernel are refused at once, naming the servers', async () => {
    // the client's defaults otherwise (reconnect for ever): the first connect still fails at once
    const options = { servers: tlsUrl(server) }
    const registry = new NatsRegistry(options)
    const transport = new NatsTransport(options)
    const broker = new NatsBroker(options)
    const journal = new JetStreamJournal(options)
    try {
      const untrusted = /certificate/i
      await refused(server, 'registry', untrusted, () => registry.start())
      await refused(server, 'transport', untrusted, () => transport.listen('nats:0'))
      await refused(server, 'broker', untrusted, () => broker.start())
      await refused(server, 'journal', untrusted, () => journal.start())
      await refused(server, 'kernel', untrusted, () => node(server, {}))
      // a CA that did not sign the server's certificate is no better
      await refused(server, 'kernel with another CA', untrusted, () =>
        node(server, { tls: { caFile: clientCert.cert } }),
      )
    } finally {
      await Promise.all([registry.stop(), transport.stop(), broker.stop(), journal.stop()])
    }
  })
})

describe('nats engine over mutual TLS (the server verifies clients)', () => {
  let server: NatsServer
  before(async () => {
    server = await startNatsServer([], { config: tlsBlock(clientCert.cert) })
  })
  after(() => server.close())

  test('nats mtls - a node without a client certificate is refused; one with certFile and keyFile works', async () => {
    // the server drops such a client after the TLS handshake; the client sees it at its connect
    // deadline, and the error says so
    const deadline = { connectTimeoutMs: 1000, maxReconnectAttempts: 0 }
    await refused(
      server,
      'kernel without a certificate',
      /no answer from the server within 1000 ms \(a server that verifies client certificates .*give tls\.certFile and tls\.keyFile\)/,
      () => node(server, { ...deadline, tls: { caFile: serverCert.cert } }),
    )
    await refused(server, 'kernel with a certificate the server does not trust', /within 1000 ms$/, () =>
      node(server, {
        ...deadline,
        tls: { caFile: serverCert.cert, certFile: serverCert.cert, keyFile: serverCert.key },
      }),
    )
    const tls = { caFile: serverCert.cert, certFile: clientCert.cert, keyFile: clientCert.key }
    const a = await node(server, { tls })
    const b = await node(server, { tls })
    try {
      await a.register(account)
      const got: unknown[] = []
      await b.subscribe('mtls.news', (msg) => void got.push(msg))
      assert.equal(await b.ref<typeof account>('account/mtls').ask('deposit', { amount: 3 }), 3)
      assert.equal((await a.stats()).actors, 1, 'the account lives on a')
      await a.publish('mtls.news', { n: 2 })
      await until('the message published on a reached b', () => got.length === 1)
      assert.deepEqual(got, [{ n: 2 }])
    } finally {
      await Promise.all([a.stop(), b.stop()])
    }
  })
})
