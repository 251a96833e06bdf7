import { OrderCache } from '../../src/cache/order-cache.js'
import { createApp, type AppDeps } from '../../src/http/app.js'
import type { Readiness } from '../../src/http/routes/health.js'
import { defaultStaticDir } from '../../src/http/routes/static.js'
import { createMetrics } from '../../src/metrics.js'
import { createDeadLetterStore } from '../../src/store/dead-letters.js'
import { createOrderStore } from '../../src/store/orders.js'
import type { TestDatabase } from '../support/postgres.js'

export { orderJson } from '../support/orders.js'

export const DEAD_LETTER_PAYLOAD_MAX_BYTES = 4096

/** Records what the app logs, so tests can see that an internal error was logged. */
export function recordingLog() {
  const entries: Array<{ level: string; details: object; message: string }> = []
  return {
    entries,
    error: (details: object, message: string) => void entries.push({ level: 'error', details, message }),
    warn: (details: object, message: string) => void entries.push({ level: 'warn', details, message }),
  }
}

/** The app over the real stores of a test database; anything can be overridden. */
export function buildApp(db: TestDatabase, overrides: Partial<AppDeps> = {}) {
  const orders = createOrderStore(db.sql)
  const deadLetters = createDeadLetterStore(db.sql, { maxPayloadBytes: DEAD_LETTER_PAYLOAD_MAX_BYTES })
  const cache = new OrderCache({ maxBytes: 1024 * 1024, store: orders })
  const metrics = createMetrics({ processMetrics: false })
  const readiness: Readiness = { database: true, subscription: true, cache: true }
  const log = recordingLog()
  const deps: AppDeps = {
    cache,
    orders,
    deadLetters,
    replayDeadLetter: async () => ({ outcome: 'not_found' }),
    metrics,
    readiness: () => ({ ...readiness }),
    adminToken: undefined,
    staticDir: defaultStaticDir,
    log,
    ...overrides,
  }
  const { app, orderAnswers } = createApp(deps)
  return { app, orderAnswers, orders, deadLetters, cache, metrics, readiness, log }
}

/** The env @hono/node-server passes, reduced to what the app reads: the peer's address. */
export const fromAddress = (remoteAddress: string) => ({ incoming: { socket: { remoteAddress } } })

export const SECURITY_HEADER_NAMES = ['content-security-policy', 'x-content-type-options', 'referrer-policy', 'x-frame-options']
