import { randomBytes } from 'node:crypto'
import type postgres from 'postgres'
import { needsNewConnection } from './database-errors.js'
import { CONNECT_TIMEOUT_MS, connectDatabase, transactionOn, type Sql, type Transaction } from './db.js'
import type { OrderPages, StoredOrder } from './orders.js'
import { withTimeout } from '../timeout.js'

/** Database work that did not finish within its bound: its connections were abandoned. */
export class DatabaseTimeoutError extends Error {
  readonly code = 'DATABASE_TIMEOUT'
  constructor(readonly pool: string, readonly boundMs: number, options?: ErrorOptions) {
    super(`${pool}: no answer from PostgreSQL within ${boundMs} ms; its connections were abandoned`, options)
    this.name = 'DatabaseTimeoutError'
  }
}

export interface BoundedPoolOptions {
  url: string
  /** Names the pool in errors, metrics and PostgreSQL's pg_stat_activity (application_name). */
  name: string
  /** Connections at most. */
  max: number
  /** How long a piece of work may take, counted from its start, before its connections are abandoned. */
  boundMs: number
  /**
   * Server-side bounds for the pool's sessions, so PostgreSQL too gives up on a session whose client is gone:
   * idle in a transaction longer than this, the session is ended; waiting for a lock longer than `lockTimeoutMs`
   * (when set), the statement fails (SQLSTATE 55P03, retried like any failed write).
   */
  idleInTransactionMs: number
  lockTimeoutMs?: number
  /**
   * 'transaction': a transaction pooler (PgBouncer, pool_mode=transaction) stands between the pool and PostgreSQL,
   * so no server session is the pool's own. Nothing is set per session: application_name alone is sent at connect
   * (the pooler refuses other startup settings and sets it on each server connection it lends), statements are
   * not prepared by name, and the server-side bounds are set in each transaction (SET LOCAL). Abandoned backends
   * are not ended by name (a server connection serves other clients after it): a hung transaction is ended by
   * the server when it idles past `idleInTransactionMs` or waits for a lock past `lockTimeoutMs`.
   */
  pooler?: 'none' | 'transaction'
  /** Called once per abandoned generation of connections (the metric). */
  onAbandoned?: () => void
}

/** Seconds the work on a retired generation has to finish before its connections are closed. */
const RETIRE_GRACE_S = 5

/**
 * A postgres.js pool whose every wait has a bound. postgres.js has no per-query timeout and cannot destroy one
 * pooled connection, so a bound that passes abandons the whole pool: it is ended at once (`end({ timeout: 0 })`
 * destroys its sockets and fails every query on it), and a fresh pool, a new generation, takes its place.
 *
 * A frozen connection's backend may still be alive in PostgreSQL, holding the locks of its open transaction (the
 * server cannot tell its client is gone). Each generation has its own application_name; the next generation's
 * first round trip ends the abandoned backends by that name (pg_terminate_backend) before any work on it, so a
 * retry of the same rows does not block on them. The server-side timeouts above end them too should that fail.
 */
export interface BoundedPool {
  /**
   * Runs `work` on the current generation, after the abandoned backends are ended, within `boundMs` (or the given
   * bound). The `sql` it is handed is for that work only: it is ended with its generation.
   */
  run<T>(work: (sql: Sql) => PromiseLike<T>, options?: { boundMs?: number }): Promise<T>
  /** A transaction within the bound, counted from its start: when it has not committed by then, it is abandoned. */
  begin: Transaction
  /**
   * A store whose every method that returns a promise runs as `run` does, on the generation of its call: the store
   * is made by `make` once per generation. Methods that return anything else are left out (see boundedPages).
   */
  bound<S extends object>(make: (sql: Sql) => S): BoundedStore<S>
  /** Generations abandoned so far. */
  readonly abandoned: number
  end(options?: { timeout?: number }): Promise<void>
}

/** The methods of S that return promises. */
export type BoundedStore<S> = { [K in keyof S as S[K] extends (...args: never[]) => PromiseLike<unknown> ? K : never]: S[K] }

interface Generation {
  sql: Sql
  applicationName: string
  /** Its first round trip, done before any bounded work: see prepare. */
  ready?: Promise<void>
}

export function createBoundedPool(options: BoundedPoolOptions): BoundedPool {
  /** application_names of abandoned generations whose backends are not known to be ended yet. */
  const pooled = options.pooler === 'transaction'
  const toEnd = new Set<string>()
  let abandoned = 0
  let current = open()

  function open(): Generation {
    // 63 bytes at most (NAMEDATALEN); random so that no other process's sessions share it.
    const applicationName = `${options.name} ${randomBytes(6).toString('hex')}`.slice(-63)
    const sql = connectDatabase(options.url, {
      max: options.max,
      connection: pooled
        ? { application_name: applicationName }
        : {
            application_name: applicationName,
            idle_in_transaction_session_timeout: options.idleInTransactionMs,
            ...(options.lockTimeoutMs === undefined ? {} : { lock_timeout: options.lockTimeoutMs }),
          },
      ...(pooled ? { prepare: false } : {}),
    })
    return { sql, applicationName }
  }

  /**
   * A generation whose connection reached a read-only or departing server (needsNewConnection): new work goes to a
   * fresh generation, which connects afresh, while work already on the old one finishes or fails on its own.
   */
  function retire(generation: Generation): void {
    if (generation !== current) return
    current = open()
    void generation.sql.end({ timeout: RETIRE_GRACE_S }).catch(() => {})
  }

  function abandon(generation: Generation): void {
    // Work on an already abandoned generation timing out late: the pool was replaced then.
    if (generation !== current) return
    abandoned++
    if (!pooled) toEnd.add(generation.applicationName)
    current = open()
    options.onAbandoned?.()
    // The queries still on it fail now (CONNECTION_DESTROYED); whoever awaits them has had its answer.
    void generation.sql.end({ timeout: 0 }).catch(() => {})
  }

  /**
   * A generation's first round trip: it opens a connection and ends the backends of abandoned generations, under
   * a bound of its own that allows for connecting, so a bound shorter than a slow connect still lets work through.
   */
  function prepare(generation: Generation): Promise<void> {
    generation.ready ??= within(generation, endAbandonedBackends(generation.sql), options.boundMs + CONNECT_TIMEOUT_MS).catch((error: unknown) => {
      // Tried again by the next work, on this generation if it was not abandoned meanwhile.
      generation.ready = undefined
      throw error
    })
    return generation.ready
  }

  async function endAbandonedBackends(sql: Sql): Promise<void> {
    const names = [...toEnd]
    if (names.length === 0) {
      await sql`select 1`
      return
    }
    await sql`select pg_terminate_backend(pid) from pg_stat_activity where application_name = any(${names}::text[])`
    for (const name of names) toEnd.delete(name)
  }

  function within<T>(generation: Generation, work: PromiseLike<T>, boundMs: number): Promise<T> {
    // Work cut off because other work on its generation passed the bound fails as that work did.
    const answered = Promise.resolve(work).catch((error: unknown) => {
      if (generation !== current && (error as { code?: unknown } | null)?.code === 'CONNECTION_DESTROYED') {
        throw new DatabaseTimeoutError(options.name, boundMs, { cause: error })
      }
      if (needsNewConnection(error)) retire(generation)
      throw error
    })
    return withTimeout(answered, boundMs, () => {
      abandon(generation)
      throw new DatabaseTimeoutError(options.name, boundMs)
    })
  }

  const run: BoundedPool['run'] = async (work, runOptions = {}) => {
    const generation = current
    await prepare(generation)
    return within(generation, work(generation.sql), runOptions.boundMs ?? options.boundMs)
  }

  // Behind a transaction pooler the session's bounds (see open) are the transaction's, set as it begins.
  const begin: Transaction = pooled
    ? (work) =>
        run((sql) =>
          transactionOn(sql)(async (tx) => {
            await tx`select set_config('idle_in_transaction_session_timeout', ${String(options.idleInTransactionMs)}, true),
              set_config('lock_timeout', ${String(options.lockTimeoutMs ?? 0)}, true)`
            return work(tx)
          }),
        )
    : (work) => run((sql) => transactionOn(sql)(work))

  function bound<S extends object>(make: (sql: Sql) => S): BoundedStore<S> {
    const stores = new WeakMap<Sql, S>()
    const storeOn = (sql: Sql): S => {
      let store = stores.get(sql)
      if (store === undefined) stores.set(sql, (store = make(sql)))
      return store
    }
    const methods = Object.entries(storeOn(current.sql)).filter(([, value]) => typeof value === 'function')
    return Object.fromEntries(
      methods.map(([key]) => [
        key,
        (...args: unknown[]) => run((sql) => (storeOn(sql) as Record<string, (...args: unknown[]) => PromiseLike<unknown>>)[key]!(...args)),
      ]),
    ) as BoundedStore<S>
  }

  return {
    run,
    begin,
    bound,
    get abandoned() {
      return abandoned
    },
    end: (endOptions = {}) => current.sql.end(endOptions),
  }
}

/**
 * Pages read each within the pool's bound: a page that does not come ends the iteration with DatabaseTimeoutError.
 * The iteration stays on the generation of its first page; should that generation be abandoned meanwhile, the next
 * page fails (a transient error) and the reader starts again.
 */
export function boundedPages(pool: Pick<BoundedPool, 'run'>, pagesOn: (sql: Sql) => OrderPages): OrderPages {
  return async function* bounded<B>(keep: (body: Uint8Array) => B) {
    let iterator: AsyncGenerator<StoredOrder<B>[]> | undefined
    for (;;) {
      const next = await pool.run((sql) => (iterator ??= pagesOn(sql)(keep)).next())
      if (next.done === true) return
      yield next.value
    }
  }
}
