/**
 * The child processes of bench/remote.ts. A child says `{ ready: R }` over IPC once it serves; on
 * the message 'stop' it stops, may say `{ stopped: S }`, and disconnects (it also stops when the
 * parent goes away). A `.ts` child runs under tsx, a `.mjs` one in plain node. Free loopback ports
 * are picked here too, so every listener of the bench is on 127.0.0.1.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { once } from 'node:events'
import { createServer, type AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'

export interface Child<R> {
  readonly proc: ChildProcess
  readonly ready: R
}

const field = (message: unknown, key: string): unknown =>
  typeof message === 'object' && message !== null && key in message
    ? (message as Record<string, unknown>)[key]
    : undefined

export async function startChild<R>(
  file: URL,
  env: Record<string, string>,
  timeoutMs: number,
): Promise<Child<R>> {
  const name = fileURLToPath(file).split('/').pop()
  // MICA_BENCH_CHILD_ARGS adds node flags to every child (e.g. '--cpu-prof' to profile the far side)
  const extra = (process.env.MICA_BENCH_CHILD_ARGS ?? '').split(' ').filter((arg) => arg !== '')
  const execArgv = [...(file.pathname.endsWith('.ts') ? ['--import', 'tsx'] : []), ...extra]
  const proc = fork(file, { execArgv, env: { ...process.env, ...env } })
  try {
    const ready = await new Promise<R>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer)
        proc.off('message', onMessage).off('exit', onExit).off('error', onError)
      }
      const onMessage = (message: unknown): void => {
        if (field(message, 'ready') === undefined) return
        done()
        resolve(field(message, 'ready') as R)
      }
      const onExit = (code: number | null, signal: string | null): void => {
        done()
        reject(new Error(`${name} exited before it was ready (code ${code}, signal ${signal})`))
      }
      const onError = (err: Error): void => {
        done()
        reject(err)
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`${name} not ready after ${timeoutMs} ms`))
      }, timeoutMs)
      proc.on('message', onMessage).on('exit', onExit).on('error', onError)
    })
    return { proc, ready }
  } catch (err) {
    await stopChild(proc, 1_000)
    throw err
  }
}

/** Asks the child to stop; kills it (SIGKILL) if it has not exited after `timeoutMs`. */
export async function stopChild<S = unknown>(proc: ChildProcess, timeoutMs: number): Promise<S | undefined> {
  if (proc.exitCode !== null || proc.signalCode !== null) return undefined
  let stopped: S | undefined
  const onMessage = (message: unknown): void => {
    if (field(message, 'stopped') !== undefined) stopped = field(message, 'stopped') as S
  }
  proc.on('message', onMessage)
  const exited = once(proc, 'exit')
  if (proc.connected) proc.send('stop')
  const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs)
  await exited
  clearTimeout(timer)
  proc.off('message', onMessage)
  return stopped
}

export async function freeTcpPort(): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

export async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4')
  socket.bind(0, '127.0.0.1')
  await once(socket, 'listening')
  const { port } = socket.address()
  await new Promise<void>((resolve) => socket.close(resolve))
  return port
}

/** Retries `op` every 50 ms until it succeeds; the last error after `timeoutMs`. Resolves the ms taken. */
export async function untilCallable(op: () => Promise<unknown>, timeoutMs: number): Promise<number> {
  const start = Date.now()
  for (;;) {
    try {
      await op()
      return Date.now() - start
    } catch (err) {
      if (Date.now() - start > timeoutMs) throw err
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
}
