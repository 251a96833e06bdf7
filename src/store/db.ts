import postgres from 'postgres'
import { backoffDelay } from '../backoff.js'

export type Sql = postgres.Sql
/** A connection or a transaction: store functions that join a caller's transaction take this. */
export type Queryable = postgres.Sql | postgres.TransactionSql
/** Runs `work` in a transaction: a bounded pool's `begin`, or (tests) `(work) => sql.begin(work)`. */
export type Transaction = <T>(work: (tx: postgres.TransactionSql) => Promise<T>) => Promise<T>

/** `sql.begin` as a Transaction. postgres.js types begin's result as UnwrapPromiseArray<T>: T itself unless T is an array of promises. */
export function transactionOn(sql: Sql): Transaction {
  return <T>(work: (tx: postgres.TransactionSql) => Promise<T>) => sql.begin(work) as Promise<T>
}

export interface DatabaseOptions {
  /** Pool size. The writer holds one connection per batch, HTTP misses and the admin routes share the rest. */
  max?: number
  /** Called with PostgreSQL notices; the default drops them (migrations emit harmless ones). */
  onNotice?: (notice: postgres.Notice) => void
  /** Session settings sent at connect (application_name, server-side timeouts): see src/store/bounded-pool.ts. */
  connection?: Partial<postgres.ConnectionParameters>
  /** Named prepared statements (default true); false behind a transaction pooler, where they do not outlive the transaction. */
  prepare?: boolean
}

/** How long opening a connection may take, up to PostgreSQL's ready-for-query. */
export const CONNECT_TIMEOUT_MS = 5_000

/**
 * Seconds a pooled connection waits before its next connect after failures: 0.1, 0.2, 0.4, then 0.5 at most.
 * postgres.js's default grows with the failures since its last success, up to 20 s, so after an outage of some
 * seconds the first connection to a server back (or to a promoted standby) waited seconds more: 5.3 s in a fail-over
 * test. The callers pace their own retries (the writer's backoff, the start-up's wait), so the driver's stays short.
 */
const reconnectBackoff = (failures: number): number => backoffDelay({ initialMs: 50, maxMs: 500 }, failures + 1) / 1000

/** One pool for the process, built by the composition root and passed to every store. */
export function connectDatabase(url: string, options: DatabaseOptions = {}): Sql {
  return postgres(url, {
    max: options.max ?? 10,
    onnotice: options.onNotice ?? (() => {}),
    // Fail a connection attempt quickly so an outage surfaces as an error the writer can retry, not a hang.
    connect_timeout: CONNECT_TIMEOUT_MS / 1000,
    idle_timeout: 60,
    backoff: reconnectBackoff,
    ...(options.connection === undefined ? {} : { connection: options.connection }),
    ...(options.prepare === undefined ? {} : { prepare: options.prepare }),
    // Large ids (bigint) come back as strings: they are never used as numbers here.
    types: {},
  })
}

export interface SessionOptions {
  applicationName: string
  /** NOTIFY received on the session's channels. */
  onNotify: (channel: string, payload: string) => void
  /** The connection closed, for whatever reason: the session is over. */
  onClose: () => void
}

/**
 * One connection held for a session's state (LISTEN), never idled out or recycled, and never reconnected behind
 * its owner's back: when it closes, `onClose` says so and the owner opens the next.
 */
export function connectSession(url: string, options: SessionOptions): Sql {
  const settings: postgres.Options<Record<string, never>> = {
    max: 1,
    idle_timeout: 0,
    max_lifetime: null,
    fetch_types: false,
    onnotice: () => {},
    connect_timeout: CONNECT_TIMEOUT_MS / 1000,
    connection: { application_name: options.applicationName },
    onclose: options.onClose,
    types: {},
  }
  // postgres.js's own listen() passes notifications through this option; its type declarations leave it out.
  Object.assign(settings, { onnotify: options.onNotify })
  return postgres(url, settings)
}
