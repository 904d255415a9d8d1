// mDNS discovery between processes on loopback: a forked child registers a service; this process
// sees it, sees the child's goodbye remove it at once when the child stops, and sees a SIGKILLed
// child's node (no goodbye) disappear only when its TTL runs out.
import { after, before, test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { MdnsRegistry } from '../../src/registry/mdns.ts'
import { eventually } from '../registry/contract.ts'

const port = 25353 + Math.floor(Math.random() * 20000)
const child = fileURLToPath(new URL('../fixtures/mdns-child.ts', import.meta.url))

function spawnChild(nodeId: string, ttlMs: number): ChildProcess {
  return fork(child, [String(port), nodeId, String(ttlMs)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
}

async function message(proc: ChildProcess, expected: string): Promise<void> {
  const [got] = (await once(proc, 'message')) as [unknown]
  assert.equal(got, expected)
}

describe('mdns between processes', () => {
  const registry = new MdnsRegistry({ interface: '127.0.0.1', bind: '0.0.0.0', port })
  const nodes = async (): Promise<string[]> =>
    (await registry.getService('child-svc')).flatMap((s) => s.nodes.map((n) => n.id))
  before(() => registry.start())
  after(() => registry.stop())

  test('integration - a child is discovered, and its goodbye on stop removes it within 1 s', async () => {
    const proc = spawnChild('child-a', 5000)
    try {
      await message(proc, 'registered')
      const [service] = await eventually(
        () => registry.getService('child-svc'),
        (s) => s.length === 1,
        5000,
      )
      assert.equal(service!.metadata.pid, String(proc.pid))
      assert.deepEqual(service!.nodes, [{ id: 'child-a', address: '127.0.0.1:7001', metadata: {} }])
      const exited = once(proc, 'exit')
      const started = Date.now()
      proc.send('stop')
      await message(proc, 'stopped')
      await eventually(nodes, (ids) => ids.length === 0, 1000)
      assert.ok(Date.now() - started < 1000)
      await exited
    } finally {
      proc.kill('SIGKILL')
    }
  })

  test("integration - a SIGKILLed child's node disappears after its TTL, not before", async () => {
    const ttlMs = 1500
    const proc = spawnChild('child-b', ttlMs)
    try {
      await message(proc, 'registered')
      await eventually(nodes, (ids) => ids.includes('child-b'), 5000)
      const exited = once(proc, 'exit')
      proc.kill('SIGKILL')
      await exited
      const killed = Date.now()
      await new Promise((resolve) => setTimeout(resolve, 300))
      assert.deepEqual(await nodes(), ['child-b'], 'a killed process says no goodbye')
      // the records' TTL is whole seconds (1.5 s rounds up to 2 s) from the last heartbeat
      await eventually(nodes, (ids) => ids.length === 0, ttlMs + 1500)
      const gone = Date.now() - killed
      assert.ok(gone >= 300 && gone <= ttlMs + 1500, `gone after ${gone} ms`)
    } finally {
      proc.kill('SIGKILL')
    }
  })
})
