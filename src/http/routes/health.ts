import type { Handler } from 'hono'
import type { OrderCache } from '../../cache/order-cache.js'
import type { Metrics } from '../../metrics.js'
import type { Tally } from '../middleware/request-metrics.js'
import type { AppEnv } from '../node-request.js'

export interface Readiness {
  database: boolean
  subscription: boolean
  cache: boolean
}

/** GET /healthz : the process answers. */
export function healthRoute(): Handler<AppEnv> {
  return (c) => c.json({ status: 'ok' })
}

/** GET /readyz : 200 when the database answers, the subscription is live and the cache is warm; 503 otherwise. */
export function readyRoute(readiness: () => Readiness): Handler<AppEnv> {
  return (c) => {
    const checks = readiness()
    const ready = checks.database && checks.subscription && checks.cache
    return ready
      ? c.json({ status: 'ready', checks })
      : c.json({ status: 'not_ready', checks, error: { code: 'not_ready', message: 'Not ready: see checks' } }, 503)
  }
}

/** GET /metrics : Prometheus text; the request counts and the cache gauges are brought up to date first. */
export function metricsRoute(metrics: Metrics, tally: Tally, cache: OrderCache): Handler<AppEnv> {
  return async (c) => {
    tally.flush()
    const { entries, bytes } = cache.stats()
    metrics.cacheEntries.set(entries)
    metrics.cacheBytes.set(bytes)
    return c.body(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType })
  }
}
