// Child processes running test/fixtures/node-process.ts (a mica node on mDNS + TCP, loopback only),
// for multi-process tests: each one started is stopped by its PID (`stopAll` SIGKILLs what is left).
import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createKernel, type Kernel } from '../../src/kernel/kernel.ts'
import { loopbackNetwork } from '../../src/kernel/network.ts'
import { captureLogger } from './kernels.ts'

export interface NodeProcess {
  readonly child: ChildProcess
  readonly nodeId: string
  /** The node's transport address. */
  readonly address: string
  /** When the child's kernel was up, with its kinds registered (its own clock: this machine's). */
  readonly readyAt: number
  /** What the child wrote to stderr, line by line (when started with `stderr: true`). */
  readonly stderr: string[]
}

export interface StartOptions {
  /** The node's registration TTL (re-registered every third of it). Default 15 s. */
  ttlMs?: number
  /** Capture stderr instead of passing it through. */
  stderr?: boolean
}

export class NodeProcesses {
  readonly mdnsPort: number
  readonly #running = new Set<ChildProcess>()

  constructor(mdnsPort: number) {
    this.mdnsPort = mdnsPort
  }

  /** A kernel in this process on the same mDNS port (inline, quiet logger): the caller of the children. */
  caller(nodeId = 'a'): Promise<Kernel> {
    return createKernel({ nodeId, workers: 0, logger: captureLogger(), ...loopbackNetwork(this.mdnsPort) })
  }

  async start(nodeId: string, options: StartOptions = {}): Promise<NodeProcess> {
    const child = fork(new URL('../fixtures/node-process.ts', import.meta.url), {
      execArgv: ['--import', 'tsx'],
      env: {
        ...process.env,
        MICA_NODE_ID: nodeId,
        MICA_MDNS_PORT: String(this.mdnsPort),
        MICA_TTL_MS: String(options.ttlMs ?? 15_000),
      },
      stdio: ['ignore', 'ignore', options.stderr === true ? 'pipe' : 'inherit', 'ipc'],
    })
    this.#running.add(child)
    child.once('exit', () => this.#running.delete(child))
    const stderr: string[] = []
    let partial = ''
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n')
      partial = lines.pop()!
      stderr.push(...lines)
    })
    const [msg] = (await once(child, 'message')) as [{ ready: string; at: number }]
    return { child, nodeId, address: msg.ready, readyAt: msg.at, stderr }
  }

  /** Sends `signal` to the child's PID and waits for it to exit. */
  async stop(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    child.kill(signal)
    await exited
  }

  async stopAll(): Promise<void> {
    for (const child of [...this.#running]) await this.stop(child, 'SIGKILL')
  }
}

/** A random mDNS port per test file, so that files running in parallel never hear each other. */
export function privateMdnsPort(): number {
  return 20_000 + Math.floor(Math.random() * 20_000)
}
