import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../..', import.meta.url))

test('dist - the compiled build runs actors on workers in plain node (no tsx)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mica-dist-'))
  try {
    const out = join(dir, 'dist')
    execFileSync(
      process.execPath,
      [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', out],
      {
        cwd: root,
        stdio: 'pipe',
      },
    )
    copyFileSync(join(root, 'src/kernel/worker-bootstrap.mjs'), join(out, 'kernel/worker-bootstrap.mjs'))
    // the package's dependencies resolve from the repository's node_modules
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }))
    execFileSync('ln', ['-s', join(root, 'node_modules'), join(dir, 'node_modules')])
    writeFileSync(
      join(dir, 'actors.mjs'),
      `import { defineActor } from './dist/index.js'
export const counter = defineActor({
  kind: 'counter',
  initial: () => ({ n: 0 }),
  handlers: { add: (msg, ctx) => (ctx.state.n += msg.by), thread: async () => (await import('node:worker_threads')).threadId },
})
`,
    )
    writeFileSync(
      join(dir, 'main.mjs'),
      `import { createKernel } from './dist/index.js'
import { counter } from './actors.mjs'
const kernel = await createKernel({ workers: 2 })
const ref = await kernel.spawn(counter, 'a')
await ref.ask('add', { by: 2 })
const n = await ref.ask('add', { by: 3 })
const thread = await ref.ask('thread')
await kernel.stop()
console.log(JSON.stringify({ n, thread, loaders: process.execArgv }))
`,
    )
    const output = execFileSync(process.execPath, ['main.mjs'], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, NODE_OPTIONS: '' },
      timeout: 60_000,
    })
    const result = JSON.parse(output.trim().split('\n').at(-1)!) as {
      n: number
      thread: number
      loaders: string[]
    }
    assert.equal(result.n, 5)
    assert.ok(result.thread > 0, 'the handler ran on a worker thread')
    assert.deepEqual(result.loaders, [])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
