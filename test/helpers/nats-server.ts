// A nats-server of its own for a test: `nats-server` from PATH on 127.0.0.1 and a free port (never
// the machine's own 4222), JetStream stored in a temp dir. `stop` kills it by its pid and waits for the
// exit; `restart` brings it back on the same port and store dir (for reconnect tests); `close` stops
// it and removes the temp dir. `config` is more server configuration (a `tls { ... }` block, an
// operator and its resolver), written to a file in the temp dir and given with `-c`; the flags here
// (address, port, JetStream, store dir) win over it. A test that starts one closes it.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

export interface NatsServer {
  url: string
  port: number
  stop(): Promise<void>
  restart(): Promise<void>
  close(): Promise<void>
}

const NATS_DEFAULT_PORT = 4222
const READY_TIMEOUT_MS = 10_000
const KILL_GRACE_MS = 3000

export interface NatsServerOptions {
  /** nats-server configuration file text (e.g. a `tls { ... }` block), given with `-c`. */
  config?: string
}

/** `args`: more nats-server flags (e.g. `['--auth', token]`), kept across restarts, as is `config`. */
export async function startNatsServer(
  args: readonly string[] = [],
  options: NatsServerOptions = {},
): Promise<NatsServer> {
  const port = await freePort()
  const dir = await mkdtemp(join(tmpdir(), 'mica-nats-'))
  let child: ChildProcess | undefined
  const configArgs: string[] = []
  if (options.config !== undefined) {
    const file = join(dir, 'server.conf')
    await writeFile(file, options.config)
    configArgs.push('-c', file)
  }

  const launch = async (): Promise<void> => {
    const argv = ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir, ...configArgs, ...args]
    const proc = spawn('nats-server', argv, { stdio: ['ignore', 'ignore', 'pipe'] })
    child = proc
    let log = ''
    proc.stderr!.on('data', (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-4000)
    })
    const exited = new Promise<never>((_, reject) => {
      proc.once('error', reject)
      proc.once('exit', (code) => reject(new Error(`nats-server exited (${code}) before ready:\n${log}`)))
    })
    exited.catch(() => undefined) // only raced below; a later exit is stop's business
    await Promise.race([waitForPort(port), exited])
  }

  const stop = async (): Promise<void> => {
    const proc = child
    child = undefined
    if (proc) await stopProcess(proc)
  }

  try {
    await launch()
  } catch (error) {
    await stop()
    await rm(dir, { recursive: true, force: true })
    throw error
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    stop,
    restart: async () => {
      await stop()
      await launch()
    },
    close: async () => {
      await stop()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer()
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => {
        const address = server.address()
        server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
      })
    })
    if (port !== 0 && port !== NATS_DEFAULT_PORT) return port
  }
}

export async function waitForPort(port: number): Promise<void> {
  const until = Date.now() + READY_TIMEOUT_MS
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1')
      socket.once('connect', () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    if (open) return
    if (Date.now() > until)
      throw new Error(`nats-server not listening on ${port} after ${READY_TIMEOUT_MS} ms`)
    await sleep(50)
  }
}

/** SIGTERM by pid, SIGKILL after a grace period, resolved once the process has exited. */
export async function stopProcess(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return
  const exit = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
  process.kill(proc.pid!, 'SIGTERM')
  // Not given up to the grace period: a SIGKILL follows, and the timer goes once the process exits.
  const escalate = setTimeout(() => process.kill(proc.pid!, 'SIGKILL'), KILL_GRACE_MS)
  try {
    await exit
  } finally {
    clearTimeout(escalate)
  }
}
