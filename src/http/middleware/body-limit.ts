import type { MiddlewareHandler } from 'hono'
import { bodyLimit as honoBodyLimit } from 'hono/body-limit'
import { errorResponse } from '../errors.js'

/** Refuses request bodies over maxBytes with 413 payload_too_large before any handler reads them. */
export function bodyLimit(maxBytes: number): MiddlewareHandler {
  return honoBodyLimit({
    maxSize: maxBytes,
    onError: () => errorResponse(413, 'payload_too_large', `The request body may be at most ${maxBytes} bytes`),
  })
}
