import type { Handler } from 'hono'
import type { LookupResult, OrderCache } from '../../cache/order-cache.js'
import type { Metrics } from '../../metrics.js'
import { errorJson, errorResponse } from '../errors.js'
import { ifNoneMatchHits } from '../etag.js'
import type { HttpLog } from '../log.js'
import { SECURITY_HEADERS } from '../middleware/security-headers.js'
import { responseCounter, type Tally } from '../middleware/request-metrics.js'
import { requestHeader, type AppEnv } from '../node-request.js'
import { ORDER_ID } from '../validation.js'

export const ORDER_PATH = '/order/*'
const PREFIX = '/order/'

const IMMUTABLE = 'public, max-age=31536000, immutable'
const JSON_TYPE = 'application/json; charset=utf-8'
const INVALID_ID = errorJson('invalid_id', 'An order id is 1 to 64 characters of A-Z a-z 0-9 _ -')
const NOT_FOUND = errorJson('not_found', 'No order has this id')

export interface OrderRouteDeps {
  cache: OrderCache
  metrics: Metrics
  tally: Tally
  log: HttpLog
}

/**
 * GET /order/:id, the hot path: the only handler on its path (Hono then skips middleware composition),
 * no JSON work on a hit, headers written out as one literal, metric children resolved once.
 * The id is taken from the decoded path, so an encoded slash stays `%2F` and fails the alphabet: 400.
 */
export function orderRoute({ cache, metrics, tally, log }: OrderRouteDeps): Handler<AppEnv> {
  const count = responseCounter(tally, metrics.httpRequests, 'GET', '/order/:id')
  const lookups = {
    hit: tally.counter(metrics.cacheLookups.labels('hit')),
    miss: tally.counter(metrics.cacheLookups.labels('miss')),
    absent: tally.counter(metrics.cacheLookups.labels('absent')),
  }

  const answer = (ifNoneMatch: string | undefined, result: LookupResult): Response => {
    switch (result.kind) {
      case 'hit':
      case 'loaded': {
        ;(result.kind === 'hit' ? lookups.hit : lookups.miss)()
        const { body, etag } = result.order
        if (ifNoneMatchHits(ifNoneMatch, etag)) {
          count(304)
          return new Response(null, { status: 304, headers: { etag, 'cache-control': IMMUTABLE, ...SECURITY_HEADERS } })
        }
        count(200)
        return new Response(body, {
          status: 200,
          headers: {
            'content-type': JSON_TYPE,
            'content-length': String(body.byteLength),
            etag,
            'cache-control': IMMUTABLE,
            ...SECURITY_HEADERS,
          },
        })
      }
      case 'absent':
        lookups.absent()
        count(404)
        return new Response(NOT_FOUND, { status: 404, headers: { 'content-type': JSON_TYPE, ...SECURITY_HEADERS } })
      case 'busy':
        count(503)
        return errorResponse(503, 'not_ready', 'Too many lookups of uncached orders; retry shortly', { 'retry-after': '1' })
      case 'unavailable':
        log.error({ err: result.error }, 'order lookup failed')
        count(503)
        return errorResponse(503, 'not_ready', 'The database is unavailable; retry shortly', { 'retry-after': '1' })
    }
  }

  return (c) => {
    const id = c.req.path.slice(PREFIX.length)
    if (!ORDER_ID.test(id)) {
      count(400)
      return new Response(INVALID_ID, { status: 400, headers: { 'content-type': JSON_TYPE, ...SECURITY_HEADERS } })
    }
    const ifNoneMatch = requestHeader(c, 'if-none-match')
    const result = cache.lookup(id)
    return result instanceof Promise ? result.then((settled) => answer(ifNoneMatch, settled)) : answer(ifNoneMatch, result)
  }
}
