import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import type { Sql } from './db.js'

/** The channel sql/002_order_commit_notify.sql notifies: a comma-separated list of committed order ids. */
const CHANNEL = 'orders_committed'

export interface CommitHandlers {
  /** Orders committed by any instance (this one too), heard after their commit. */
  committed(orderUids: string[]): void
  /** Listening (again): commits made while nobody listened were not heard. */
  listening(): void
}

export interface CommitListener {
  close(): Promise<void>
}

/**
 * Hears of every order committed to the table, whichever instance wrote it. postgres.js keeps LISTEN on one
 * connection of its own, outside the pool, and listens again by itself when that connection is lost; each
 * (re)listen calls `listening`, since notifications sent in between are gone. Only the first LISTEN is retried
 * here, with backoff, until it succeeds or the listener is closed.
 */
export function listenForCommits(sql: Sql, handlers: CommitHandlers, log: Pick<Logger, 'warn'>): CommitListener {
  const stopped = new AbortController()
  let unlisten: (() => Promise<void>) | undefined
  const started = (async () => {
    for (let delay = 250; !stopped.signal.aborted; delay = Math.min(delay * 2, 5_000)) {
      try {
        const listened = await sql.listen(CHANNEL, (payload) => handlers.committed(payload.split(',')), handlers.listening)
        unlisten = listened.unlisten
        return
      } catch (error) {
        log.warn({ err: { message: (error as Error).message }, retryInMs: delay }, 'cannot listen for commits of other instances yet')
        await sleep(delay, undefined, { signal: stopped.signal }).catch(() => undefined)
      }
    }
  })()
  return {
    async close() {
      stopped.abort()
      await started
      await unlisten?.().catch(() => undefined)
    },
  }
}
