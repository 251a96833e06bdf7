import { join } from 'node:path'
import type { ExitStatus } from '../../src/child-process.js'
import { spawnService, type ServiceChild } from '../../test/support/service-process.js'
import { readRssBytes } from '../../test/support/proc.js'
import type { Cleanup } from '../../test/support/cleanup.js'
import { sampleSum } from '../../test/support/prometheus-text.js'
import { httpGet } from './http.js'

export interface ServiceProcessOptions {
  repoDir: string
  /** Working directory: a scenario folder, so a developer's .env in the repository is not read. */
  cwd: string
  env: Record<string, string>
  port: number
  logPath: string
  cleanup: Cleanup
}

/** How one run of the process ended, as the runner saw it. */
export interface Life {
  pid: number
  endedBy: 'SIGKILL' | 'SIGTERM' | 'crash'
  status: ExitStatus
  /** Milliseconds from SIGTERM to exit (graceful stops). */
  stopMs?: number
  /** A graceful stop that had to be forced. */
  forced?: boolean
}

const SCRAPE_EVERY_MS = 250

/**
 * The built service (`node dist/src/main.js`) as a child process, started, killed and restarted by the scenarios,
 * always with the same environment (same client id, durable, port). Its /metrics are scraped while it runs, so the
 * duplicates it absorbed (and the orders it stored) are known even for a life ended by SIGKILL (up to the last scrape).
 */
export class ServiceProcess {
  readonly port: number
  readonly lives: Life[] = []
  #child: ServiceChild | undefined
  #expectingExit = false
  #scraper: NodeJS.Timeout | undefined
  /** Counters of lives that ended, and the latest scrape of the current one. */
  #finished = { duplicates: 0, stored: 0 }
  #current = { duplicates: 0, stored: 0 }
  #options: ServiceProcessOptions

  constructor(options: ServiceProcessOptions) {
    this.#options = options
    this.port = options.port
    options.cleanup.add('service', async () => {
      await this.#child?.stop('SIGKILL', 5_000)
    })
  }

  /** Changes the environment of the next start (a scenario giving the service another STAN_URL, say). */
  setEnv(overrides: Record<string, string>): void {
    this.#options = { ...this.#options, env: { ...this.#options.env, ...overrides } }
  }

  get pid(): number | undefined {
    return this.#child?.isRunning() ? this.#child.pid : undefined
  }

  isRunning(): boolean {
    return this.#child?.isRunning() ?? false
  }

  /** Starts the process (it may then wait for its database: see waitReady). */
  start(): void {
    if (this.isRunning()) throw new Error('the service is already running')
    const { repoDir, cwd, env, logPath } = this.#options
    const child = spawnService({ main: join(repoDir, 'dist/src/main.js'), cwd, env, output: { logPath } })
    this.#child = child
    this.#expectingExit = false
    this.#current = { duplicates: 0, stored: 0 }
    this.#scraper = setInterval(() => void this.scrape(), SCRAPE_EVERY_MS)
    void child.exited.then((status) => {
      clearInterval(this.#scraper)
      this.#finished.duplicates += this.#current.duplicates
      this.#finished.stored += this.#current.stored
      this.#current = { duplicates: 0, stored: 0 }
      if (!this.#expectingExit) this.lives.push({ pid: child.pid, endedBy: 'crash', status })
    })
  }

  /** Waits until /readyz answers 200; fails if the process exits first or the time runs out. */
  async waitReady(timeoutMs = 60_000): Promise<void> {
    if (this.#child === undefined) throw new Error('the service was never started')
    await this.#child.ready(timeoutMs, `http://127.0.0.1:${this.port}`)
  }

  async startReady(timeoutMs?: number): Promise<void> {
    this.start()
    await this.waitReady(timeoutMs)
  }

  /** SIGKILL: whatever it was doing is cut off. */
  async kill(): Promise<void> {
    const child = this.#child
    if (child === undefined || !child.isRunning()) return
    this.#expectingExit = true
    const status = await child.stop('SIGKILL', 5_000)
    this.lives.push({ pid: child.pid, endedBy: 'SIGKILL', status })
  }

  /** SIGTERM: the graceful stop; forced with SIGKILL after `graceMs`. */
  async terminate(graceMs = 30_000): Promise<Life | undefined> {
    const child = this.#child
    if (child === undefined || !child.isRunning()) return undefined
    await this.scrape()
    this.#expectingExit = true
    const { forced, ms, ...status } = await child.stop('SIGTERM', graceMs)
    const life: Life = { pid: child.pid, endedBy: 'SIGTERM', status, stopMs: ms, forced }
    this.lives.push(life)
    return life
  }

  /** Duplicates absorbed (order_messages_total{outcome="duplicate"}) over every life so far. */
  duplicatesAbsorbed(): number {
    return this.#finished.duplicates + this.#current.duplicates
  }

  /** Orders stored (order_messages_total{outcome="stored"}) over every life so far, as far as scraped. */
  ordersStored(): number {
    return this.#finished.stored + this.#current.stored
  }

  crashes(): Life[] {
    return this.lives.filter((life) => life.endedBy === 'crash')
  }

  async residentBytes(): Promise<number | undefined> {
    const pid = this.pid
    // Undefined once it is gone.
    return pid === undefined ? undefined : readRssBytes(pid).catch(() => undefined)
  }

  async scrape(): Promise<void> {
    if (!this.isRunning()) return
    const result = await httpGet(this.port, '/metrics', { timeoutMs: 2_000 })
    if (result.status !== 200 || !this.isRunning()) return
    const text = result.body.toString('utf8')
    // Counters only grow within a life: a late, older scrape must not lower what is known.
    this.#current.duplicates = Math.max(this.#current.duplicates, sampleSum(text, 'order_messages_total', { outcome: 'duplicate' }))
    this.#current.stored = Math.max(this.#current.stored, sampleSum(text, 'order_messages_total', { outcome: 'stored' }))
  }
}
