// Copies the plain-JavaScript files tsc does not emit (the worker bootstrap) into dist/.
import { copyFileSync } from 'node:fs'
const root = new URL('..', import.meta.url)
for (const file of ['kernel/worker-bootstrap.mjs']) {
  copyFileSync(new URL(`src/${file}`, root), new URL(`dist/${file}`, root))
}
