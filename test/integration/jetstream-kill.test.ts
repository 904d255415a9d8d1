// At-least-once into actors across a crash: a subscriber process (actors fed by a JetStream queue
// group) is killed with SIGKILL mid-stream and started again; every published message is handled at
// least once, none is lost, and the redeliveries are counted (by the server: the group consumer's
// deliveries beyond one per message). Poison messages reaching the dead-letter subject:
// test/broker/jetstream.test.ts and, through actors, test/kernel/pubsub-nodes.test.ts.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'
import { JetStreamBroker } from '../../src/broker/jetstream.ts'
import { queueDurable } from '../../src/broker/jetstream-names.ts'
import { sink } from '../fixtures/js-subscriber.ts'
import { startNatsServer } from '../helpers/nats-server.ts'

const TOTAL = 600

async function handled(log: string): Promise<number[]> {
  const text = await readFile(log, 'utf8').catch(() => '')
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map(Number)
}

function subscriber(url: string, log: string): Promise<ChildProcess> {
  const child = fork(new URL('../fixtures/js-subscriber.ts', import.meta.url).pathname, {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, MICA_JS_URL: url, MICA_JS_LOG: log },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  return new Promise((resolve, reject) => {
    child.once('message', () => resolve(child))
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`subscriber exited (${code}) before ready`)))
  })
}

test('jetstream: a subscriber process killed mid-stream and restarted loses no message', async () => {
  const server = await startNatsServer()
  const dir = await mkdtemp(join(tmpdir(), 'mica-js-kill-'))
  const log = join(dir, 'handled.log')
  const publisher = new JetStreamBroker({ servers: server.url })
  const children: ChildProcess[] = []
  try {
    await publisher.start()
    children.push(await subscriber(server.url, log))
    const body = (n: number) => new TextEncoder().encode(JSON.stringify({ n }))
    const publish = (n: number) =>
      publisher.publish('jobs.created', { body: body(n), contentType: 'application/json' })
    // a burst: most of it is still queued (stored, delivered, unacked) in the subscriber when it dies
    const third = TOTAL / 3
    await Promise.all(Array.from({ length: third }, (_, i) => publish(i + 1)))
    const busy = Date.now() + 10_000
    while ((await handled(log)).length < 20 && Date.now() < busy) await new Promise((r) => setTimeout(r, 5))
    const victim = children[0]!
    victim.kill('SIGKILL')
    await once(victim, 'exit')
    const before = (await handled(log)).length
    assert.ok(before < third, `killed mid-stream (${before} of ${third} handled)`)
    children.push(await subscriber(server.url, log))
    for (let n = third + 1; n <= TOTAL; n++) await publish(n)
    const until = Date.now() + 30_000
    let seen = new Set<number>()
    while (Date.now() < until) {
      seen = new Set(await handled(log))
      if (seen.size === TOTAL) break
      await new Promise((r) => setTimeout(r, 50))
    }
    const all = await handled(log)
    const missing = Array.from({ length: TOTAL }, (_, i) => i + 1).filter((n) => !seen.has(n))
    assert.deepEqual(missing, [], 'every published message was handled')
    const twice = all.length - seen.size
    // the server's count: every delivery of the group's consumer beyond one per message is a redelivery
    // (what the killed process held unacked); a message handled twice was handled but not yet acked
    const nc = await connect({ servers: server.url })
    let redelivered: number
    try {
      const jsm = await jetstreamManager(nc)
      const info = await jsm.consumers.info('MICA_jobs', queueDurable(sink.kind, 'jobs.created'))
      redelivered = info.delivered.consumer_seq - TOTAL
      assert.equal(info.num_ack_pending, 0, 'everything acked in the end')
    } finally {
      await nc.close()
    }
    console.log(
      `jetstream kill: ${TOTAL} published, ${before} handled before the kill, ${redelivered} redelivered, ${twice} handled twice`,
    )
    assert.ok(redelivered >= 1, 'what the killed subscriber held unacked was delivered again')
    assert.ok(twice <= redelivered, 'a message is handled again only when it was redelivered')
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
    await publisher.stop()
    await server.close()
    await rm(dir, { recursive: true, force: true })
  }
})
