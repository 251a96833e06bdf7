import { randomBytes } from 'node:crypto'
import type postgres from 'postgres'
import { CONNECT_TIMEOUT_MS, connectDatabase, type Sql } from './db.js'
import type { OrderPages } from './orders.js'

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
  /** Called once per abandoned generation of connections (the metric). */
  onAbandoned?: () => void
}

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
  /** Routes to the current generation. Queries made directly on it are bounded only under `run` or `bound`. */
  readonly sql: Sql
  /** Runs `work` on the current generation, after the abandoned backends are ended, within `boundMs` (or the given bound). */
  run<T>(work: (sql: Sql) => Promise<T>, options?: { boundMs?: number }): Promise<T>
  /** A transaction within the bound, counted from its start: when it has not committed by then, it is abandoned. */
  begin<T>(work: (tx: postgres.TransactionSql) => Promise<T>): Promise<T>
  /** Bounds work already started on `sql` (a store method's promise): on timeout the generation is abandoned. */
  bound<T>(work: PromiseLike<T>): Promise<T>
  /** Generations abandoned so far. */
  readonly abandoned: number
  end(options?: { timeout?: number }): Promise<void>
}

interface Generation {
  sql: Sql
  applicationName: string
  /** Its first round trip, done before any bounded work: see prepare. */
  ready?: Promise<void>
}

export function createBoundedPool(options: BoundedPoolOptions): BoundedPool {
  /** application_names of abandoned generations whose backends are not known to be ended yet. */
  const toEnd = new Set<string>()
  let abandoned = 0
  let current = open()

  function open(): Generation {
    // 63 bytes at most (NAMEDATALEN); random so that no other process's sessions share it.
    const applicationName = `${options.name} ${randomBytes(6).toString('hex')}`.slice(-63)
    const sql = connectDatabase(options.url, {
      max: options.max,
      connection: {
        application_name: applicationName,
        idle_in_transaction_session_timeout: options.idleInTransactionMs,
        ...(options.lockTimeoutMs === undefined ? {} : { lock_timeout: options.lockTimeoutMs }),
      },
    })
    return { sql, applicationName }
  }

  function abandon(generation: Generation): void {
    // Work on an already abandoned generation timing out late: the pool was replaced then.
    if (generation !== current) return
    abandoned++
    toEnd.add(generation.applicationName)
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
    await sql`select pg_terminate_backend(pid) from pg_stat_activity where application_name = any(${names}::text[])`
    for (const name of names) toEnd.delete(name)
  }

  function within<T>(generation: Generation, work: PromiseLike<T>, boundMs: number): Promise<T> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        abandon(generation)
        reject(new DatabaseTimeoutError(options.name, boundMs))
      }, boundMs)
    })
    // Work cut off because other work on its generation passed the bound fails as that work did.
    const answered = Promise.resolve(work).catch((error: unknown) => {
      if (generation !== current && (error as { code?: unknown } | null)?.code === 'CONNECTION_DESTROYED') {
        throw new DatabaseTimeoutError(options.name, boundMs, { cause: error })
      }
      throw error
    })
    return Promise.race([answered, timeout]).finally(() => clearTimeout(timer))
  }

  const run: BoundedPool['run'] = async (work, runOptions = {}) => {
    const generation = current
    await prepare(generation)
    return within(generation, work(generation.sql), runOptions.boundMs ?? options.boundMs)
  }

  // Calls and property reads go to the generation of the moment: stores built once keep working across replacements.
  const sql = new Proxy(function route() {} as unknown as Sql, {
    apply: (_, thisArg, args) => Reflect.apply(current.sql, thisArg, args),
    get: (_, property) => {
      const value: unknown = Reflect.get(current.sql, property)
      return typeof value === 'function' ? value.bind(current.sql) : value
    },
  })

  function begin<T>(work: (tx: postgres.TransactionSql) => Promise<T>): Promise<T> {
    // postgres.js types begin's result as UnwrapPromiseArray<T>: T itself unless T is an array of promises.
    return run((sql) => sql.begin(work) as Promise<T>)
  }

  return {
    sql,
    run,
    begin,
    bound: (work) => within(current, work, options.boundMs),
    get abandoned() {
      return abandoned
    },
    end: (endOptions = {}) => current.sql.end(endOptions),
  }
}

/**
 * The store with every method that returns a promise bounded by `pool` (see BoundedPool.bound); other methods
 * (say, one that returns a page iterator) are passed through as they are.
 */
export function boundedStore<S extends object>(pool: Pick<BoundedPool, 'bound'>, store: S): S {
  const bounded = { ...store } as Record<string, unknown>
  for (const [key, value] of Object.entries(store)) {
    if (typeof value !== 'function') continue
    bounded[key] = (...args: unknown[]) => {
      const result: unknown = value.apply(store, args)
      return isThenable(result) ? pool.bound(result) : result
    }
  }
  return bounded as S
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function'
}

/** The pages with each page's read bounded by `pool`: a read that hangs ends the iteration with DatabaseTimeoutError. */
export function boundedPages(pool: Pick<BoundedPool, 'bound'>, pages: OrderPages): OrderPages {
  return async function* bounded<B>(keep: (body: Uint8Array) => B) {
    const iterator = pages(keep)
    for (;;) {
      const next = await pool.bound(iterator.next())
      if (next.done === true) return
      yield next.value
    }
  }
}
