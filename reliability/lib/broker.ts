import { join } from 'node:path'
import { spawnChild, stopChild, type Child } from './child.js'
import type { Cleanup } from './cleanup.js'

export interface BrokerOptions {
  repoDir: string
  /** The file store's folder: kept across restarts, so a restarted broker recovers channels and durables. */
  dataDir: string
  port: number
  logPath: string
  cleanup: Cleanup
}

export const CLUSTER_ID = 'test-cluster'

/**
 * The project's NATS Streaming server as a child process with a file store, on a fixed port, so that it can be
 * SIGKILLed and started again where clients expect it.
 */
export class BrokerProcess {
  readonly url: string
  readonly clusterId = CLUSTER_ID
  #child: Child | undefined
  readonly #options: BrokerOptions

  constructor(options: BrokerOptions) {
    this.#options = options
    this.url = `nats://127.0.0.1:${options.port}`
    options.cleanup.add('broker', () => this.stop())
  }

  async start(): Promise<void> {
    const { repoDir, dataDir, port, logPath } = this.#options
    let listening: () => void = () => {}
    const ready = new Promise<void>((resolve) => (listening = resolve))
    const child = spawnChild(
      process.execPath,
      [join(repoDir, 'bin/nats-streaming'), '--port', String(port), '--store', 'file', '--dir', dataDir, '--cid', CLUSTER_ID],
      { cwd: repoDir, env: { ...process.env } as Record<string, string>, logPath, onLine: (line) => line.includes('listening on') && listening() },
    )
    this.#child = child
    const outcome = await Promise.race([
      ready.then(() => 'ready' as const),
      child.exited.then(() => 'exited' as const),
      new Promise<'timeout'>((resolve) => setTimeout(resolve, 20_000, 'timeout')),
    ])
    if (outcome !== 'ready') {
      child.signal('SIGKILL')
      throw new Error(`the broker did not start (${outcome}); see ${logPath}`)
    }
  }

  /** The crash: no chance to write anything more to its store. */
  async kill(): Promise<void> {
    if (this.#child !== undefined) await stopChild(this.#child, 'SIGKILL', 5_000)
  }

  async stop(): Promise<void> {
    if (this.#child !== undefined) await stopChild(this.#child, 'SIGTERM', 5_000)
  }
}
