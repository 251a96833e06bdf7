import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { SECURITY_HEADERS } from './middleware/security-headers.js'

/** The stable error codes of the HTTP contract (README.md#endpoints lists them all; the OpenAPI document too). */
export const ERROR_CODES = [
  'invalid_id',
  'not_found',
  'invalid_query',
  'invalid_body',
  'unauthorized',
  'forbidden',
  'unknown_host',
  'payload_too_large',
  'not_ready',
  'truncated',
  'internal',
] as const

export type ErrorCode = (typeof ERROR_CODES)[number]

/**
 * An error a route means to answer with: its status and a stable code, sent as
 * `{"error":{"code","message"}}` by the app's error handler.
 *
 * @example
 * throw new ApiError(400, 'invalid_query', 'limit must be from 1 to 100')
 */
export class ApiError extends HTTPException {
  constructor(
    status: ContentfulStatusCode,
    readonly code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(status, { message })
    this.name = 'ApiError'
  }
}

/** The error body as text; routes on the hot path keep theirs prebuilt. */
export function errorJson(code: ErrorCode, message: string): string {
  return JSON.stringify({ error: { code, message } })
}

/** A JSON error response carrying the security headers itself, so it is complete whichever path produced it. */
export function errorResponse(status: ContentfulStatusCode, code: ErrorCode, message: string, headers: Record<string, string> = {}): Response {
  return new Response(errorJson(code, message), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...SECURITY_HEADERS, ...headers },
  })
}
