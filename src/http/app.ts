import { Hono, type MiddlewareHandler } from 'hono'
import type { OrderCache } from '../cache/order-cache.js'
import type { Metrics } from '../metrics.js'
import type { DeadLetterStore } from '../store/dead-letters.js'
import type { OrderStore } from '../store/orders.js'
import { API, type ApiRoute } from './api.js'
import type { HttpLog } from './log.js'
import { adminAuth } from './middleware/admin-auth.js'
import { bodyLimit } from './middleware/body-limit.js'
import { errorHandler, notFoundHandler } from './middleware/error-handler.js'
import { hostCheck, hostRule, type AllowedHosts } from './middleware/host-check.js'
import { requestMetrics, responseCounter, Tally } from './middleware/request-metrics.js'
import { sameOriginOnly } from './middleware/same-origin.js'
import { securityHeaders } from './middleware/security-headers.js'
import type { AppEnv } from './node-request.js'
import { openApiRoute, openApiText } from './openapi.js'
import { createOrderAnswers, ORDER_PATH, orderRoute, type OrderAnswers } from './order-by-id.js'
import { deadLetterRoute, deadLettersRoute, replayRoute, type ReplayDeadLetter } from './routes/dead-letters.js'
import { redriveRoute, redriveStateRoute, type Redrives } from './routes/redrive.js'
import { healthRoute, metricsRoute, readyRoute, type Readiness } from './routes/health.js'
import { ordersRoute } from './routes/orders.js'
import { loadStaticFiles, staticRoute } from './routes/static.js'

export interface AppDeps {
  cache: OrderCache
  orders: Pick<OrderStore, 'recent'>
  deadLetters: Pick<DeadLetterStore, 'list' | 'get'>
  replayDeadLetter: ReplayDeadLetter
  /** Bulk re-drive (routes/redrive.ts); without it those routes are not served. */
  redrives?: Redrives
  metrics: Metrics
  readiness: () => Readiness
  /** ADMIN_TOKEN: when unset, the admin routes ({@link ADMIN_PATHS}) answer loopback clients only. */
  adminToken: string | undefined
  /** The Host names every route answers (allowedHosts() of host-check.ts): others get 421. */
  allowedHosts: AllowedHosts
  /** The folder the page is served from (read once, here). */
  staticDir: string
  log: HttpLog
}

/**
 * The app, and its GET /order/:id answers: the node:http listener (order-by-id.ts, createRequestListener) takes
 * both, so its fast path gives the app's own answers, counted in the app's tally.
 */
export interface OrderServiceApp {
  readonly app: Hono<AppEnv>
  readonly orderAnswers: OrderAnswers
}

/**
 * Every route at or under these paths is an admin route: route() puts the admin guard (the same-origin check, then
 * the token or the local-operator check) ahead of its handlers, whichever file the route comes from.
 * The newest orders are one: they enumerate the customers' orders; looking one up by its id stays open.
 */
export const ADMIN_PATHS: readonly string[] = ['/orders', '/dead-letters']

export const isAdminPath = (path: string): boolean => ADMIN_PATHS.some((admin) => path === admin || path.startsWith(`${admin}/`))

/** Replay takes no body: anything beyond a small bound is refused unread. */
const POST_BODY_MAX_BYTES = 1024

/**
 * The HTTP contract (README.md#endpoints) as a Hono app; it never listens (src/service.ts serves it, with
 * GET /order/:id answered ahead of Hono by the fast path of order-by-id.ts).
 * Every route but the hot one gets its middleware listed with it, rather than app-wide `use('*')`, so that
 * GET /order/:id stays a single handler (Hono's fastest dispatch) that writes its own headers and counts itself.
 */
export function createApp(deps: AppDeps): OrderServiceApp {
  const { metrics } = deps
  const app = new Hono<AppEnv>()
  const tally = new Tally()
  const isAllowedHost = hostRule(deps.allowedHosts)
  const knownHost = hostCheck(isAllowedHost)
  const sameOrigin = sameOriginOnly()
  const admin = adminAuth(deps.adminToken)
  /**
   * A route with the common middleware (security headers, request counting, the Host check) ahead of its own
   * handlers; a state-changing one also refuses other sites, and an admin one ({@link ADMIN_PATHS}) gets the admin guard.
   */
  const route = ({ method, path }: ApiRoute, label: string, ...handlers: MiddlewareHandler<AppEnv>[]) => {
    const counted = requestMetrics(responseCounter(tally, metrics.httpRequests, method, label))
    const guards = isAdminPath(path) ? [sameOrigin, admin] : method === 'POST' ? [sameOrigin] : []
    app.on(method, path, securityHeaders(), counted, knownHost, ...guards, ...handlers)
  }

  const orderAnswers = createOrderAnswers({ ...deps, tally, isAllowedHost })
  app.get(ORDER_PATH, orderRoute(orderAnswers))
  route(API.orders, API.orders.path, ordersRoute(deps.orders))

  route(API.deadLetters, API.deadLetters.path, deadLettersRoute(deps.deadLetters))
  route(API.deadLetter, API.deadLetter.path, deadLetterRoute(deps.deadLetters))
  route(API.replay, API.replay.path, bodyLimit(POST_BODY_MAX_BYTES), replayRoute(deps.replayDeadLetter))
  if (deps.redrives !== undefined) {
    route(API.redrive, API.redrive.path, bodyLimit(POST_BODY_MAX_BYTES), redriveRoute(deps.redrives))
    route(API.redriveState, API.redriveState.path, redriveStateRoute(deps.redrives))
  }

  route(API.health, API.health.path, healthRoute())
  route(API.ready, API.ready.path, readyRoute(deps.readiness))
  route(API.metrics, API.metrics.path, metricsRoute(metrics, tally, deps.cache))
  route(API.openapi, API.openapi.path, openApiRoute(openApiText()))

  for (const [path, file] of loadStaticFiles(deps.staticDir)) route({ ...API.page, path }, 'static', staticRoute(file))

  app.notFound(notFoundHandler(responseCounter(tally, metrics.httpRequests, 'ANY', 'unmatched'), isAllowedHost))
  app.onError(errorHandler(deps.log))
  return { app, orderAnswers }
}
