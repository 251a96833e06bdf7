import { readFile } from 'node:fs/promises'
import type { Sql } from '../../src/store/db.js'
import { parentPid, readCpuSecondsOfTree } from '../../test/support/proc.js'
import { startTestDatabase } from '../../test/support/postgres.js'
import type { Cleanup } from '../../test/support/cleanup.js'
import { tempDir } from './temp-dir.js'

export interface BenchDatabase {
  url: string
  /** A small pool on the migrated database; the measurements use it one statement at a time. */
  sql: Sql
  /** Empties the tables, so each measurement starts from the same state. */
  reset(): Promise<void>
  /**
   * Throws unless the orders table holds exactly `count` rows, each document a JSON object: a rate is only worth
   * printing if the rows landed as the service stores them (not, say, as jsonb strings).
   */
  expectOrders(count: number): Promise<void>
  /** `PostgreSQL 17.x`, for the machine description. */
  version: string
  /** CPU seconds used so far by this server's processes (the postmaster and what it forked), not another's. */
  cpuSeconds(): Promise<number>
}

/** The service's own embedded PostgreSQL in a temp dir on a free port, migrated; stopped and removed at cleanup. */
export async function startBenchDatabase(cleanup: Cleanup): Promise<BenchDatabase> {
  const db = await startTestDatabase({ dir: await tempDir(cleanup, 'pg') })
  cleanup.add('stop PostgreSQL', () => db.stop())
  const { sql } = db
  const [row] = await sql<{ version: string; backend: number }[]>`select current_setting('server_version') as version, pg_backend_pid() as backend`
  // A backend's parent is the postmaster.
  const postmaster = parentPid(await readFile(`/proc/${row?.backend}/stat`, 'utf8'))
  return {
    url: db.url,
    sql,
    reset: async () => {
      await db.truncate()
      // Fresh statistics and no dead tuples from the previous measurement.
      await sql`vacuum analyze orders`
    },
    expectOrders: async (count) => {
      const [row] = await sql<{ n: number; objects: number }[]>`
        select count(*)::int as n, (count(*) filter (where jsonb_typeof(doc) = 'object'))::int as objects from orders`
      if (row?.n !== count) throw new Error(`expected ${count} orders in the table, found ${row?.n}`)
      if (row.objects !== count) throw new Error(`${count - row.objects} of the ${count} stored documents are not JSON objects`)
    },
    version: `PostgreSQL ${row?.version ?? '?'}`,
    cpuSeconds: () => readCpuSecondsOfTree(postmaster),
  }
}
