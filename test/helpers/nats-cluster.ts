// A 3-server NATS cluster of its own for a test: each `nats-server` from PATH on 127.0.0.1, a free client
// port and a free route port, routes to the other two, JetStream clustered (each server its own temp
// store dir) so streams and KV buckets can be replicated R3. `stop(i)` kills server i by its pid,
// `restart(i)` brings it back on the same ports and store, `close` stops every server and removes
// the temp dirs. Start resolves once JetStream has a meta leader (it answers account info), and
// `ready()` waits for that again (after a server came back, JetStream may be briefly unavailable).
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { connect } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'
import { freePort, stopProcess, waitForPort } from './nats-server.ts'

export interface NatsCluster {
  /** Client URLs, one per server, in server order. */
  urls: string[]
  stop(index: number): Promise<void>
  restart(index: number): Promise<void>
  /** Resolves once the cluster's JetStream answers again (it has a meta leader). */
  ready(): Promise<void>
  close(): Promise<void>
}

const SIZE = 3
const JETSTREAM_READY_MS = 20_000

export async function startNatsCluster(): Promise<NatsCluster> {
  const root = await mkdtemp(join(tmpdir(), 'mica-nats-cluster-'))
  const clientPorts: number[] = []
  const routePorts: number[] = []
  while (clientPorts.length < SIZE) {
    const port = await freePort()
    if (!clientPorts.includes(port) && !routePorts.includes(port)) clientPorts.push(port)
    const route = await freePort()
    if (!clientPorts.includes(route) && !routePorts.includes(route)) routePorts.push(route)
  }
  const children: (ChildProcess | undefined)[] = new Array(SIZE).fill(undefined)
  const configs: string[] = []
  for (let i = 0; i < SIZE; i++) {
    const store = join(root, `s${i}`)
    await mkdir(store, { recursive: true })
    const routes = routePorts.filter((_, j) => j !== i).map((p) => `"nats-route://127.0.0.1:${p}"`)
    const config = join(root, `s${i}.conf`)
    await writeFile(
      config,
      [
        `server_name: mica-s${i}`,
        `listen: "127.0.0.1:${clientPorts[i]}"`,
        `jetstream { store_dir: "${store}" }`,
        `cluster { name: mica, listen: "127.0.0.1:${routePorts[i]}", routes: [${routes.join(', ')}] }`,
      ].join('\n'),
    )
    configs.push(config)
  }

  const launch = async (i: number): Promise<void> => {
    const proc = spawn('nats-server', ['-c', configs[i]!], { stdio: ['ignore', 'ignore', 'pipe'] })
    children[i] = proc
    let log = ''
    proc.stderr!.on('data', (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-4000)
    })
    const exited = new Promise<never>((_, reject) => {
      proc.once('error', reject)
      proc.once('exit', (code) =>
        reject(new Error(`nats-server ${i} exited (${code}) before ready:\n${log}`)),
      )
    })
    exited.catch(() => undefined)
    await Promise.race([waitForPort(clientPorts[i]!), exited])
  }
  const stop = async (i: number): Promise<void> => {
    const proc = children[i]
    children[i] = undefined
    if (proc) await stopProcess(proc)
  }
  const urls = clientPorts.map((p) => `nats://127.0.0.1:${p}`)
  const close = async (): Promise<void> => {
    await Promise.all(children.map((_, i) => stop(i)))
    await rm(root, { recursive: true, force: true })
  }
  try {
    await Promise.all(configs.map((_, i) => launch(i)))
    await jetstreamReady(urls)
  } catch (error) {
    await close()
    throw error
  }
  return {
    urls,
    stop,
    restart: async (i) => {
      await stop(i)
      await launch(i)
    },
    ready: () => jetstreamReady(urls),
    close,
  }
}

/** Waits until the cluster's JetStream answers (a meta leader was elected). */
async function jetstreamReady(urls: string[]): Promise<void> {
  const nc = await connect({ servers: urls })
  try {
    const until = Date.now() + JETSTREAM_READY_MS
    for (;;) {
      try {
        const jsm = await jetstreamManager(nc, { timeout: 1000 })
        await jsm.getAccountInfo()
        return
      } catch (error) {
        if (Date.now() > until) throw new Error(`cluster JetStream not ready: ${String(error)}`)
        await sleep(200)
      }
    }
  } finally {
    await nc.close()
  }
}
