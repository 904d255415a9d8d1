import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

const fixture = fileURLToPath(new URL('../fixtures/service-signal.ts', import.meta.url))
const functionFixture = fileURLToPath(new URL('../fixtures/service-function.ts', import.meta.url))

describe('service run() and signals', () => {
  for (const sig of ['SIGTERM', 'SIGINT'] as const)
    test(`signal - ${sig}: deregistered, in-flight work drained, hooks run, exit code 0`, () =>
      signalled(sig))

  test('function - a createFunction process serves one call, run() resolves, the process exits 0', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', functionFixture], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    try {
      let out = ''
      child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()))
      const [code] = (await once(child, 'exit')) as [number | null]
      assert.equal(code, 0)
      assert.deepEqual(
        out
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as unknown),
        [{ reply: { greeting: 'Hello fn' } }, { ran: true, running: false }],
      )
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    }
  })
})

/** Starts the fixture service, signals it once it is ready, and checks how it went down. */
async function signalled(sig: 'SIGTERM' | 'SIGINT'): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  try {
    const lines: Record<string, unknown>[] = []
    let buffered = ''
    let ready!: () => void
    const isReady = new Promise<void>((r) => (ready = r))
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString()
      for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
        const line = JSON.parse(buffered.slice(0, nl)) as Record<string, unknown>
        buffered = buffered.slice(nl + 1)
        lines.push(line)
        if ('ready' in line) ready()
      }
    })
    await isReady
    child.kill(sig)
    const [code, signal] = (await once(child, 'exit')) as [number | null, string | null]
    assert.equal(signal, null)
    assert.equal(code, 0)
    assert.deepEqual(lines.slice(1), [
      { beforeStop: 1 },
      { afterStop: 0 },
      { reply: 'waited 300' },
      { records: 0 },
    ])
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  }
}
