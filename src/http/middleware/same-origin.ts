import type { Context, MiddlewareHandler } from 'hono'
import { errorResponse } from '../errors.js'
import { requestHeader, requestHost, type AppEnv } from '../node-request.js'

/**
 * Against cross-site request forgery: a page on another site can make the operator's browser send a request here
 * (a form POST needs no permission), and without ADMIN_TOKEN the operator's loopback browser is the admin. Browsers
 * say where a request comes from: `Sec-Fetch-Site` (`cross-site`, `same-site` for another port or subdomain of
 * the same site) and `Origin` (sent with every POST and every cross-origin fetch). A request either marks as
 * foreign is refused with 403; clients that are not browsers send neither and are not affected.
 */
export function sameOriginOnly(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (isCrossSite(c)) {
      return errorResponse(403, 'forbidden', 'Admin routes and POST answer only the service\'s own page: this request comes from another site')
    }
    await next()
  }
}

const FOREIGN_FETCH_SITES = new Set(['cross-site', 'same-site'])

function isCrossSite(c: Context<AppEnv>): boolean {
  const site = requestHeader(c, 'sec-fetch-site')
  if (site !== undefined && FOREIGN_FETCH_SITES.has(site.toLowerCase())) return true
  const origin = requestHeader(c, 'origin')
  return origin !== undefined && !isOwnOrigin(origin, requestHost(c))
}

const DEFAULT_PORTS: Record<string, string> = { 'http:': '80', 'https:': '443' }

/** The Origin names the host the request was sent to (the Host header, already checked), on the same port. */
function isOwnOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined || !URL.canParse(origin) || !URL.canParse(`http://${host}`)) return false
  const sent = new URL(origin)
  const defaultPort = DEFAULT_PORTS[sent.protocol]
  if (defaultPort === undefined || sent.origin !== origin.toLowerCase()) return false
  const own = new URL(`http://${host}`)
  return sent.hostname === own.hostname && (sent.port || defaultPort) === (own.port || defaultPort)
}
