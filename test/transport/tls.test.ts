// The TCP transport over TLS: certificates are generated here with openssl (a missing openssl fails
// the file loudly, nothing is skipped); the whole contract runs over mutual TLS, and a node whose
// certificate the other does not trust is refused with a logged reason.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TcpTransport } from '../../src/transport/tcp.ts'
import { BadRequestError, ErrorCode } from '../../src/errors.ts'
import { transportContract } from './contract.ts'
import { logger, Recorder, unusedTcpAddress, until } from './util.ts'
import { selfSigned } from '../helpers/certs.ts'

const dir = mkdtempSync(join(tmpdir(), 'mica-tls-'))
after(() => rmSync(dir, { recursive: true, force: true }))

const node = selfSigned(dir, 'mica-node')

transportContract({
  name: 'tls',
  any: '127.0.0.1:0',
  create: (options) => new TcpTransport({ ...options, tls: node }),
  unused: unusedTcpAddress,
})

test('tls - a node with an untrusted certificate is refused, and says why', async () => {
  const log = logger()
  const server = new TcpTransport({ tls: node, logger: log })
  const stranger = new TcpTransport({
    tls: selfSigned(dir, 'stranger'),
    logger: logger(),
    reconnect: { initialMs: 20 },
  })
  const plain = new TcpTransport({ logger: logger(), reconnect: { initialMs: 20 } })
  const atServer = new Recorder(server)
  const atStranger = new Recorder(stranger)
  try {
    const address = await server.listen('127.0.0.1:0')
    stranger.connect(address).send({ t: 'send', to: 'a/', h: 'x' })
    plain.connect(address).send({ t: 'send', to: 'a/', h: 'x' })
    await until('peer down at the stranger', () => atStranger.downs.length === 1)
    assert.match(atStranger.downs[0]!.reason.detail, /certificate/i)
    await until('two refused handshakes logged', () => log.warnings.length >= 2)
    assert.ok(log.warnings.every((w) => /TLS handshake from (127\.0\.0\.1:\d+|a client) failed: /.test(w)))
    assert.equal(atServer.envelopes.length, 0)
  } finally {
    await Promise.all([server.stop(), stranger.stop(), plain.stop()])
  }
})

test('tls - unreadable certificate files are invalid options', () => {
  assert.throws(
    () => new TcpTransport({ tls: { cert: join(dir, 'missing.crt'), key: node.key } }),
    (err: unknown) => err instanceof BadRequestError && err.code === ErrorCode.INVALID_OPTIONS,
  )
})
