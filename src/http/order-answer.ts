import type { CachedOrder, LookupResult, OrderCache } from '../cache/order-cache.js'
import type { Metrics } from '../metrics.js'
import { errorJson, type ErrorCode } from './errors.js'
import { ifNoneMatchHits } from './etag.js'
import type { HttpLog } from './log.js'
import { SECURITY_HEADERS } from './middleware/security-headers.js'
import { responseCounter, type Tally } from './middleware/request-metrics.js'
import { ORDER_ID } from './validation.js'

/**
 * What GET /order/:id answers, in a form both servers of it write out as they are: the Hono route
 * (`new Response(body, { status, headers })`) and the node:http fast path (`res.writeHead(status, headers)`).
 * Every answer with a body carries its content-length, so @hono/node-server adds nothing and both send the same headers.
 */
export interface OrderAnswer {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  /** null for 304 (and the fast path leaves every body out for HEAD). */
  readonly body: Buffer | null
}

export type OrderAnswerOrPending = OrderAnswer | Promise<OrderAnswer>

/** GET /order/:id's decisions, made once for both servers; each call counts its request and cache lookup. */
export interface OrderAnswers {
  /** For an id as taken from the path: 400 invalid_id unless it follows the id rule. */
  answer(id: string, ifNoneMatch: string | undefined): OrderAnswerOrPending
  /** For an id the caller already checked with {@link isOrderId}. */
  answerValid(id: string, ifNoneMatch: string | undefined): OrderAnswerOrPending
  /** A request that failed unexpectedly (a bug): logged, and answered as the app's error handler does, 500 internal. */
  failed(error: unknown, method: string | undefined, path: string | undefined): OrderAnswer
}

export interface OrderAnswersDeps {
  cache: OrderCache
  metrics: Metrics
  tally: Tally
  log: HttpLog
}

const ORDER_ROUTE = '/order/:id'

const IMMUTABLE = 'public, max-age=31536000, immutable'
const JSON_TYPE = 'application/json; charset=utf-8'

export function isOrderId(id: string): boolean {
  return ORDER_ID.test(id)
}

export function createOrderAnswers({ cache, metrics, tally, log }: OrderAnswersDeps): OrderAnswers {
  const count = responseCounter(tally, metrics.httpRequests, 'GET', ORDER_ROUTE)
  const lookups = {
    hit: tally.counter(metrics.cacheLookups.labels('hit')),
    miss: tally.counter(metrics.cacheLookups.labels('miss')),
    absent: tally.counter(metrics.cacheLookups.labels('absent')),
  }
  const invalidId = errorAnswer(400, 'invalid_id', 'An order id is 1 to 64 characters of A-Z a-z 0-9 _ -')
  const notFound = errorAnswer(404, 'not_found', 'No order has this id')
  const busy = errorAnswer(503, 'not_ready', 'Too many lookups of uncached orders; retry shortly', { 'retry-after': '1' })
  const unavailable = errorAnswer(503, 'not_ready', 'The database is unavailable; retry shortly', { 'retry-after': '1' })
  const internal = errorAnswer(500, 'internal', 'Internal error')

  const settle = (ifNoneMatch: string | undefined, result: LookupResult): OrderAnswer => {
    switch (result.kind) {
      case 'hit':
      case 'loaded': {
        ;(result.kind === 'hit' ? lookups.hit : lookups.miss)()
        if (ifNoneMatchHits(ifNoneMatch, result.order.etag)) {
          count(304)
          return notModified(result.order)
        }
        count(200)
        return ok(result.order)
      }
      case 'absent':
        lookups.absent()
        count(404)
        return notFound
      case 'busy':
        count(503)
        return busy
      case 'unavailable':
        log.error({ err: result.error }, 'order lookup failed')
        count(503)
        return unavailable
    }
  }

  const answerValid = (id: string, ifNoneMatch: string | undefined): OrderAnswerOrPending => {
    const result = cache.lookup(id)
    return result instanceof Promise ? result.then((settled) => settle(ifNoneMatch, settled)) : settle(ifNoneMatch, result)
  }

  return {
    answer(id, ifNoneMatch) {
      if (isOrderId(id)) return answerValid(id, ifNoneMatch)
      count(400)
      return invalidId
    },
    answerValid,
    failed(error, method, path) {
      log.error({ err: error, method, path }, 'request failed')
      return internal
    },
  }
}

/** Written out key by key rather than spread from SECURITY_HEADERS: this object is built on every hit. */
function cachedHeaders(etag: string, contentLength: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': JSON_TYPE,
    etag,
    'cache-control': IMMUTABLE,
    'content-security-policy': SECURITY_HEADERS['content-security-policy'],
    'x-content-type-options': SECURITY_HEADERS['x-content-type-options'],
    'referrer-policy': SECURITY_HEADERS['referrer-policy'],
    'x-frame-options': SECURITY_HEADERS['x-frame-options'],
  }
  if (contentLength !== undefined) headers['content-length'] = contentLength
  return headers
}

function ok({ body, etag }: CachedOrder): OrderAnswer {
  return { status: 200, headers: cachedHeaders(etag, String(body.byteLength)), body }
}

/**
 * The content-type is repeated on 304 because caches update their stored headers from it, and without one
 * @hono/node-server would add its default, text/plain.
 */
function notModified({ etag }: CachedOrder): OrderAnswer {
  return {
    status: 304,
    headers: cachedHeaders(etag, undefined),
    body: null,
  }
}

/** A prebuilt error answer in the contract's JSON shape (the same body and headers as errorResponse, plus content-length). */
function errorAnswer(status: number, code: ErrorCode, message: string, extra: Record<string, string> = {}): OrderAnswer {
  const body = Buffer.from(errorJson(code, message))
  return {
    status,
    headers: { 'content-type': JSON_TYPE, 'content-length': String(body.byteLength), ...SECURITY_HEADERS, ...extra },
    body,
  }
}
