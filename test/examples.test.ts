// Every example runs with one command and prints what it claims (spawned as a user would): the
// service examples side by side, then the main demo (`npm run demo`: two processes over mDNS).
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)
const root = fileURLToPath(new URL('..', import.meta.url))

async function example(name: string, timeout = 60_000): Promise<string> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', `examples/${name}.ts`], {
    cwd: root,
    timeout,
  })
  return stdout
}

describe('examples', { concurrency: true }, () => {
  test('examples - greeter: request/response, a typed error, Debug.Health', async () => {
    const out = await example('greeter')
    assert.match(out, /greeter\.Greeter\.hello -> \{ greeting: 'Hello John', from: 'greeter-client' \}/)
    assert.match(out, /an error arrives typed -> BadRequestError 400 bad_request name is required/)
    assert.match(out, /status: 'ok'/)
    assert.match(out, /stopped\n$/)
  })

  test('examples - pubsub: a queue group shares the messages, a plain subscriber gets all', async () => {
    const out = await example('pubsub')
    assert.match(out, /billing handled 4, audit 4/)
    assert.match(out, /billing-1 got order/)
    assert.match(out, /billing-2 got order/)
  })

  test('examples - streaming: lines out, shouted lines back', async () => {
    const out = await example('streaming')
    assert.match(out, /<- HELLO!\n<- STREAMING!\n<- WORLD!\nstream closed/)
  })

  test('examples - counter: the count survives a restart of the service (file journal, workers)', async () => {
    const out = await example('counter')
    assert.match(out, /add 3 to visits -> \{ n: 6 \}/)
    assert.match(out, /get visits -> \{ n: 6 \}/)
  })

  test('examples - typed client: typed calls, trace and metrics wrappers', async () => {
    const out = await example('typed-client')
    assert.match(out, /hello -> Hello typed from app/)
    assert.match(out, /metrics: 2 calls, 1 errors/)
  })
})

test('examples - demo: two nodes over mDNS; asks, a stream, pubsub, and a count kept across SIGKILL', async () => {
  const out = await example('demo', 110_000)
  assert.match(
    out,
    /ask greeter\/ on node-b \(found in \d+ ms\) -> \{ greeting: 'Hello mica', from: 'node-b' \}/,
  )
  assert.match(out, /a remote error arrives typed -> BadRequestError \{ code: 'bad_request', status: 400/)
  assert.match(out, /a stream to node-b \(window 2\) -> \[ 'ONE!', 'TWO!', 'THREE!' \]/)
  assert.match(out, /pubsub: ledger\/books -> \[ 'o-1: 30 \(trace t-1\)', 'o-1: 30 \(trace -\)' \]/)
  assert.match(out, /pubsub across nodes: node-b received -> \{ got: 'demo.greeting'.*trace: 't-2' \}/)
  assert.match(out, /its 4th hit -> \{ count: 4, node: 'node-b' \}/)
  assert.match(out, /node-b killed with SIGKILL/)
  assert.match(out, /after the restart \(recovered from the journal\) -> \{ count: 5, node: 'node-b' \}/)
  assert.match(out, /10000 concurrent asks across both nodes/)
  assert.match(out, /stopped cleanly\n$/)
})
