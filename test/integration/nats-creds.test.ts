// The NATS engine with a `.creds` file: a nats-server of this file's own in operator mode (the
// operator's JWT, `resolver: MEMORY` preloaded with one account's JWT, JetStream enabled for it).
// The JWTs are built here as nsc would (base64url header and claims, signed with the issuer's NKey
// from the client's nkeys), and the user's JWT and seed are written as a `.creds` file. A node with
// `nats: { credsFile }` asks, publishes and journals; one without credentials, with a user of an
// account the server does not know, or with a seed that is not the JWT user's, is refused with an
// UnavailableError naming the servers.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { nkeys } from '@nats-io/transport-node'
import { createKernel, type Kernel } from '../../src/kernel/kernel.ts'
import type { NatsEngineOptions } from '../../src/kernel/engine.ts'
import { UnavailableError } from '../../src/errors.ts'
import { account } from '../fixtures/ledger.ts'
import { captureLogger } from '../helpers/kernels.ts'
import { startNatsServer, type NatsServer } from '../helpers/nats-server.ts'

type KeyPair = ReturnType<typeof nkeys.createOperator>

const dir = mkdtempSync(join(tmpdir(), 'mica-nats-creds-'))
after(() => rmSync(dir, { recursive: true, force: true }))

const b64url = (data: string | Uint8Array): string => Buffer.from(data).toString('base64url')

/**
 * A NATS JWT (v2): `{"typ":"JWT","alg":"ed25519-nkey"}`, the claims with `jti` (a hash of the
 * claims) and `iss` (the issuer's public key), signed by the issuer's key.
 */
function jwt(issuer: KeyPair, subject: string, name: string, nats: Record<string, unknown>): string {
  const header = b64url(JSON.stringify({ typ: 'JWT', alg: 'ed25519-nkey' }))
  const claims: Record<string, unknown> = {
    iat: Math.floor(Date.now() / 1000),
    iss: issuer.getPublicKey(),
    name,
    sub: subject,
    nats: { ...nats, version: 2 },
  }
  claims.jti = createHash('sha256').update(JSON.stringify(claims)).digest('base64url')
  const body = `${header}.${b64url(JSON.stringify(claims))}`
  return `${body}.${b64url(issuer.sign(new TextEncoder().encode(body)))}`
}

const unlimited = { subs: -1, data: -1, payload: -1 }

/**
 * An account's JWT signed by `operator`: no limits, JetStream enabled unless `jetstream` is false
 * (the system account may not have it).
 */
function accountJwt(operator: KeyPair, acct: KeyPair, name: string, jetstream = true): string {
  const storage = jetstream ? -1 : 0
  return jwt(operator, acct.getPublicKey(), name, {
    type: 'account',
    limits: {
      ...unlimited,
      imports: -1,
      exports: -1,
      wildcards: true,
      conn: -1,
      leaf: -1,
      mem_storage: storage,
      disk_storage: storage,
      streams: storage,
      consumer: storage,
    },
    default_permissions: { pub: {}, sub: {} },
  })
}

/**
 * A `.creds` file for a new user of `acct`, in the layout nsc writes; `seed`: another key's seed
 * instead of the user's (a file that cannot prove the JWT is its own).
 */
function credsFile(acct: KeyPair, name: string, seed?: KeyPair): string {
  const user = nkeys.createUser()
  const token = jwt(acct, user.getPublicKey(), name, { type: 'user', pub: {}, sub: {}, ...unlimited })
  const file = join(dir, `${name}.creds`)
  writeFileSync(
    file,
    [
      '-----BEGIN NATS USER JWT-----',
      token,
      '------END NATS USER JWT------',
      '',
      '************************* IMPORTANT *************************',
      'NKEY Seed printed below can be used to sign and prove identity.',
      'NKEYs are sensitive and should be treated as secrets.',
      '',
      '-----BEGIN USER NKEY SEED-----',
      new TextDecoder().decode((seed ?? user).getSeed()),
      '------END USER NKEY SEED------',
      '',
    ].join('\n'),
    { mode: 0o600 },
  )
  return file
}

const operator = nkeys.createOperator()
const known = nkeys.createAccount()
const system = nkeys.createAccount()
const stranger = nkeys.createAccount()
const operatorJwt = jwt(operator, operator.getPublicKey(), 'mica-operator', {
  type: 'operator',
  system_account: system.getPublicKey(),
})

function serverConfig(): string {
  return [
    `operator: "${operatorJwt}"`,
    `system_account: "${system.getPublicKey()}"`,
    'resolver: MEMORY',
    'resolver_preload: {',
    `  ${known.getPublicKey()}: "${accountJwt(operator, known, 'mica')}"`,
    `  ${system.getPublicKey()}: "${accountJwt(operator, system, 'SYS', false)}"`,
    '}',
    '',
  ].join('\n')
}

function node(server: NatsServer, nats: NatsEngineOptions): Promise<Kernel> {
  return createKernel({
    engine: 'nats',
    servers: server.url,
    workers: 0,
    logger: captureLogger(),
    nats: { reconnectTimeWaitMs: 200, ...nats },
  })
}

/** Polls `ok` every 10 ms until it holds or 5 s passed. */
async function until(what: string, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000
  while (!ok()) {
    if (Date.now() > deadline) assert.fail(`${what} (not within 5000 ms)`)
    await sleep(10)
  }
}

describe('nats engine with a .creds file (operator mode)', () => {
  let server: NatsServer
  before(async () => {
    server = await startNatsServer([], { config: serverConfig() })
  })
  after(() => server.close())

  test('nats creds - nodes with the credsFile ask across nodes, publish and subscribe, and journal', async () => {
    const credentials = { credsFile: credsFile(known, 'mica-user') }
    const a = await node(server, credentials)
    const b = await node(server, credentials)
    try {
      await a.register(account)
      const got: unknown[] = []
      await a.subscribe('creds.news', (msg) => void got.push(msg))
      const ref = b.ref<typeof account>('account/creds')
      assert.equal(await ref.ask('deposit', { amount: 4 }), 4)
      assert.equal(await ref.ask('deposit', { amount: 6 }), 10)
      assert.equal((await a.stats()).actors, 1, 'the account lives on a')
      await b.publish('creds.news', { n: 1 })
      await until('the message published on b reached a', () => got.length === 1)
      assert.deepEqual(got, [{ n: 1 }])
    } finally {
      await Promise.all([a.stop(), b.stop()])
    }
    const c = await node(server, credentials)
    try {
      await c.register(account)
      assert.deepEqual(await c.ref<typeof account>('account/creds').ask('balance'), {
        balance: 10,
        entries: 2,
      })
    } finally {
      await c.stop()
    }
  })

  test('nats creds - no credentials, a user of an unknown account, or a seed of another user is refused', async () => {
    const url = server.url.replace(/[.:/]/g, (c) => `\\${c}`)
    const refusal = (err: unknown): boolean => {
      assert.ok(err instanceof UnavailableError, String(err))
      assert.equal(err.status, 503)
      assert.match(err.message, new RegExp(`cannot connect to nats ${url}: .*Authorization Violation`, 'i'))
      return true
    }
    await assert.rejects(node(server, {}), refusal)
    await assert.rejects(node(server, { credsFile: credsFile(stranger, 'stranger') }), refusal)
    const forged = credsFile(known, 'forged', nkeys.createUser())
    await assert.rejects(node(server, { credsFile: forged }), refusal)
  })
})
