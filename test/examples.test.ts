// Every service example runs with one command and prints what it claims (spawned as a user would).
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)
const root = fileURLToPath(new URL('..', import.meta.url))

async function example(name: string): Promise<string> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', `examples/${name}.ts`], {
    cwd: root,
    timeout: 60_000,
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
