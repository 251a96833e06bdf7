import type { Logger } from 'pino'

/**
 * Dead-letter retention (DEAD_LETTER_MAX_ROWS, DEAD_LETTER_RETENTION_DAYS): applied once at start-up, then every
 * `everyMs`. A failed round is logged and tried again at the next.
 */
export function startRetention(prune: () => Promise<number>, everyMs: number, log: Pick<Logger, 'info' | 'warn'>): { stop(): void } {
  const round = async () => {
    try {
      const removed = await prune()
      if (removed > 0) log.info({ removed }, 'dead-letter retention applied')
    } catch (error) {
      log.warn({ err: error }, 'dead-letter retention failed; next try at the next round')
    }
  }
  void round()
  const timer = setInterval(round, everyMs)
  return { stop: () => clearInterval(timer) }
}
