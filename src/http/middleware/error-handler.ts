import type { ErrorHandler, NotFoundHandler } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { DatabaseTimeoutError } from '../../store/bounded-pool.js'
import { ApiError, errorResponse, type ErrorCode } from '../errors.js'
import type { HttpLog } from '../log.js'
import { requestHost, type AppEnv } from '../node-request.js'
import { HOST_REFUSED, hostRefused, type HostRule } from './host-check.js'
import type { CountResponse } from './request-metrics.js'

const CODES_BY_STATUS: Record<number, ErrorCode> = {
  400: 'invalid_query',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  413: 'payload_too_large',
  503: 'not_ready',
}

/**
 * Errors meant for the client (ApiError, or Hono's own HTTPException) keep their status and get the JSON
 * shape; anything else is a bug: logged with the request, answered 500 `internal` without details.
 */
export function errorHandler(log: HttpLog): ErrorHandler<AppEnv> {
  return (error, c) => {
    if (error instanceof ApiError) return errorResponse(error.status, error.code, error.message, error.headers)
    if (error instanceof HTTPException && error.status < 500) {
      return errorResponse(error.status, CODES_BY_STATUS[error.status] ?? 'invalid_query', error.message || 'Bad request')
    }
    // The database did not answer within its bound (src/store/bounded-pool.ts): not a bug, a state that passes.
    if (error instanceof DatabaseTimeoutError) {
      log.warn({ err: error, method: c.req.method, path: c.req.path }, 'database timed out')
      return errorResponse(503, 'not_ready', 'The database is unavailable; retry shortly', { 'retry-after': '1' })
    }
    log.error({ err: error, method: c.req.method, path: c.req.path }, 'request failed')
    return errorResponse(500, 'internal', 'Internal error')
  }
}

/**
 * No route: 404 in the JSON shape (421 for a Host not allowed, as on every route), counted under one route label
 * so unknown paths cannot grow label sets.
 */
export function notFoundHandler(count: CountResponse, isAllowedHost: HostRule): NotFoundHandler<AppEnv> {
  return (c) => {
    if (!isAllowedHost(requestHost(c))) {
      count(HOST_REFUSED.status)
      return hostRefused()
    }
    count(404)
    return errorResponse(404, 'not_found', 'Not found')
  }
}
