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
import { rawHeader, requestHeader, requestHost, type AppEnv } from './node-request.js'

const PREFIX = '/order/'

/**
 * What GET /order/:id answers, in a form both servers of it write out as they are: the Hono route
 * (`new Response(body, { status, headers })`) and the node:http fast path (`res.writeHead(status, rawHeaders)`).
 * Every answer with a body carries its content-length, so @hono/node-server adds nothing and both send the same headers.
 */
export type OrderAnswer = FoundOrder | FixedAnswer

/** The order, found: 200 with its body, or 304 (no body) when If-None-Match names its ETag. */
export interface FoundOrder {
  readonly status: 200 | 304
  readonly order: CachedOrder
}

/** Any other answer (the errors): built once, with its headers in both forms. */
export interface FixedAnswer {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  /** The same headers as node:http's raw list, `[name, value, name, value, …]`. */
  readonly rawHeaders: string[]
  readonly body: Buffer
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

  const found = (order: CachedOrder, ifNoneMatch: string | undefined): FoundOrder => {
    if (ifNoneMatchHits(ifNoneMatch, order.etag)) {
      count(304)
      return { status: 304, order }
    }
    count(200)
    return { status: 200, order }
  }

  const settle = (ifNoneMatch: string | undefined, result: LookupResult): OrderAnswer => {
    switch (result.kind) {
      case 'hit':
        lookups.hit()
        return found(result.order, ifNoneMatch)
      case 'loaded':
        lookups.miss()
        return found(result.order, ifNoneMatch)
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

  /** A cached order is taken with get(), which builds no result object; lookup() reads through on a miss. */
  const lookUp = (id: string, ifNoneMatch: string | undefined): OrderAnswerOrPending => {
    const cached = cache.get(id)
    if (cached !== undefined) {
      lookups.hit()
      return found(cached, ifNoneMatch)
    }
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

/**
 * The headers of a found order's answer as a raw list, etag and content-length left blank: a fresh copy for each
 * node:http listener, which fills the blanks in place for each response (orderHead), and the names and values the
 * Hono route copies into its Response.
 */
function orderHeaderList(): (string | number)[] {
  return [
    'content-type', JSON_TYPE,
    'etag', '',
    'cache-control', IMMUTABLE,
    'content-security-policy', SECURITY_HEADERS['content-security-policy'],
    'x-content-type-options', SECURITY_HEADERS['x-content-type-options'],
    'referrer-policy', SECURITY_HEADERS['referrer-policy'],
    'x-frame-options', SECURITY_HEADERS['x-frame-options'],
    // Last, so that a 304 (no content-length: it would describe a body not sent) is the list without its last pair.
    'content-length', 0,
  ]
}

const ETAG_AT = 3
const CONTENT_LENGTH_AT = 15

/**
 * The content-type is repeated on 304 because caches update their stored headers from it, and without one
 * @hono/node-server would add its default, text/plain.
 */
function foundHeaders({ status, order }: FoundOrder): Record<string, string> {
  const list = orderHeaderList()
  const headers: Record<string, string> = {}
  const end = status === 304 ? CONTENT_LENGTH_AT - 1 : list.length
  for (let i = 0; i < end; i += 2) headers[list[i] as string] = String(list[i + 1])
  headers.etag = order.etag
  if (status === 200) headers['content-length'] = String(order.body.byteLength)
  return headers
}

/** A prebuilt error answer in the contract's JSON shape (the same body and headers as errorResponse, plus content-length). */
function errorAnswer(status: number, code: ErrorCode, message: string, extra: Record<string, string> = {}): FixedAnswer {
  const body = Buffer.from(errorJson(code, message))
  const headers = { 'content-type': JSON_TYPE, 'content-length': String(body.byteLength), ...SECURITY_HEADERS, ...extra }
  return { status, headers, rawHeaders: Object.entries(headers).flat(), body }
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

function toResponse(answer: OrderAnswer): Response {
  if ('order' in answer) return new Response(answer.status === 200 ? answer.order.body : null, { status: answer.status, headers: foundHeaders(answer) })
  return new Response(answer.body, { status: answer.status, headers: answer.headers })
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
 * The Host header is checked by the answers (a rebinding page must not read orders either). The two headers it
 * reads are taken from the raw list: `req.headers` would build an object of every header first.
 */
export function createOrderFastPath(answers: OrderAnswers): FastPath {
  const send = answerWriter()
  return (req, res) => {
    const method = req.method
    const url = req.url
    if ((method !== 'GET' && method !== 'HEAD') || url === undefined || !url.startsWith(PREFIX)) return false
    const query = url.indexOf('?', PREFIX.length)
    const id = query === -1 ? url.slice(PREFIX.length) : url.slice(PREFIX.length, query)
    if (!isOrderId(id)) return false

    try {
      const raw = req.rawHeaders
      const answer = answers.answerValid(rawHeader(raw, 'host', 'first'), id, rawHeader(raw, 'if-none-match', 'join'))
      if (answer instanceof Promise) answer.then((settled) => send(res, settled), (error: unknown) => fail(answers, send, req, res, error))
      else send(res, answer)
    } catch (error) {
      fail(answers, send, req, res, error)
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

type AnswerWriter = (res: ServerResponse, answer: OrderAnswer) => void

/**
 * Writes answers on node:http. A found order's headers are filled into one raw list this writer owns (one for 200,
 * one for 304), and no object is built per response: writeHead turns the list into the response's head before it
 * returns, so the next response may fill it again. node:http itself leaves the body out of a response to HEAD,
 * keeping the headers (content-length included).
 */
function answerWriter(): AnswerWriter {
  const ok = orderHeaderList()
  const notModified = ok.slice(0, CONTENT_LENGTH_AT - 1)
  return (res, answer) => {
    if (!('order' in answer)) {
      res.writeHead(answer.status, answer.rawHeaders)
      res.end(answer.body)
      return
    }
    const { order } = answer
    if (answer.status === 304) {
      notModified[ETAG_AT] = order.etag
      res.writeHead(304, notModified)
      res.end()
      return
    }
    ok[ETAG_AT] = order.etag
    ok[CONTENT_LENGTH_AT] = order.body.byteLength
    res.writeHead(200, ok)
    res.end(order.body)
  }
}

function fail(answers: OrderAnswers, send: AnswerWriter, req: IncomingMessage, res: ServerResponse, error: unknown): void {
  const answer = answers.failed(error, req.method, req.url)
  if (res.headersSent) res.destroy()
  else send(res, answer)
}
