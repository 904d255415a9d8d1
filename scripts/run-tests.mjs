// Runs every test file under test/ with node's test runner and tsx (which also loads .ts in worker
// threads). Node 20's --test does not expand globs, so the file list is built here; zero files is a failure.
import { readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { spawnSync } from 'node:child_process'

const root = new URL('..', import.meta.url).pathname
const only = process.argv.slice(2)

function collect(dir) {
  const out = []
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) out.push(...collect(path))
    else if (name.endsWith('.test.ts')) out.push(relative(root, path))
  }
  return out
}

const files = collect(join(root, 'test')).filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
if (files.length === 0) {
  console.error('run-tests: no test files found')
  process.exit(1)
}
console.log(`run-tests: ${files.length} files`)
const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-reporter=spec',
    '--test-concurrency=2',
    '--test-timeout=120000',
    ...files,
  ],
  { cwd: root, stdio: 'inherit' },
)
process.exit(result.status ?? 1)
