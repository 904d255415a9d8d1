// The shared kit for kernel tests: the three modes every behaviour test runs in, and a kernel
// that is always stopped.
import { createKernel, type Kernel } from '../../src/kernel/kernel.ts'
import type { KernelOptions, Logger } from '../../src/kernel/options.ts'

export interface Mode {
  name: string
  options: KernelOptions
  /** Messages are encoded on the way (workers, inline encode): unencodable values fail. */
  encodes: boolean
  workers: boolean
}

export const MODES: Mode[] = [
  { name: 'inline', options: { workers: 0 }, encodes: false, workers: false },
  { name: 'inline-encode', options: { workers: 0, inlineMessages: 'encode' }, encodes: true, workers: false },
  { name: 'workers', options: { workers: 2 }, encodes: true, workers: true },
]

export interface CapturedLogger extends Logger {
  warnings: string[]
}

export function captureLogger(): CapturedLogger {
  const warnings: string[] = []
  return {
    warnings,
    debug: () => {},
    info: () => {},
    warn: (m) => warnings.push(m),
    error: (m) => warnings.push(m),
  }
}

type KernelTest<T> = (kernel: Kernel, logger: CapturedLogger) => Promise<T>

/** Runs `fn` with a fresh kernel in `mode`, stopping it afterwards whatever happens. */
export async function withKernel<T>(mode: Mode, fn: KernelTest<T>): Promise<T>
export async function withKernel<T>(mode: Mode, extra: KernelOptions, fn: KernelTest<T>): Promise<T>
export async function withKernel<T>(
  mode: Mode,
  a: KernelOptions | KernelTest<T>,
  b?: KernelTest<T>,
): Promise<T> {
  const extra = typeof a === 'function' ? {} : a
  const fn = typeof a === 'function' ? a : b!
  const logger = captureLogger()
  const kernel = await createKernel({ drainTimeoutMs: 2_000, ...mode.options, logger, ...extra })
  try {
    return await fn(kernel, logger)
  } finally {
    await kernel.stop()
  }
}

export async function rejection(
  p: Promise<unknown>,
): Promise<{ name: string; code: string; status: number }> {
  try {
    await p
  } catch (err) {
    const e = err as { name: string; code: string; status: number }
    return { name: e.name, code: e.code, status: e.status }
  }
  throw new Error('expected a rejection')
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** Polls `check` until it returns true or `ms` pass. */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 2_000): Promise<void> {
  const until = Date.now() + ms
  while (Date.now() < until) {
    if (await check()) return
    await sleep(10)
  }
  throw new Error('condition not met in time')
}
