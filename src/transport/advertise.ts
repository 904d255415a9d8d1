/**
 * The address to give others for a bound one: a wildcard host (`0.0.0.0`, `::`) is no address to
 * dial, so the first external IPv4 address of this machine takes its place (loopback when none).
 */
import { networkInterfaces } from 'node:os'

export function advertisable(bound: string): string {
  const colon = bound.lastIndexOf(':')
  const host = bound.slice(0, colon)
  if (host !== '0.0.0.0' && host !== '[::]' && host !== '::') return bound
  const external = Object.values(networkInterfaces())
    .flat()
    .find((i) => i !== undefined && i.family === 'IPv4' && !i.internal)
  return `${external?.address ?? '127.0.0.1'}${bound.slice(colon)}`
}
