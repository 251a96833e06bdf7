/**
 * GET /order/:id, decided once: the answers (status, headers, body, counted), the Hono route that sends them,
 * and the node:http listener that sends the same answers ahead of Hono for the common case (a fifth of the hot
 * path's cost is the web Request and Response objects Hono needs). One module, so the two servers of the route
 * cannot drift apart.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http'
import { getRequestListener } from '@hono/node-server'
import type { Handler } from 'hono'
import type { CachedOrder, LookupResult, OrderCache } from '../cache/order-cache.js'
import { ORDER_UID_PATTERN } from '../ingest/order-schema.js'
import type { Metrics } from '../metrics.js'
import { errorJson, type ErrorCode } from './errors.js'
import { ifNoneMatchHits } from './etag.js'
import type { HttpLog } from './log.js'
import { HOST_REFUSED, type HostRule } from './middleware/host-check.js'
import { SECURITY_HEADERS } from './middleware/security-headers.js'
import { responseCounter, type Tally } from './middleware/request-metrics.js'
import { requestHeader, requestHost, type AppEnv } from './node-request.js'

const PREFIX = '/order/'

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

/**
 * GET /order/:id's decisions, made once for both servers; each call counts its request and cache lookup.
 * `host` is the request's Host header: 421 unknown_host unless allowed (middleware/host-check.ts), as on every route.
 */
export interface OrderAnswers {
  /** For an id as taken from the path: 400 invalid_id unless it follows the id rule. */
  answer(host: string | undefined, id: string, ifNoneMatch: string | undefined): OrderAnswerOrPending
  /** For an id the caller already checked with {@link isOrderId}. */
  answerValid(host: string | undefined, id: string, ifNoneMatch: string | undefined): OrderAnswerOrPending
  /** A request that failed unexpectedly (a bug): logged, and answered as the app's error handler does, 500 internal. */
  failed(error: unknown, method: string | undefined, path: string | undefined): OrderAnswer
}

export interface OrderAnswersDeps {
  cache: OrderCache
  metrics: Metrics
  tally: Tally
  log: HttpLog
  isAllowedHost: HostRule
}

const ORDER_ROUTE = '/order/:id'

const IMMUTABLE = 'public, max-age=31536000, immutable'
const JSON_TYPE = 'application/json; charset=utf-8'

/**
 * The order id rule, derived from the schema's pattern for `order_uid` (an id the gate would refuse can name no
 * stored order). The page's copy (static/js/order-id.js) is held to it by test/http/order-by-id.test.ts.
 */
export const ORDER_ID = new RegExp(ORDER_UID_PATTERN)

export function isOrderId(id: string): boolean {
  return ORDER_ID.test(id)
}

export function createOrderAnswers({ cache, metrics, tally, log, isAllowedHost }: OrderAnswersDeps): OrderAnswers {
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
  const unknownHost = errorAnswer(HOST_REFUSED.status, HOST_REFUSED.code, HOST_REFUSED.message)

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

  const lookUp = (id: string, ifNoneMatch: string | undefined): OrderAnswerOrPending => {
    const result = cache.lookup(id)
    return result instanceof Promise ? result.then((settled) => settle(ifNoneMatch, settled)) : settle(ifNoneMatch, result)
  }
  const refuseHost = (): OrderAnswer => {
    count(HOST_REFUSED.status)
    return unknownHost
  }

  return {
    answer(host, id, ifNoneMatch) {
      if (!isAllowedHost(host)) return refuseHost()
      if (isOrderId(id)) return lookUp(id, ifNoneMatch)
      count(400)
      return invalidId
    },
    answerValid: (host, id, ifNoneMatch) => (isAllowedHost(host) ? lookUp(id, ifNoneMatch) : refuseHost()),
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

// The Hono route.

export const ORDER_PATH = '/order/*'

/**
 * GET /order/:id through Hono: the only handler on its path (Hono then skips middleware composition).
 * The node:http fast path below answers most of these requests before Hono sees them; this route serves the
 * rest and app.request(), with the same answers.
 * The id is taken from the decoded path, so an encoded slash stays `%2F` and fails the alphabet: 400.
 */
export function orderRoute(answers: OrderAnswers): Handler<AppEnv> {
  return (c) => {
    const answer = answers.answer(requestHost(c), c.req.path.slice(PREFIX.length), requestHeader(c, 'if-none-match'))
    return answer instanceof Promise ? answer.then(toResponse) : toResponse(answer)
  }
}

function toResponse({ status, headers, body }: OrderAnswer): Response {
  return new Response(body, { status, headers })
}

// The node:http listener.

/** Answers the request and returns true, or returns false having touched nothing (the request is someone else's). */
export type FastPath = (req: IncomingMessage, res: ServerResponse) => boolean

/** What @hono/node-server calls: a Hono app's `fetch`. */
type FetchCallback = Parameters<typeof getRequestListener>[0]

/**
 * GET and HEAD /order/<id> answered straight on node:http, without the web Request and Response objects that
 * Hono and @hono/node-server build (a fifth of the hot path's cost); the answers are the Hono route's own
 * (createOrderAnswers above), so status, headers, body and metrics are the same on both paths.
 * It takes only ids that follow the id rule as they arrive: then the URL parser would leave the path as it is.
 * Anything else (%-escapes, dot segments, an extra slash, other methods) goes to Hono, which answers it as before.
 * The Host header is checked by the answers (a rebinding page must not read orders either).
 */
export function createOrderFastPath(answers: OrderAnswers): FastPath {
  return (req, res) => {
    const method = req.method
    const url = req.url
    if ((method !== 'GET' && method !== 'HEAD') || url === undefined || !url.startsWith(PREFIX)) return false
    const query = url.indexOf('?', PREFIX.length)
    const id = query === -1 ? url.slice(PREFIX.length) : url.slice(PREFIX.length, query)
    if (!isOrderId(id)) return false

    try {
      const answer = answers.answerValid(req.headers.host, id, req.headers['if-none-match'])
      if (answer instanceof Promise) answer.then((settled) => send(res, settled), (error: unknown) => fail(answers, req, res, error))
      else send(res, answer)
    } catch (error) {
      fail(answers, req, res, error)
    }
    return true
  }
}

/**
 * node:http's listener for the app: GET /order/:id answered ahead of Hono by the fast path, with `answers` (the
 * app's own: createApp returns both), then everything else through @hono/node-server (as its `serve` would).
 * `fastPath` replaces the one made from `answers` (tests observe its decisions).
 */
export function createRequestListener({
  app,
  answers,
  hostname,
  fastPath = createOrderFastPath(answers),
}: {
  app: { fetch: FetchCallback }
  answers: OrderAnswers
  hostname?: string
  fastPath?: FastPath
}): RequestListener {
  const hono = getRequestListener(app.fetch, hostname === undefined ? {} : { hostname })
  return (req, res) => {
    if (!fastPath(req, res)) void hono(req, res)
  }
}

/** node:http itself leaves the body out of a response to HEAD, keeping the headers (content-length included). */
function send(res: ServerResponse, { status, headers, body }: OrderAnswer): void {
  res.writeHead(status, headers)
  if (body === null) res.end()
  else res.end(body)
}

function fail(answers: OrderAnswers, req: IncomingMessage, res: ServerResponse, error: unknown): void {
  const answer = answers.failed(error, req.method, req.url)
  if (res.headersSent) res.destroy()
  else send(res, answer)
}
