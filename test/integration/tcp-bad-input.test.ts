// Bad input on a node's TCP port, the node being another process: garbage, a truncated frame, an
// oversized length prefix, an unknown frame type and a wrong version each get that connection
// closed (by the node, or ended by the client mid-frame) with a reason the node logs, while this
// process keeps asking the node over its own connection without a single failure, and a connection
// opened afterwards is served too.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { Packr } from 'msgpackr'
import { createKernel, type Kernel } from '../../src/kernel/kernel.ts'
import { loopbackNetwork } from '../../src/kernel/network.ts'
import { captureLogger, eventually } from '../helpers/kernels.ts'
import { NodeProcesses, privateMdnsPort, type NodeProcess } from '../helpers/node-processes.ts'
import { frame } from '../transport/util.ts'
import type { counter } from '../fixtures/actors.ts'

const raw = new Packr({ useRecords: false })
const prefix = (length: number): Buffer => {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(length)
  return b
}

const CASES: { what: string; bytes: Buffer; end: boolean; logged: RegExp }[] = [
  {
    what: 'garbage (an HTTP request)',
    bytes: Buffer.from('GET / HTTP/1.1\r\nHost: mica\r\n\r\n'),
    end: false,
    logged: /bad input: .*exceeds the limit/,
  },
  {
    what: 'a truncated frame',
    bytes: Buffer.concat([prefix(100), Buffer.alloc(10)]),
    end: true,
    logged: /closed in the middle of a frame \(14 bytes received\)/,
  },
  {
    what: 'an oversized length prefix',
    bytes: Buffer.concat([prefix(100_000_000), Buffer.alloc(1024, 1)]),
    end: false,
    logged: /bad input: frame of 100000000 bytes exceeds the limit/,
  },
  {
    what: 'an unknown frame type',
    bytes: frame(raw.pack({ v: 1, t: 'bogus' })),
    end: false,
    logged: /bad input: .*unknown frame kind "bogus"/,
  },
  {
    what: 'a wrong version',
    bytes: frame(raw.pack({ v: 2, t: 'send', to: 'counter/x', h: 'add' })),
    end: false,
    logged: /bad input: .*envelope version 2/,
  },
]

/** Writes `bytes` on a fresh connection; resolves when it is closed, telling who closed it. */
function sendRaw(address: string, bytes: Buffer, end: boolean): Promise<{ byServer: boolean }> {
  const [host, port] = address.split(':') as [string, string]
  const socket = net.connect({ host, port: Number(port) })
  let byServer = false
  socket.on('end', () => (byServer = !end))
  socket.on('error', () => {}) // a reset is one way the node may close it
  socket.on('data', () => {})
  socket.on('connect', () => {
    socket.write(bytes)
    if (end) socket.end()
  })
  return new Promise((resolve) => socket.on('close', () => resolve({ byServer: byServer || !end })))
}

describe('bad input on the TCP port of a node in another process', () => {
  const nodes = new NodeProcesses(privateMdnsPort())
  let a: Kernel
  let victim: NodeProcess
  before(async () => {
    a = await nodes.caller()
    victim = await nodes.start('victim', { stderr: true })
  })
  after(async () => {
    await nodes.stopAll()
    await a.stop()
  })

  test('bad input - each kind closes its connection with a logged reason; the node keeps serving', async () => {
    const ref = a.ref<typeof counter>('counter/steady@victim')
    await eventually(async () => (await ref.ask('get').catch(() => -1)) === 0, 10_000)
    // traffic on this process's connection to the node all along
    let asked = 0
    const failures: string[] = []
    let running = true
    const traffic = (async () => {
      while (running) {
        await ref
          .ask('add', { by: 1 }, { timeout: 2_000 })
          .then(() => asked++)
          .catch((e: { code: string }) => failures.push(e.code))
      }
    })()
    for (const c of CASES) {
      const before = victim.stderr.length
      const closed = await Promise.race([
        sendRaw(victim.address, c.bytes, c.end),
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error(`${c.what}: not closed`)), 5_000),
        ),
      ])
      if (!c.end) assert.ok(closed.byServer, `${c.what}: the node closed it`)
      await eventually(() => victim.stderr.slice(before).some((l) => c.logged.test(l)), 5_000).catch(() =>
        assert.fail(
          `${c.what}: no log line matching ${c.logged}; got ${victim.stderr.slice(before).join(' | ')}`,
        ),
      )
      const served = asked
      await eventually(() => asked > served + 5, 5_000) // the good connection is still served
    }
    running = false
    await traffic
    console.log(
      `bad input: ${asked} asks served meanwhile; the node logged:\n  ${victim.stderr.join('\n  ')}`,
    )
    assert.deepEqual(failures, [], 'no ask over the good connection failed')
    assert.ok(asked > 0)
    assert.equal(await ref.ask('get'), asked)
    // a connection opened after all that is served: a second node in this process
    const b = await createKernel({
      nodeId: 'b',
      workers: 0,
      logger: captureLogger(),
      ...loopbackNetwork(nodes.mdnsPort),
    })
    try {
      const viaB = b.ref<typeof counter>('counter/steady@victim')
      await eventually(async () => (await viaB.ask('get').catch(() => -1)) === asked, 10_000)
    } finally {
      await b.stop()
    }
    assert.equal(victim.child.exitCode, null, 'the node is still running')
  })
})
