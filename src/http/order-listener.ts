import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http'
import { getRequestListener } from '@hono/node-server'
import { isOrderId, type OrderAnswer, type OrderAnswers } from './order-answer.js'

/** Answers the request and returns true, or returns false having touched nothing (the request is someone else's). */
export type FastPath = (req: IncomingMessage, res: ServerResponse) => boolean

const PREFIX = '/order/'

/** What @hono/node-server calls: a Hono app's `fetch`. */
type FetchCallback = Parameters<typeof getRequestListener>[0]

/**
 * GET and HEAD /order/<id> answered straight on node:http, without the web Request and Response objects that
 * Hono and @hono/node-server build (a fifth of the hot path's cost); the answers are the Hono route's own
 * (order-answer.ts), so status, headers, body and metrics are the same on both paths.
 * It takes only ids that follow the id rule as they arrive: then the URL parser would leave the path as it is.
 * Anything else (%-escapes, dot segments, an extra slash, other methods) goes to Hono, which answers it as before.
 * Unlike Hono it does not check the Host header: an order lookup does not depend on it.
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
      const answer = answers.answerValid(id, req.headers['if-none-match'])
      if (answer instanceof Promise) answer.then((settled) => send(res, settled), (error: unknown) => fail(answers, req, res, error))
      else send(res, answer)
    } catch (error) {
      fail(answers, req, res, error)
    }
    return true
  }
}

/** node:http's listener: the fast path first, then the app through @hono/node-server (as its `serve` would). */
export function createRequestListener(app: { fetch: FetchCallback }, fastPath: FastPath, options: { hostname?: string } = {}): RequestListener {
  const hono = getRequestListener(app.fetch, options)
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
