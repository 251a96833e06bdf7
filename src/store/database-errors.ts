import postgres from 'postgres'

/**
 * What a failed statement says about running it again: one rule for the writer (retry or isolate) and for
 * start-up (wait for the database or give up).
 * - `transient`: the server cannot be reached or cannot serve now; the same statement may pass later.
 * - `data`: the statement's data is at fault; it fails the same way every time.
 * - `refused`: the server refused it for another reason (permissions, a missing table, a password): it passes only
 *   after someone changes the database or the configuration.
 * - `bug`: not an error of the database or its driver at all.
 */
export type DatabaseErrorKind = 'transient' | 'data' | 'refused' | 'bug'

/** Socket errors of a server that is down, restarting, or not yet resolvable (a container starting). */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ENOENT'])

/**
 * postgres.js's own connection errors (src/errors.js `Errors.connection`), and work abandoned at its bound
 * (src/store/bounded-pool.ts: a connection that stopped answering; the next try is on fresh ones).
 */
const DRIVER_CODES = new Set(['CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT', 'DATABASE_TIMEOUT'])

/**
 * SQLSTATEs that may pass later: classes 08 (connection), 40 (serialization failure, deadlock), 53 (insufficient
 * resources: disk full, out of memory, too many connections), 58 (system error, I/O); 57P01–57P03 (shutting down,
 * crashed, starting up), 57014 (statement cancelled, as by a timeout), 55P03 (lock not available) and 25006 (a
 * write on a read-only server: a standby, or a primary being demoted; the same write passes on the new primary).
 */
const TRANSIENT_SQLSTATE = /^(08|40|53|58|57P0[123]$|57014$|55P03$|25006$)/

/**
 * SQLSTATEs that say the connection itself is of no further use: it reached a server that is read-only (25006) or
 * going away (57P01 admin shutdown, 57P02 crash shutdown, 57P03 starting up). Such a connection is dropped, so the
 * retry connects afresh and target_session_attrs=read-write finds the primary of the moment.
 */
const RECONNECT_SQLSTATE = /^(25006|57P0[123])$/

/** Classes 22 (data exception), 23 (integrity constraint) and 54 (program limit). */
const DATA_SQLSTATE = /^(22|23|54)/

/** True when the connection that failed must be dropped before the (transient) work is retried: see RECONNECT_SQLSTATE. */
export function needsNewConnection(error: unknown): boolean {
  return error instanceof postgres.PostgresError && RECONNECT_SQLSTATE.test(error.code)
}

export function classifyDatabaseError(error: unknown): DatabaseErrorKind {
  if (error instanceof postgres.PostgresError) {
    if (DATA_SQLSTATE.test(error.code)) return 'data'
    return TRANSIENT_SQLSTATE.test(error.code) ? 'transient' : 'refused'
  }
  const code = error instanceof Error ? (error as { code?: unknown }).code : undefined
  if (typeof code !== 'string') return 'bug'
  if (SOCKET_CODES.has(code) || DRIVER_CODES.has(code)) return 'transient'
  // The driver's other errors (MAX_PARAMETERS_EXCEEDED, SASL_SIGNATURE_MISMATCH, …) fail the same way every time;
  // Node's own codes (ERR_…) are bugs here.
  return code.startsWith('ERR_') ? 'bug' : 'refused'
}
