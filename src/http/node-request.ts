import type { IncomingMessage } from 'node:http'
import type { Context } from 'hono'

/**
 * What @hono/node-server passes as the env: the Node request. Absent when the app runs elsewhere
 * (app.request() in tests without an env), which callers must treat as "unknown".
 */
export interface NodeBindings {
  incoming?: IncomingMessage
}

export type AppEnv = { Bindings: NodeBindings }

function incomingOf(c: Context<AppEnv>): IncomingMessage | undefined {
  return (c.env as NodeBindings | undefined)?.incoming
}

/** The TCP peer's address, or undefined when the request did not come through a Node socket. */
export function remoteAddress(c: Context<AppEnv>): string | undefined {
  return incomingOf(c)?.socket?.remoteAddress
}

/**
 * One request header (lower-case name). Reads Node's parsed headers when present: the web Request's
 * Headers object is built on first use, which the hot path avoids.
 */
export function requestHeader(c: Context<AppEnv>, name: string): string | undefined {
  const headers = incomingOf(c)?.headers
  if (headers !== undefined) {
    const value = headers[name]
    return Array.isArray(value) ? value.join(', ') : value
  }
  return c.req.header(name)
}

/**
 * The Host header. Through node:http, the header alone (a request without one has none, whatever URL
 * @hono/node-server made up for it); app.request() in tests sends none unless given: its URL's host stands in.
 */
export function requestHost(c: Context<AppEnv>): string | undefined {
  const headers = incomingOf(c)?.headers
  if (headers !== undefined) return headers.host
  return c.req.header('host') ?? new URL(c.req.url).host
}

/**
 * One request header read from node:http's raw list (`[name, value, …]` as received) as `IncomingMessage.headers`
 * gives it, without building that object of every header: `name` in lower case; a header that comes more than once
 * is either joined with ', ' (`join`, as for If-None-Match) or only its first value counts (`first`, as for Host).
 */
export function rawHeader(raw: readonly string[], name: string, repeated: 'first' | 'join'): string | undefined {
  let value: string | undefined
  for (let i = 0; i < raw.length; i += 2) {
    const field = raw[i]!
    if (field.length !== name.length || (field !== name && field.toLowerCase() !== name)) continue
    const next = raw[i + 1]!
    if (value === undefined) {
      value = next
      if (repeated === 'first') return value
    } else value += `, ${next}`
  }
  return value
}
