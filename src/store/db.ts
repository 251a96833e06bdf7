import postgres from 'postgres'

export type Sql = postgres.Sql
/** A connection or a transaction: store functions that join a caller's transaction take this. */
export type Queryable = postgres.Sql | postgres.TransactionSql

export interface DatabaseOptions {
  /** Pool size. The writer holds one connection per batch, HTTP misses and the admin routes share the rest. */
  max?: number
  /** Called with PostgreSQL notices; the default drops them (migrations emit harmless ones). */
  onNotice?: (notice: postgres.Notice) => void
}

/** One pool for the process, built by the composition root and passed to every store. */
export function connectDatabase(url: string, options: DatabaseOptions = {}): Sql {
  return postgres(url, {
    max: options.max ?? 10,
    onnotice: options.onNotice ?? (() => {}),
    // Fail a connection attempt quickly so an outage surfaces as an error the writer can retry, not a hang.
    connect_timeout: 5,
    idle_timeout: 60,
    // Large ids (bigint) come back as strings: they are never used as numbers here.
    types: {},
  })
}

/** True when a trivial query answers: the readiness check. */
export async function isReachable(sql: Sql): Promise<boolean> {
  try {
    await sql`select 1`
    return true
  } catch {
    return false
  }
}
