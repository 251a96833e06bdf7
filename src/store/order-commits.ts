import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import { CONNECT_TIMEOUT_MS, connectSession, type Sql } from './db.js'
import { backoffDelay } from '../backoff.js'
import { withTimeout } from '../timeout.js'

/** The channel sql/002_order_commit_notify.sql notifies: a comma-separated list of committed order ids. */
const CHANNEL = 'orders_committed'

/**
 * The listener's bounds. A connection that closes (PostgreSQL restarted, a fail-over, the session terminated)
 * is noticed at once; one that stops answering without closing (a freeze, a partition) by the heartbeat, at most
 * HEARTBEAT_MS + ANSWER_MS later. Then LISTEN is tried again at once and every RETRY_MAX_MS at most until it
 * succeeds, each try on a fresh connection (so on whichever host is the primary by then) bounded by ANSWER_MS
 * after its connect.
 */
export const LISTEN_BOUNDS = Object.freeze({ HEARTBEAT_MS: 3_000, ANSWER_MS: 3_000, RETRY_MAX_MS: 500 })

export interface CommitHandlers {
  /** Orders committed by any instance (this one too), heard after their commit. */
  committed(orderUids: string[]): void
  /** Listening (again): commits made while nobody listened were not heard. */
  listening(): void
}

export interface CommitListenerOptions {
  /** Where to LISTEN: the primary, directly or through a session-mode pool (never a transaction pool). */
  url: string
  /** The session's application_name. */
  name: string
  handlers: CommitHandlers
  log: Pick<Logger, 'warn' | 'info'>
}

export interface CommitListener {
  /**
   * Settles after the first LISTEN: resolves when it succeeded, or failed in a way a retry may pass (the retries go
   * on); rejects when the server refused it for being a standby (25006), which no retry passes: the URL is wrong.
   */
  readonly started: Promise<void>
  close(): Promise<void>
}

/**
 * Hears of every order committed to the table, whichever instance wrote it, on a connection of its own: never a
 * pool's, whose end would take the LISTEN with it. Each session is one connection that LISTENs, answers a
 * heartbeat, and is given up at the first sign of loss; the next session LISTENs again and calls `listening`, since
 * notifications sent in between are gone. Retried until the listener is closed.
 */
export function listenForCommits(options: CommitListenerOptions): CommitListener {
  const { handlers, log } = options
  const stopped = new AbortController()
  let ended: Promise<void> = Promise.resolve()

  /** Sessions lost or refused since the last one that listened. */
  let failures = 0
  let settle: { resolve(): void; reject(error: Error): void } | undefined
  const started = new Promise<void>((resolve, reject) => (settle = { resolve, reject }))
  // Whoever starts a listener without awaiting `started` (a bench, a test) is not crashed by its refusal.
  started.catch(() => undefined)
  const running = (async () => {
    while (!stopped.signal.aborted) {
      const outcome = await session()
      if (settle !== undefined && isStandbyRefusal(outcome.error)) {
        settle.reject(outcome.error)
        return
      }
      settle?.resolve()
      settle = undefined
      if (stopped.signal.aborted) return
      // The first loss of an outage is logged; its retries, every RETRY_MAX_MS, would be noise.
      if (outcome.listened || failures === 0) log.warn({ err: { message: outcome.message } }, 'commit listener lost its connection; listening again')
      failures = outcome.listened ? 1 : failures + 1
      // At once after a loss; then 100, 200, 400, 500, 500 ms … while it is refused.
      const delay = failures === 1 ? 0 : backoffDelay({ initialMs: 100, maxMs: LISTEN_BOUNDS.RETRY_MAX_MS }, failures - 1)
      await sleep(delay, undefined, { signal: stopped.signal }).catch(() => undefined)
    }
  })()

  /** One connection: LISTEN, then heartbeats until it is lost or the listener stops. Resolves with why it ended. */
  async function session(): Promise<{ listened: boolean; message: string; error: Error }> {
    const lost = new AbortController()
    const onStop = () => lost.abort(new Error('stopped'))
    stopped.signal.addEventListener('abort', onStop)
    const sql: Sql = connectSession(options.url, {
      applicationName: options.name,
      onNotify: (channel, payload) => {
        if (channel === CHANNEL) handlers.committed(payload.split(','))
      },
      onClose: () => lost.abort(new Error('connection closed')),
    })
    let listened = false
    try {
      await answered(sql`listen orders_committed`, lost.signal, ANSWER_AFTER_CONNECT_MS)
      listened = true
      settle?.resolve()
      settle = undefined
      handlers.listening()
      if (failures > 0) log.info({}, 'listening for commits of other instances again')
      for (;;) {
        await sleep(LISTEN_BOUNDS.HEARTBEAT_MS, undefined, { signal: lost.signal })
        await answered(sql`select 1`, lost.signal, LISTEN_BOUNDS.ANSWER_MS)
      }
    } catch (error) {
      const reason = lost.signal.aborted ? (lost.signal.reason as Error) : (error as Error)
      return { listened, message: reason.message, error: error as Error }
    } finally {
      stopped.signal.removeEventListener('abort', onStop)
      ended = sql.end({ timeout: 0 }).catch(() => undefined)
    }
  }

  return {
    started,
    async close() {
      stopped.abort()
      await running
      await ended
      settle?.resolve()
    },
  }
}

/** "cannot execute LISTEN during recovery": the session is on a hot standby. */
function isStandbyRefusal(error: Error): boolean {
  return (error as { code?: unknown }).code === '25006'
}

/** LISTEN's first answer includes connecting, within postgres.js's connect_timeout. */
const ANSWER_AFTER_CONNECT_MS = CONNECT_TIMEOUT_MS + LISTEN_BOUNDS.ANSWER_MS

/** A query's answer within `ms`, or a rejection; a loss of the connection rejects at once. */
function answered(query: PromiseLike<unknown>, lost: AbortSignal, ms: number): Promise<void> {
  let fail: (() => void) | undefined
  const gone = new Promise<never>((_, reject) => {
    fail = () => reject(lost.reason as Error)
    if (lost.aborted) fail()
    else lost.addEventListener('abort', fail, { once: true })
  })
  const noAnswer = () => {
    throw new Error(`no answer within ${ms} ms`)
  }
  return withTimeout(Promise.race([Promise.resolve(query).then(() => undefined), gone]), ms, noAnswer).finally(() => lost.removeEventListener('abort', fail!))
}
