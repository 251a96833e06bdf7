import { join } from 'node:path'
import { listeningUrl } from '../../test/support/broker-process.js'
import { spawnProcess, type Child } from '../../src/child-process.js'
import type { Cleanup } from '../../test/support/cleanup.js'

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
    const child = spawnProcess(
      process.execPath,
      [join(repoDir, 'bin/nats-streaming'), '--port', String(port), '--store', 'file', '--dir', dataDir, '--cid', CLUSTER_ID],
      { cwd: repoDir, env: { ...process.env }, output: { logPath } },
    )
    this.#child = child
    try {
      await listeningUrl(child, 20_000)
    } catch (error) {
      child.signal('SIGKILL')
      throw new Error(`the broker did not start (${error instanceof Error ? error.message.split('\n')[0] : String(error)}); see ${logPath}`)
    }
  }

  /** The crash: no chance to write anything more to its store. */
  async kill(): Promise<void> {
    await this.#child?.stop('SIGKILL', 5_000)
  }

  async stop(): Promise<void> {
    await this.#child?.stop('SIGTERM', 5_000)
  }
}
