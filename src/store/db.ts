import postgres from 'postgres'
import type { BoundedPool } from './bounded-pool.js'

export type Sql = postgres.Sql
/** A connection or a transaction: store functions that join a caller's transaction take this. */
export type Queryable = postgres.Sql | postgres.TransactionSql

export interface DatabaseOptions {
  /** Pool size. The writer holds one connection per batch, HTTP misses and the admin routes share the rest. */
  max?: number
  /** Called with PostgreSQL notices; the default drops them (migrations emit harmless ones). */
  onNotice?: (notice: postgres.Notice) => void
  /** Session settings sent at connect (application_name, server-side timeouts): see src/store/bounded-pool.ts. */
  connection?: Partial<postgres.ConnectionParameters>
}

/** How long opening a connection may take, up to PostgreSQL's ready-for-query. */
export const CONNECT_TIMEOUT_MS = 5_000

/** One pool for the process, built by the composition root and passed to every store. */
export function connectDatabase(url: string, options: DatabaseOptions = {}): Sql {
  return postgres(url, {
    max: options.max ?? 10,
    onnotice: options.onNotice ?? (() => {}),
    // Fail a connection attempt quickly so an outage surfaces as an error the writer can retry, not a hang.
    connect_timeout: CONNECT_TIMEOUT_MS / 1000,
    idle_timeout: 60,
    ...(options.connection === undefined ? {} : { connection: options.connection }),
    // Large ids (bigint) come back as strings: they are never used as numbers here.
    types: {},
  })
}

/** True when a trivial query answers within the pool's bound: the readiness check. */
export async function isReachable(pool: Pick<BoundedPool, 'sql' | 'bound'>): Promise<boolean> {
  try {
    await pool.bound(pool.sql`select 1`)
    return true
  } catch {
    return false
  }
}
