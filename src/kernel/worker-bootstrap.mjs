// The file piscina loads in every worker. Plain JavaScript on purpose: piscina `require()`s its
// filename first, and a TypeScript entry required through tsx's CommonJS hook would give the worker
// a CommonJS copy of mica beside the ESM copy that actor modules import (two MicaError classes).
// From sources (tests, dev), it registers tsx's ESM loader, which tsx does not do in workers on
// Node 20; from dist/ it imports plain JavaScript. Then it imports the real entry as ESM.
export default async function boot(data) {
  if (data.entry.endsWith('.ts')) {
    const tsx = await import('tsx/esm/api')
    tsx.register()
  }
  const entry = await import(data.entry)
  return entry.default(data)
}
